from pathlib import Path

import pytest

from retrieval.text import load_analyzer


def test_legal_terms_stay_whole(analyzer):
    words = analyzer.segment("用人单位拖欠劳动报酬，劳动者可以申请劳动争议仲裁")
    assert "劳动报酬" in words
    assert "用人单位" in words


def test_stopwords_and_punctuation_are_dropped(analyzer):
    words = analyzer.segment("请问，我该怎么办呢？？")
    assert "请问" not in words and "怎么办" not in words and "？" not in words


def test_colloquial_words_expand_to_statute_terms(analyzer):
    terms = analyzer.query("儿子不给养老钱")
    assert "养老钱" in terms.matched
    assert "赡养费" in terms.expansions
    wages = analyzer.query("包工头跑了工钱找谁要")
    assert "劳动报酬" in wages.expansions or "工资" in wages.expansions


def test_full_width_and_case_are_normalised(analyzer):
    assert analyzer.terms("ＡＢＣ１２３") == analyzer.terms("abc123")


def test_very_long_query_is_bounded(analyzer):
    terms = analyzer.query("工资" * 5000)
    assert len(terms.terms) < 5000


def test_malformed_table_names_file_and_line(tmp_path):
    data = Path(__file__).resolve().parents[2] / "retrieval" / "data"
    for name in ("legal_terms.txt", "stopwords.txt"):
        (tmp_path / name).write_text((data / name).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "colloquial.tsv").write_text("# header\n工钱\t劳动报酬\n没有制表符的行\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"colloquial.tsv:3"):
        load_analyzer(tmp_path)
