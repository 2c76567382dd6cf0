"""A question citing an article gets that article quoted first: the composer, the actions' context, the CLI.

Real corpus, real index (tests/conftest.py); the conversation context comes from a real rasa-sdk ``Tracker``
with the slots a previous answer set. The messages are the team's own.
"""

import asyncio
import json

import pytest
from click.testing import CliRunner
from rasa_sdk import Tracker

from bot.actions import answer_in_context
from bot.answers import SHORT_LIMIT, AnswerComposer, load_reply_texts
from bot.cli import main

pytestmark = pytest.mark.slow

LC30 = "《中华人民共和国劳动合同法》第三十条"
LC38 = "《中华人民共和国劳动合同法》第三十八条"


@pytest.fixture(scope="module")
def composer(corpus_retriever):
    return AnswerComposer(corpus_retriever, load_reply_texts())


def test_a_cited_article_is_quoted_first(composer):
    answer = composer.answer("劳动合同法第30条是怎么规定的")
    assert answer.confident and answer.card is None and answer.citations[0] == LC30
    assert f"{LC30}：“用人单位应当按照劳动合同约定和国家规定" in answer.text and len(answer.text) <= SHORT_LIMIT


def test_a_cited_article_wins_over_a_card_that_would_answer_the_words(composer):
    words = "儿子不给养老钱怎么办"
    assert composer.answer(words).card is not None  # without the citation a card answers
    answer = composer.answer(f"民法典1067条 {words}")
    assert answer.card is None and answer.citations[0] == "《中华人民共和国民法典》第一千零六十七条"
    assert "《中华人民共和国民法典》第一千零六十七条：“" in answer.text


def test_a_repealed_law_is_said_to_be_with_its_successor(composer):
    answer = composer.answer("婚姻法第三十二条 感情不和能离婚吗")
    assert answer.text.startswith("《中华人民共和国婚姻法》已于2021年1月1日废止")
    assert "现行规定见《中华人民共和国民法典》" in answer.text and len(answer.text) <= SHORT_LIMIT


def test_an_article_asked_alone_is_of_the_law_the_last_answer_cited(composer):
    assert composer.is_follow_up("第三十八条")
    answer = composer.answer("第三十八条", context=(LC30,))
    assert answer.citations[0] == LC38
    follow = composer.follow_up("那第三十八条呢", "劳动合同法第三十条是什么", topic="wages", context=(LC30,))
    assert follow.kind == "answer" and follow.citations[0] == LC38


def _tracker(text: str, **slots) -> Tracker:
    return Tracker("citations-test", slots, {"text": text, "intent": {"name": "wages"}}, [], False, None, {}, None)


def test_the_action_takes_the_law_from_the_last_citations_slot(composer):
    first, events = asyncio.run(answer_in_context(composer, "劳动合同法第三十条", _tracker("劳动合同法第三十条"), "wages"))
    assert first.citations[0] == LC30
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert slots["last_citations"].split("|")[0] == LC30
    then = _tracker("第三十八条", last_question="劳动合同法第三十条", last_card=None,
                    last_citations=slots["last_citations"])
    second, events = asyncio.run(answer_in_context(composer, "第三十八条", then, "wages"))
    assert second.citations[0] == LC38 and f"{LC38}：“" in second.text
    assert any(e.get("name") == "last_citations" and e["value"].startswith(LC38) for e in events)


def test_lawline_search_lists_the_cited_article_first(corpus_index, monkeypatch, tmp_path):
    monkeypatch.setenv("LAWLINE_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("LAWLINE_INDEX_DIR", str(corpus_index[0]))
    monkeypatch.setenv("LAWLINE_DATABASE_URL", f"sqlite:///{corpus_index[0].parent / 'db.sqlite3'}")
    monkeypatch.setenv("LAWLINE_EMBEDDING_MODEL", "use-multilingual-v3")
    runner = CliRunner()
    result = runner.invoke(main, ["search", "劳动合同法第三十条", "--top", "3", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output.strip().splitlines()[-1])
    assert payload["hits"][0]["citation"] == LC30 and payload["hits"][0]["cited"]
    assert payload["citations"][0]["status"] == "found"
    alone = runner.invoke(main, ["search", "第三十八条", "--top", "1", "--context", LC30])
    assert alone.output.startswith(f"1. {LC38}  [article] cited")
    repealed = runner.invoke(main, ["search", "合同法第五十二条", "--top", "1"])
    assert repealed.output.startswith("《中华人民共和国合同法》已于2021年1月1日废止")


def test_bench_retrieval_reports_the_share_of_citations_found_at_rank_1(tmp_path, monkeypatch):
    monkeypatch.setenv("LAWLINE_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("LAWLINE_EMBEDDING_MODEL", "use-multilingual-v3")
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"id": "a21", "law": "中华人民共和国劳动合同法", "article_no": "第二十一条", "text": "劳动合同法第三十条 试用期 劳动报酬"},
        {"id": "a30", "law": "中华人民共和国劳动合同法", "article_no": "第三十条", "text": "用人单位应当及时足额支付劳动报酬。"},
        {"id": "b30", "law": "中华人民共和国民法典", "article_no": "第三十条", "text": "限制民事行为能力人……"},
    ]), encoding="utf-8")
    citations = tmp_path / "citations.jsonl"
    citations.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"id": "1", "query": "劳动合同法第三十条", "law": "中华人民共和国劳动合同法", "article": "第三十条"},
        {"id": "2", "query": "第30条", "context": [LC30], "law": "中华人民共和国劳动合同法", "article": "第三十条"},
        {"id": "3", "query": "民法典第三十条", "law": "中华人民共和国劳动合同法", "article": "第三十条"},  # wrong on purpose
        {"id": "4", "query": "合同法第五十二条", "repealed": "中华人民共和国合同法", "successor": "中华人民共和国民法典"},
        {"id": "5", "query": "合同第三十条", "context": [LC30]},
    ]), encoding="utf-8")
    queries = tmp_path / "queries.jsonl"
    queries.write_text(json.dumps({"id": "q", "query": "工资不按时发", "relevant": ["a30"]}, ensure_ascii=False),
                       encoding="utf-8")
    runner = CliRunner()
    alone = runner.invoke(main, ["bench", "retrieval", "--corpus", str(corpus), "--citations", str(citations), "--json"])
    assert alone.exit_code == 0, alone.output
    metrics = json.loads(alone.output.strip().splitlines()[-1])
    assert metrics["citations@1"] == pytest.approx(2 / 3, abs=1e-4)
    assert metrics["citations_repealed"] == 1.0 and metrics["citations_none"] == 1.0
    assert "wrong: 3: 民法典第三十条" in alone.output
    both = runner.invoke(main, ["bench", "retrieval", "--corpus", str(corpus), "--queries", str(queries),
                                "--citations", str(citations), "--json"])
    keys = set(json.loads(both.output.strip().splitlines()[-1]))
    assert {"recall@1", "recall@5", "recall@10", "recall@20", "mrr@10", "p50_ms", "p95_ms", "index_build_s",
            "peak_rss_mb", "citations@1", "citations_repealed", "citations_none"} == keys
    neither = runner.invoke(main, ["bench", "retrieval", "--corpus", str(corpus)])
    assert neither.exit_code == 2 and "give --queries, --citations, --cases or several" in neither.output
