"""What a typed message means while the self-check asks: stored, asked back, a question of its own, or stopping.

Messages written by the team for these tests (not from any measurement or held-out set).
"""

from __future__ import annotations

import pytest

from bot.eligibility.flow import load_flow
from bot.eligibility.turns import NOT_MEANT, Turn, take_turn

SUPPORT = {"elig_urgency": "none", "elig_matter": "support_payment", "elig_stage": "not_started",
           "elig_province": "重庆", "elig_place": "黔江区", "elig_has_lawyer": "no"}
ABUSE = "abuse_or_domestic_violence_victim"


@pytest.fixture(scope="module")
def flow(rules):
    return load_flow(rules)


def _turn(flow, slot, text, intent="elig_answer", guess=None, values=None):
    values = dict(SUPPORT if values is None else values)
    values[slot] = None
    return take_turn(flow, slot, text, values, intent=intent, guess=guess)


@pytest.mark.parametrize(("slot", "text", "intent", "expected"), [
    # A hint at an option that skips the means test is asked back, never stored.
    ("elig_special", "闺女也不管我", "support", Turn("confirm", ABUSE)),
    ("elig_special", "没有家暴，就是不给钱", "support", Turn("confirm", "none")),  # negated: not 家暴
    ("elig_special", "老公动手打我", "dispute", Turn("store", ABUSE)),  # said plainly
    ("elig_special", "都不是", "elig_answer", Turn("store", "none")),
    # One-character words only brush an option: 地 in 工地 is not 土地承包.
    ("elig_matter", "在工地干活摔断了腿", "wages", Turn("store", "work_injury")),
    ("elig_matter", "俺家那块地叫别人种了", "land", Turn("store", "land_contract")),  # the NLU's topic agrees
    ("elig_matter", "俺家那块地叫别人种了", "dispute", Turn("confirm", "land_contract")),
    ("elig_stage", "还没去法院", "elig_answer", Turn("confirm", "not_started")),  # two options named
    # A legal question of the resident's own pauses the check, even when it brushes an option's word.
    ("elig_stage", "欠条丢了还能要钱吗", "dispute", Turn("side_question")),
    ("elig_stage", "已经过了两年了，还能告吗", "dispute", Turn("side_question")),
    ("elig_urgency", "我那个老板一直拖着工钱", "wages", Turn("side_question")),  # names no option
    ("elig_place", "我儿子不给钱我该告他", "support", Turn("side_question")),
    # At 为了什么事 a legal question is the matter, unless it says it is a question of its own or asks one.
    ("elig_matter", "儿子不给俺老两口生活费", "support", Turn("store", "support_payment")),
    ("elig_matter", "顺便问一句 儿子不给俺老两口生活费", "support", Turn("side_question")),
    ("elig_stage", "老板拖欠的工钱还能要回来不", "wages", Turn("side_question")),  # 不 at the end asks
    ("elig_matter", "邻居占了俺家的宅基地能告他不", "land", Turn("side_question")),
    ("elig_stage", "2", "dispute", Turn("store", "in_proceedings")),  # a number is an answer
    ("elig_stage", "欠条丢了还能要钱吗", "elig_answer", Turn("invalid")),  # not a legal question for the NLU
    # Giving up in other words stops it; a plain 没有 that answers the question is an answer.
    ("elig_urgency", "先这样", "goodbye", Turn("stop")),
    ("elig_stage", "不用了", "deny", Turn("stop")),
    ("elig_has_lawyer", "没有", "deny", Turn("store", "no")),
    ("elig_stage", "好了接着来", "elig_resume", Turn("go_on")),
    ("elig_place", "黔江", "elig_answer", Turn("confirm", "黔江")),  # no 区/县: asked back
    ("elig_place", "黔江区", "elig_answer", Turn("store", "黔江区")),
    ("elig_place", "那就接着上面那个来吧", "elig_resume", Turn("go_on")),  # never stored as a place
])
def test_what_a_message_in_the_check_means(flow, slot, text, intent, expected):
    assert _turn(flow, slot, text, intent) == expected


def test_the_answer_to_a_guess(flow):
    asked = {"slot": "elig_special", "guess": ABUSE}
    assert _turn(flow, text="对的", **asked) == Turn("store", ABUSE)
    assert _turn(flow, text=ABUSE, **asked) == Turn("store", ABUSE)  # the 是 button
    assert _turn(flow, text="不对", intent="deny", **asked) == Turn("declined")
    assert _turn(flow, text=NOT_MEANT, **asked) == Turn("declined")  # the 不是 button
    assert _turn(flow, text="都不是", **asked) == Turn("store", "none")  # a fresh answer instead
    assert _turn(flow, "elig_place", "是", guess="黔江") == Turn("store", "黔江")
    assert _turn(flow, "elig_place", NOT_MEANT) == Turn("invalid")  # 不是 with nothing asked


def test_the_guess_is_shown_in_the_options_words(flow):
    values = {**SUPPORT, "elig_special": None}
    assert flow.titles("elig_special", ABUSE, values) == "被虐待、遗弃或者家暴"
    assert flow.titles("elig_urgency", "deadline_within_7_days,preservation_needed", values) == (
        "不到7天就到期、要马上保全财产或证据")
