"""Explicit citations resolve to the article itself, first, through the one search path (real index, jieba, FAISS).

The citation forms are the team's own (tests/data/retrieval/citations.jsonl, written for this; not from any
evaluation set).
"""

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest

from corpus.numerals import cn_to_int
from retrieval.bench import citation_right, load_citations
from retrieval.citations import (
    CitationResolver,
    CitationTables,
    Repeal,
    article_label,
    load_citation_tables,
)
from retrieval.documents import Document, Filters, format_citation
from retrieval.index import RetrievalIndex
from retrieval.retriever import Retriever

pytestmark = pytest.mark.slow

CITATIONS = Path(__file__).resolve().parent.parent / "data" / "retrieval" / "citations.jsonl"
CASES = load_citations(CITATIONS)
LC = "中华人民共和国劳动合同法"


def test_numerals_both_ways():
    for number in (1, 10, 11, 20, 30, 101, 110, 1000, 1067, 1260, 9999):
        assert cn_to_int(article_label(number)[1:-1]) == number
        assert cn_to_int(str(number)) == number
    assert article_label(1067) == "第一千零六十七条" and article_label(105) == "第一百零五条"
    assert article_label(30, 1) == "第三十条之一" and cn_to_int("两") == 2
    with pytest.raises(ValueError):
        cn_to_int("三十a")


def test_the_team_set_covers_every_form_over_laws_in_the_corpus(corpus_retriever):
    forms = {c.form for c in CASES}
    assert len(CASES) >= 60
    assert {"full_title", "short_name", "arabic", "arabic_without_di", "large_chinese_numeral", "paragraph",
            "paragraph_item", "interpretation", "abbreviation", "context", "repealed"} <= forms
    titles = {d.law for d in corpus_retriever.documents if d.kind == "article"}
    labels = {(d.law, d.label) for d in corpus_retriever.documents if d.kind == "article"}
    assert all((c.law, c.article) in labels for c in CASES if c.article)
    assert all(c.successor in titles for c in CASES if c.repealed)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.id}-{c.form}")
def test_every_citation_of_the_team_set_comes_out_right(corpus_retriever, case):
    assert citation_right(corpus_retriever, case), [h.citation for h in corpus_retriever.search(
        case.text, k=3, context=case.context)]


def test_the_cited_article_comes_first_and_is_said_to_be_cited(corpus_retriever):
    hits = corpus_retriever.search("劳动合同法第三十条", k=5)
    assert hits[0].citation == "《中华人民共和国劳动合同法》第三十条" and hits[0].cited and hits[0].confidence == 1.0
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5] and not any(h.cited for h in hits[1:])
    assert len({h.document.id for h in hits}) == 5
    assert hits[0].to_json()["cited"] is True


def test_two_articles_cited_come_first_in_the_order_asked(corpus_retriever):
    hits = corpus_retriever.search("劳动合同法第四十六条和第三十八条有啥区别", k=4)
    assert [h.citation for h in hits[:2]] == ["《中华人民共和国劳动合同法》第四十六条", "《中华人民共和国劳动合同法》第三十八条"]


def test_paragraph_and_item_are_kept_and_the_article_is_returned(corpus_retriever):
    [res] = corpus_retriever.citations.resolve("劳动合同法第三十八条第一款第（二）项")
    assert res.status == "found" and res.document.label == "第三十八条"
    assert (res.citation.paragraph, res.citation.item) == (1, 2)


def test_an_article_alone_takes_the_law_of_the_conversation(corpus_retriever):
    assert not any(h.cited for h in corpus_retriever.search("第三十八条", k=3))
    hits = corpus_retriever.search("那第三十八条呢", k=3, context=(format_citation(LC, "第三十条"),))
    assert hits[0].citation == "《中华人民共和国劳动合同法》第三十八条" and hits[0].cited
    # A card's citations: the law whose cited article has that number wins over the first one.
    context = ("《中华人民共和国民法典》第一千零六十七条", "《中华人民共和国老年人权益保障法》第十九条")
    assert corpus_retriever.search("第十九条呢", k=1, context=context)[0].citation == \
        "《中华人民共和国老年人权益保障法》第十九条"


def test_what_is_not_a_citation_of_the_corpus_pins_nothing_even_with_a_law_in_context(corpus_retriever):
    context = (format_citation(LC, "第三十条"),)
    for text in ("刑法第二十条 正当防卫", "合同第5条写着试用期半年", "我们村规民约第三条", "从村口数第三条路是我家的"):
        assert not corpus_retriever.search(text, k=3, context=context)[0].cited, text
    [res] = corpus_retriever.citations.resolve("刑法第二十条", context=context)
    assert res.status == "unknown_law" and res.citation.named == "刑法" and res.document is None
    assert corpus_retriever.citations.resolve("俺家门口有两条路") == []


def test_an_article_number_the_law_does_not_have_is_said(corpus_retriever):
    [res] = corpus_retriever.citations.resolve("劳动合同法第一百二十条")
    assert res.status == "no_such_article" and res.document is None
    assert res.notice() == "《中华人民共和国劳动合同法》没有第一百二十条，请核对条号。"
    assert not corpus_retriever.search("劳动合同法第一百二十条", k=1)[0].cited


def test_a_repealed_law_is_said_to_be_with_its_successor_and_its_source(corpus_retriever):
    [res] = corpus_retriever.citations.resolve("婚姻法第三十二条 感情破裂")
    assert res.status == "repealed" and res.document is None
    assert res.notice() == ("《中华人民共和国婚姻法》已于2021年1月1日废止（依据：《中华人民共和国民法典》第一千二百六十条），"
                            "现行规定见《中华人民共和国民法典》。")
    # 劳动合同法 is not 合同法: the longer name wins.
    assert corpus_retriever.citations.resolve("劳动合同法第三十条")[0].status == "found"


def test_filters_still_hold_for_a_cited_article(corpus_retriever):
    cards = corpus_retriever.search("劳动合同法第三十条", k=3, filters=Filters(kinds=frozenset({"card"})))
    assert all(h.document.kind == "card" and not h.cited for h in cards)
    [res] = corpus_retriever.citations.resolve("山东省法律援助条例第八条", filters=Filters(region="浙江省"))
    assert res.status == "excluded"
    assert corpus_retriever.citations.resolve("山东省法律援助条例第八条", filters=Filters(region="山东省"))[0].document


def test_every_editors_name_points_at_a_law_in_the_corpus_or_the_repealed_table(corpus_retriever):
    tables = load_citation_tables()
    titles = {d.law for d in corpus_retriever.documents if d.kind == "article"}
    assert set(tables.aliases.values()) <= titles | set(tables.repealed)
    assert {r.successor for r in tables.repealed.values()} <= titles
    assert all(r.source for r in tables.repealed.values())


def _article(source: str, title: str, label: str, text: str, effective: dt.date, ends: dt.date | None = None,
             short: str | None = None) -> Document:
    return Document(id=f"{source}#{label}", kind="article", title=title, citation=format_citation(title, label),
                    text=text, label=label, law=title, short_name=short or title.removeprefix("中华人民共和国"),
                    level="law", effective=effective, ends=ends)


@pytest.fixture(scope="module")
def versions(use_encoder, analyzer):
    """Two versions of one law, a law of the corpus repealed without a table entry, and one that is listed."""
    docs = [
        _article("old.md", LC, "第三十条", "旧文本：用人单位应当按时支付劳动报酬。", dt.date(2008, 1, 1), dt.date(2013, 7, 1)),
        _article("new.md", LC, "第三十条", "新文本：用人单位应当按照劳动合同约定和国家规定，及时足额支付劳动报酬。",
                 dt.date(2013, 7, 1)),
        _article("new.md", LC, "第三十条之一", "插入的一条。", dt.date(2013, 7, 1)),
        _article("gone.md", "中华人民共和国某某法", "第一条", "已经废止的法。", dt.date(2000, 1, 1), dt.date(2020, 1, 1)),
        _article("marriage.md", "中华人民共和国婚姻法", "第三十二条", "男女一方要求离婚的……", dt.date(1981, 1, 1),
                 dt.date(2021, 1, 1)),
        _article("code.md", "中华人民共和国民法典", "第一千零七十九条", "夫妻一方要求离婚的……", dt.date(2021, 1, 1)),
    ]
    index, _ = RetrievalIndex.build(docs, use_encoder, "use-multilingual-v3", analyzer, {}, "test")
    return Retriever(index, use_encoder, analyzer)


def test_the_version_in_force_is_returned_and_an_earlier_day_gets_the_earlier_one(versions):
    assert versions.search("劳动合同法第三十条", k=1)[0].document.id == "new.md#第三十条"
    on_2010 = versions.search("劳动合同法第三十条", k=1, filters=Filters(on=dt.date(2010, 1, 1)))
    assert on_2010[0].document.id == "old.md#第三十条" and on_2010[0].cited
    history = versions.search("劳动合同法第三十条", k=1, filters=Filters(include_historical=True))
    assert history[0].document.id == "new.md#第三十条"
    assert versions.search("劳动合同法第30条之一", k=1)[0].document.id == "new.md#第三十条之一"


def test_a_repealed_law_in_the_corpus_is_said_so_with_the_successor_the_table_names(versions):
    [listed] = versions.citations.resolve("婚姻法第三十二条")
    assert listed.status == "repealed" and listed.repeal.successor == "中华人民共和国民法典"
    assert not versions.search("婚姻法第三十二条", k=1)[0].cited
    [unlisted] = versions.citations.resolve("某某法第一条")
    assert unlisted.repeal == Repeal("中华人民共和国某某法", dt.date(2020, 1, 1), None, "")
    assert unlisted.notice() == "《中华人民共和国某某法》已于2020年1月1日废止。"
    before = versions.citations.resolve("婚姻法第三十二条", filters=Filters(on=dt.date(2019, 5, 1)))
    assert before[0].status == "found" and before[0].document.id == "marriage.md#第三十二条"


def test_a_name_two_laws_share_is_not_guessed_unless_the_editors_say():
    docs = [_article("a.md", "浙江省法律援助条例", "第八条", "甲", dt.date(2016, 1, 1), short="法律援助条例"),
            _article("b.md", "山东省法律援助条例", "第八条", "乙", dt.date(2015, 1, 1), short="法律援助条例")]
    empty = CitationTables({}, {})
    assert CitationResolver(docs, empty).resolve("法律援助条例第八条")[0].status == "unknown_law"
    assert CitationResolver(docs, empty).resolve("山东省法律援助条例第八条")[0].document.id == "b.md#第八条"
    told = dataclasses.replace(empty, aliases={"法律援助条例": "浙江省法律援助条例"})
    assert CitationResolver(docs, told).resolve("法律援助条例第八条")[0].document.id == "a.md#第八条"


def test_a_malformed_table_line_names_its_file_and_line(tmp_path):
    (tmp_path / "law_aliases.tsv").write_text("# 注释\n土地承包法\t中华人民共和国农村土地承包法\n只有一列\n", encoding="utf-8")
    (tmp_path / "repealed_laws.tsv").write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match=r"law_aliases.tsv:3: expected 2"):
        load_citation_tables(tmp_path)
    (tmp_path / "law_aliases.tsv").write_text("", encoding="utf-8")
    (tmp_path / "repealed_laws.tsv").write_text("中华人民共和国婚姻法\t2021-13-01\t中华人民共和国民法典\t依据\n",
                                                encoding="utf-8")
    with pytest.raises(ValueError, match=r"repealed_laws.tsv:1: '2021-13-01' is not a date"):
        load_citation_tables(tmp_path)


def test_the_team_set_is_valid_json_lines():
    lines = CITATIONS.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(CASES) and all(json.loads(line)["id"] for line in lines)
    assert len({c.id for c in CASES}) == len(CASES)
