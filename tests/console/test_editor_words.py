"""What editors read, checked without the app: an amendment's article-by-article comparison, the audit log's
words, Beijing time, which resident messages are questions, and the hit test's plain bands."""

import datetime as dt

import pytest

from bot.console.amendments import Entry, compare, missing_checks
from bot.console.audit_names import ACTION_NAMES, describe
from bot.console.feedback import is_real_question
from bot.console.plain import certainty, intent_name, relevance
from bot.console.times import beijing


def _law(*texts: str, start: int = 1) -> list[Entry]:
    return [Entry(f"第{n}条", "第一章 总则", text) for n, text in enumerate(texts, start)]


def test_an_amendment_is_compared_article_by_article_with_a_diff_each():
    old = _law("甲条文。", "乙条文十五日。", "丙条文。", "丁条文。")
    new = _law("甲条文。", "乙条文三十日。", "丙条文。")
    changes, unchanged = compare(old, new)
    assert [(c.kind, c.label) for c in changes] == [("changed", "第2条"), ("removed", "第4条")]
    assert unchanged == 2
    html = "".join(line.html for line in changes[0].diff)
    assert "<del>十五</del><ins>三十</ins>" in html
    assert "<del>丁条文。</del>" in "".join(line.html for line in changes[1].diff)


def test_an_inserted_article_renumbers_the_rest_instead_of_changing_them_all():
    old = _law("甲。", "乙。", "丙。", "丁。")
    new = _law("甲。", "新增的一条。", "乙。", "丙。", "丁。")
    changes, unchanged = compare(old, new)
    assert [(c.kind, c.label, c.old_label) for c in changes] == [
        ("added", "第2条", ""), ("renumbered", "第3条", "第2条"), ("renumbered", "第4条", "第3条"),
        ("renumbered", "第5条", "第4条")]
    assert unchanged == 1


def test_approving_needs_a_tick_for_every_change_and_one_for_the_renumbered():
    from bot.console.amendments import AmendmentReview

    old = _law("甲。", "乙。", "丙。")
    new = _law("甲改。", "插入。", "乙。", "丙。")
    changes, unchanged = compare(old, new)
    review = AmendmentReview("某法", None, "statutes/x.md", None, changes, unchanged)
    assert review.keys == ["changed:第1条", "added:第2条", "renumbered"]
    assert [c.key for c in missing_checks(review, ["changed:第1条"])] == ["added:第2条", "renumbered", "renumbered"]
    assert missing_checks(review, review.keys) == []
    assert missing_checks(None, []) == []


def test_times_are_beijing_time_and_say_so():
    noon_utc = dt.datetime(2026, 1, 31, 16, 30, tzinfo=dt.UTC)
    assert beijing(noon_utc) == "2026-02-01 00:30（北京时间）"
    assert beijing(noon_utc.replace(tzinfo=None), "%H:%M", zone=False) == "00:30"  # SQLite's naive UTC
    assert beijing("2026-01-31T16:30:00+00:00") == "2026-02-01 00:30（北京时间）"  # an index's built_at
    assert beijing(None) == "—"


def test_the_audit_log_says_every_action_in_chinese():
    line = describe("draft.approve", "draft:12", {"kind": "statute_file", "target": "statutes/中华人民共和国劳动法.md",
                                                  "checked": 3})
    assert line.action == "审核通过" and line.target == "草稿 #12"
    assert line.details == ("类型：新法规/修正", "内容：中华人民共和国劳动法", "逐条核对的条文：3 条")
    failed = describe("login.failed", "account:zhang", {"reason": "wrong name or password", "address": "ab12"})
    assert failed.action == "登录失败" and failed.target == "账号 zhang" and "原因：用户名或密码不对" in failed.details
    moved = describe("case.transfer", "ticket:7", {"target": "hotline", "to": None})
    assert moved.target == "案件 #7" and moved.details == ("转到：12348 热线", "转给：（按目录分派）")
    role = describe("account.update", "account:li", {"role": ["editor", "reviewer"], "active": False})
    assert role.details == ("角色：编辑 → 审核员", "启用：否")
    assert describe("something.new", "", {"x": 1}).action == "（未知：something.new）"


def test_every_action_the_code_writes_has_a_chinese_name():
    """Fails when a new ``audit(..., "x.y", ...)`` call appears without a name in ``ACTION_NAMES``."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    written: set[str] = set()
    for path in [*root.joinpath("bot").rglob("*.py"), *root.joinpath("handoff").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        written |= set(re.findall(r"audit\(\s*session,\s*[^,]+,\s*\"([a-z_.]+)\"", text))
    written |= {f"case.{a}" for a in ("claim", "reply", "transfer", "close", "report_danger")}
    written |= {"feedback.attached", "feedback.dismissed", "draft.create", "draft.withdraw", "draft.reject",
                "draft.approve"}
    assert written - set(ACTION_NAMES) == set()
    assert len(written) > 20


@pytest.mark.parametrize("text", ["你好", "您好！", "谢谢啦～", "好的", "1", " 2 ", "👍", "没用", "转人工", "[表情]",
                                  "在吗？", "ok", "嗯嗯", "a"])
def test_chatter_is_not_a_question(text):
    assert not is_real_question(text)


@pytest.mark.parametrize("text", ["欠薪", "离婚", "老板不给工资怎么办", "劳动合同法第30条", "儿子不给赡养费咋办"])
def test_questions_are_questions(text):
    assert is_real_question(text)


def test_the_hit_test_says_scores_in_words():
    assert intent_name("wages") == "工资报酬（欠薪）" and intent_name("new_intent") == "其他（new_intent）"
    assert certainty(0.93) == "很有把握" and certainty(0.6) == "比较有把握" and certainty(0.2) == "拿不准"
    assert relevance(0.9, 0.2) == "很相关" and relevance(0.3, 0.2) == "相关"
    assert relevance(0.1, 0.2).startswith("不太相关")
