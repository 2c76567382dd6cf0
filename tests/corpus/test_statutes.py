import datetime as dt
from pathlib import Path

import pytest

from corpus.errors import CorpusFormatError
from corpus.statutes import level_of_title, parse_statute, short_name_of
from tests.conftest import CORPUS

STATUTES = CORPUS / "statutes"


def _write(tmp_path: Path, body: str, front: str = 'title: "测试法"\ndoc_type: "法律"\nissuer: "测试"') -> Path:
    path = tmp_path / "测试法.md"
    path.write_text(f"---\n{front}\n---\n\n# 测试法\n\n{body}\n", encoding="utf-8")
    return path


def test_every_shipped_statute_parses_with_its_stated_article_count():
    files = sorted(STATUTES.glob("*.md"))
    assert len(files) == 42
    for path in files:
        statute = parse_statute(path)
        assert len(statute.articles) == statute.source.meta["article_count"], path.name
        assert statute.meta.effective is not None, path.name


def test_items_stay_with_their_paragraph():
    statute = parse_statute(STATUTES / "中华人民共和国法律援助法.md")
    art31 = next(a for a in statute.articles if a.number == 31)
    assert art31.label == "第三十一条"
    assert len(art31.paragraphs) == 1
    assert art31.paragraphs[0].items[3] == "（四）请求给付赡养费、抚养费、扶养费；"
    assert len(art31.paragraphs[0].items) == 9


def test_hierarchy_of_parts_chapters_and_sections():
    statute = parse_statute(STATUTES / "中华人民共和国民法典.md")
    art = next(a for a in statute.articles if a.number == 1067)
    assert art.path == ("第五编 婚姻家庭", "第三章 家庭关系", "第二节 父母子女关系和其他近亲属关系")
    assert len(art.paragraphs) == 2  # two 款
    assert "赡养费" in art.paragraphs[1].text


def test_metadata_level_region_and_dates():
    labour = parse_statute(STATUTES / "中华人民共和国劳动合同法.md").meta
    assert (labour.short_name, labour.level, labour.region) == ("劳动合同法", "law", "national")
    assert labour.effective == dt.date(2013, 7, 1)
    shandong = parse_statute(STATUTES / "山东省法律援助条例.md").meta
    assert (shandong.level, shandong.region) == ("local_regulation", "山东省")
    hangzhou = parse_statute(STATUTES / "杭州市法律援助条例.md").meta
    assert (hangzhou.region, hangzhou.locality) == ("浙江省", "杭州市")
    wage_rule = parse_statute(STATUTES / "工资支付暂行规定.md").meta
    assert wage_rule.level == "normative_document"  # a ministry's document, not a State Council regulation
    collective = parse_statute(STATUTES / "中华人民共和国农村集体经济组织法.md").meta
    assert collective.effective == dt.date(2025, 5, 1)
    assert collective.effective_basis == "commencement clause"


def test_short_names():
    assert short_name_of("中华人民共和国劳动合同法") == "劳动合同法"
    assert short_name_of("最高人民法院关于适用《中华人民共和国民法典》婚姻家庭编的解释（一）") == "民法典婚姻家庭编解释（一）"
    assert short_name_of("最高人民法院关于审理民间借贷案件适用法律若干问题的规定") == "民间借贷规定"


def test_level_from_title_for_benchmark_corpora():
    assert level_of_title("劳动合同法") == "law"
    assert level_of_title("社会救助暂行办法") == "departmental_rule"
    assert level_of_title("工伤保险条例") == "administrative_regulation"
    assert level_of_title("北京市物业管理条例") == "local_regulation"
    assert level_of_title("最高人民法院关于审理民间借贷案件适用法律若干问题的规定") == "judicial_interpretation"


def test_out_of_order_article_is_reported_with_its_line(tmp_path):
    path = _write(tmp_path, "第一条 一。\n\n第三条 三。\n\n第二条 二。")
    with pytest.raises(CorpusFormatError) as info:
        parse_statute(path)
    assert info.value.line == 13
    assert "第二条" in str(info.value) and str(path) in str(info.value)


def test_missing_front_matter_and_bad_yaml_name_the_line(tmp_path):
    path = tmp_path / "x.md"
    path.write_text("# 无前言\n第一条 一。\n", encoding="utf-8")
    with pytest.raises(CorpusFormatError) as info:
        parse_statute(path)
    assert info.value.line == 1
    bad = _write(tmp_path, "第一条 一。", front='title: "测试法"\ndoc_type: [unclosed')
    with pytest.raises(CorpusFormatError) as info:
        parse_statute(bad)
    assert info.value.line is not None and info.value.line >= 2


def test_wrong_article_count_and_unknown_type_are_refused(tmp_path):
    counted = _write(tmp_path, "第一条 一。", front='title: "测试法"\ndoc_type: "法律"\narticle_count: 2')
    with pytest.raises(CorpusFormatError, match="article_count"):
        parse_statute(counted)
    odd = _write(tmp_path, "第一条 一。", front='title: "测试法"\ndoc_type: "小道消息"')
    with pytest.raises(CorpusFormatError, match="doc_type"):
        parse_statute(odd)


def test_no_articles_and_binary_garbage_are_refused(tmp_path):
    with pytest.raises(CorpusFormatError, match="no articles"):
        parse_statute(_write(tmp_path, "只有一段话。"))
    garbage = tmp_path / "g.md"
    garbage.write_bytes(b"---\ntitle: x\n---\n\xff\xfe\xfa")
    with pytest.raises(CorpusFormatError, match="UTF-8"):
        parse_statute(garbage)
