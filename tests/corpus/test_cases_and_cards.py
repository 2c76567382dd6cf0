import datetime as dt
from collections import Counter

import pytest

from corpus.cards import parse_card
from corpus.cases import parse_case
from corpus.errors import CorpusFormatError
from tests.conftest import CORPUS


def test_every_case_parses_with_topic_and_sections():
    files = sorted((CORPUS / "cases").glob("*.md"))
    assert len(files) == 58
    topics = Counter(parse_case(p).topic for p in files)
    assert topics == {"wages": 25, "dispute": 19, "support": 7, "land": 7}


def test_guiding_case_sections():
    case = parse_case(next((CORPUS / "cases").glob("wages-01-*.md")))
    assert case.case_number == "指导案例28号"
    assert case.date == dt.date(2014, 6, 23)
    assert "包工头" in case.holding
    assert "分包" in case.facts


def test_month_only_date_is_kept_as_first_of_month():
    case = parse_case(next((CORPUS / "cases").glob("wages-11-*.md")))
    assert case.date == dt.date(2020, 9, 1)


def test_fifty_eight_cards_across_the_four_topics_each_with_its_scope():
    cards = [parse_card(p) for p in sorted((CORPUS / "cards").rglob("*.yaml"))]
    assert len(cards) == 58
    assert Counter(c.topic for c in cards) == {"wages": 19, "support": 12, "land": 13, "dispute": 14}
    assert len({c.id for c in cards}) == 58
    assert all(c.citations and c.next_steps and c.where_to_go for c in cards)
    assert all(3 <= len(c.not_for) <= 12 and 3 <= len(c.questions) <= 12 for c in cards)


def test_the_new_cards_are_first_versions_awaiting_review():
    new = [parse_card(p) for p in sorted((CORPUS / "cards").rglob("*.yaml"))]
    new = [c for c in new if c.updated == dt.date(2026, 12, 1)]
    assert len(new) >= 10
    assert all(c.version == 1 and not c.reviewed for c in new)


def _card(tmp_path, body: str):
    folder = tmp_path / "cards" / "wages"
    folder.mkdir(parents=True)
    path = folder / "wages-test.yaml"
    path.write_text(body, encoding="utf-8")
    return path


GOOD = """id: wages-test
topic: wages
title: 工钱没给
questions:
  - 工钱没给咋办
not_for:
  - 包工头跑了找谁
  - 老板打了欠条
  - 干活受伤了
answer: |
  先留好证据。
next_steps:
  - 留证据
where_to_go:
  - 人社局
citations:
  - law: 中华人民共和国劳动合同法
    article: 第三十条
version: 1
updated: 2026-11-23
reviewed: false
"""


def test_card_parses(tmp_path):
    card = parse_card(_card(tmp_path, GOOD))
    assert card.citations[0].article == "第三十条"
    assert card.citations[0].line == 18
    assert card.not_for == ("包工头跑了找谁", "老板打了欠条", "干活受伤了")


@pytest.mark.parametrize(
    ("change", "line"),
    [
        (("article: 第三十条", "article: 三十"), 18),
        (("topic: wages", "topic: tax"), 2),
        (("id: wages-test", "id: Wages_Test"), 1),
        (("where_to_go:\n  - 人社局\n", "where_to_go: []\n"), 14),
        # The scope: required, 3–12 questions, none twice, none a question the card answers.
        (("not_for:\n  - 包工头跑了找谁\n  - 老板打了欠条\n  - 干活受伤了\n", ""), 6),
        (("  - 老板打了欠条\n  - 干活受伤了\n", ""), 6),
        (("  - 干活受伤了\n", "  - 干活受伤了\n" + "".join(f"  - 别的问题{i}\n" for i in range(10))), 6),
        (("  - 干活受伤了\n", "  - 包工头跑了找谁\n"), 9),
        (("  - 老板打了欠条\n", "  - 工钱没给，咋办？\n"), 8),
        (("not_for:\n", "not_for: 包工头跑了\n"), 6),
    ],
)
def test_bad_card_names_the_line(tmp_path, change, line):
    with pytest.raises(CorpusFormatError) as info:
        parse_card(_card(tmp_path, GOOD.replace(*change)))
    assert info.value.line == line
