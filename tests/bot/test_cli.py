"""The ``lawline`` command end to end, in-process through click's runner, on real SQLite and a real index."""

import json
import shutil

import click
import pytest
from click.testing import CliRunner

from bot.cli import main
from tests.conftest import CORPUS


def _commands(group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))


@pytest.mark.parametrize("path", [(), *_commands(main)], ids=lambda p: " ".join(p) or "lawline")
def test_every_command_has_help(path):
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("LAWLINE_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("LAWLINE_DATABASE_URL", raising=False)
    monkeypatch.delenv("LAWLINE_INDEX_DIR", raising=False)
    monkeypatch.setenv("LAWLINE_EMBEDDING_MODEL", "use-multilingual-v3")
    return tmp_path


def _small_corpus(tmp_path):
    root = tmp_path / "data"
    (root / "statutes").mkdir(parents=True)
    (root / "cards" / "wages").mkdir(parents=True)
    for name in ("中华人民共和国劳动合同法.md", "保障农民工工资支付条例.md", "中华人民共和国老年人权益保障法.md"):
        shutil.copy(CORPUS / "statutes" / name, root / "statutes" / name)
    shutil.copy(CORPUS / "cards" / "wages" / "wages-contractor-absconded.yaml", root / "cards" / "wages")
    return root


def test_import_reports_a_broken_file_with_its_line_and_exits_1(env):
    root = _small_corpus(env)
    (root / "statutes" / "坏.md").write_text('---\ntitle: "坏法"\ndoc_type: "法律"\n---\n只有序言\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["corpus", "import", str(root)])
    assert result.exit_code == 1
    assert "坏.md:5: no articles found" in result.output
    assert "added 4" in result.output


def test_check_writes_nothing_and_describes_the_law(env):
    root = _small_corpus(env)
    result = CliRunner().invoke(main, ["corpus", "check", str(root / "statutes" / "保障农民工工资支付条例.md")])
    assert result.exit_code == 0, result.output
    assert "ok statute 保障农民工工资支付条例" in result.output and "64 articles" in result.output
    assert not (env / "var").exists()


def test_import_build_search_and_status(env):
    root = _small_corpus(env)
    runner = CliRunner()
    assert runner.invoke(main, ["corpus", "import", str(root)]).exit_code == 0
    built = runner.invoke(main, ["index", "build"])
    assert built.exit_code == 0, built.output
    assert "0 reused" in built.output
    again = runner.invoke(main, ["index", "build"])
    assert "0 encoded" in again.output
    result = runner.invoke(main, ["search", "在工地干活老板不给工钱", "--top", "5", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output.strip().splitlines()[-1])
    citations = " ".join(h["citation"] + " ".join(h["cites"]) for h in payload["hits"])
    assert "保障农民工工资支付条例" in citations
    assert all(0 <= h["confidence"] <= 1 for h in payload["hits"])
    text = runner.invoke(main, ["search", "在工地干活老板不给工钱"])
    assert "《保障农民工工资支付条例》第" in text.output
    status = runner.invoke(main, ["index", "status"])
    assert "current" in status.output


def test_search_without_an_index_says_what_to_do(env):
    result = CliRunner().invoke(main, ["search", "工资"])
    assert result.exit_code == 1
    assert "lawline index build" in result.output


def test_bench_retrieval_prints_metrics_and_a_json_last_line(env):
    corpus = env / "corpus.jsonl"
    rows = [
        {"id": "a1", "law": "劳动合同法", "article_no": "第三十条", "text": "用人单位应当向劳动者及时足额支付劳动报酬。", "x": 1},
        {"id": "a2", "law": "民法典", "article_no": "第一千零六十七条", "text": "成年子女不履行赡养义务的，父母有要求成年子女给付赡养费的权利。"},
        {"id": "a3", "law": "农村土地承包法", "article_no": "第三十一条", "text": "妇女结婚，发包方不得收回其原承包地。"},
    ]
    corpus.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    queries = env / "queries.jsonl"
    queries.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in [
        {"id": "q1", "query": "老板欠工资不给", "relevant": ["a1"]},
        {"id": "q2", "query": "嫁出去的闺女承包地被收回", "relevant": ["a3"]},
    ]), encoding="utf-8")
    result = CliRunner().invoke(main, ["bench", "retrieval", "--corpus", str(corpus), "--queries", str(queries),
                                       "--top", "3", "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output.strip().splitlines()[-1])
    assert set(metrics) == {"recall@1", "recall@5", "recall@10", "recall@20", "mrr@10", "p50_ms", "p95_ms",
                            "index_build_s", "peak_rss_mb"}
    assert metrics["recall@5"] == 1.0


def test_bench_refuses_a_malformed_corpus_line(env):
    corpus = env / "corpus.jsonl"
    corpus.write_text('{"id": "a", "law": "x", "article_no": "第一条", "text": "t"}\n{broken\n', encoding="utf-8")
    queries = env / "q.jsonl"
    queries.write_text('{"id": "q", "query": "x", "relevant": ["a"]}\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["bench", "retrieval", "--corpus", str(corpus), "--queries", str(queries)])
    assert result.exit_code == 1
    assert "corpus.jsonl:2: not JSON" in result.output
