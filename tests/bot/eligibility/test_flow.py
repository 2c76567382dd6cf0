"""The form's logic without Rasa: which questions, reading typed answers, the answers in words."""

from __future__ import annotations

import pytest

from bot.eligibility.flow import FORM_SLOTS, load_flow

BASE = {"elig_urgency": "none", "elig_matter": "labor_relation_or_remuneration", "elig_stage": "not_started",
        "elig_province": "重庆", "elig_place": "黔江区", "elig_has_lawyer": "no"}


@pytest.fixture(scope="module")
def flow(rules):
    return load_flow(rules)


def test_questions_come_one_at_a_time_in_order(flow):
    assert flow.required_slots({}) == list(FORM_SLOTS[:6])
    assert flow.required_slots({**BASE, "elig_has_lawyer": "yes"}) == list(FORM_SLOTS[:6])


def test_only_what_the_decision_needs(flow):
    # wages: no 第三十二条 situation concerns it, so the special-situation question is skipped
    assert flow.required_slots(BASE)[-1] == "elig_identity"
    assert flow.required_slots({**BASE, "elig_identity": "migrant_worker"})[-1] == "elig_identity"  # exempt: done
    assert flow.required_slots({**BASE, "elig_identity": "none"})[-1] == "elig_income"
    other = {**BASE, "elig_matter": "other_civil", "elig_province": "浙江"}
    assert flow.required_slots(other)[-1] == "elig_special"
    assert flow.required_slots({**other, "elig_special": "abuse_or_domestic_violence_victim"})[-1] == "elig_special"
    # not covered in 浙江 and no 第三十二条 situation: neither the statuses nor the income can change that
    assert flow.required_slots({**other, "elig_special": "none"})[-1] == "elig_special"


def test_options_follow_the_matter(flow):
    titles = [o.title for o in flow.options("elig_identity", BASE)]
    assert "进城打工的（讨工钱或工伤）" in titles and titles[-1] == "都不是"
    support = [o.code for o in flow.options("elig_identity", {**BASE, "elig_matter": "support_payment"})]
    assert "migrant_worker" not in support
    injury = [o.code for o in flow.options("elig_identity", {**BASE, "elig_matter": "work_injury"})]
    assert "migrant_worker" in injury
    criminal = [o.code for o in flow.options("elig_special", {**BASE, "elig_matter": "state_compensation"})]
    assert criminal == ["retrial_acquittal", "none"]
    assert [o.code for o in flow.options("elig_province", {})] == ["重庆", "山东", "浙江", "福建", "其他省份"]


@pytest.mark.parametrize(("slot", "typed", "stored"), [
    ("elig_urgency", "下个礼拜就开庭了", "deadline_within_7_days"),
    ("elig_urgency", "1 2", "deadline_within_7_days,preservation_needed"),
    ("elig_urgency", "不急", "none"),
    ("elig_urgency", "1 3", None),  # "不急" together with something else
    ("elig_matter", "老板欠了三个月工钱", "labor_relation_or_remuneration"),
    ("elig_matter", "在工地干活摔断了腿", "work_injury"),
    ("elig_matter", "儿子不给养老的钱", "support_payment"),
    ("elig_matter", "12", "other_civil"),
    ("elig_matter", "13", None),
    ("elig_matter", "今天天气好", None),
    ("elig_stage", "法院决定再审了", "retrial"),
    ("elig_province", "山东省", "山东"),
    ("elig_province", "外省", "其他省份"),
    ("elig_place", "黔江区", "黔江区"),
    ("elig_place", "在黔江区", "黔江区"),
    ("elig_place", "不清楚", "unknown"),
    ("elig_place", "x", None),
    ("elig_has_lawyer", "没有", "no"),
    ("elig_has_lawyer", "请不起", "no"),
    ("elig_has_lawyer", "请了一个", "yes"),
    ("elig_identity", "我是低保户", "social_assistance_recipient"),
    ("elig_identity", "1、7", "social_assistance_recipient,migrant_worker"),
    ("elig_identity", "都不是", "none"),
    ("elig_identity", "social_assistance_recipient,migrant_worker", "social_assistance_recipient,migrant_worker"),
    ("elig_income", "一千五", "1500"),
    ("elig_income", "每人每月八百块左右", "800"),
    ("elig_income", "说不清", "unknown"),
    ("elig_income", "几百", None),
    ("elig_income", "两百万", None),
    ("elig_income", "", None),
])
def test_reading_typed_answers(flow, slot, typed, stored):
    assert flow.interpret(slot, typed, BASE) == stored


def test_answers_become_the_engine_input_and_words(flow):
    values = {**BASE, "elig_matter": "work_injury", "elig_urgency": "preservation_needed",
              "elig_identity": "migrant_worker", "elig_stage": "retrial"}
    inp = flow.to_input(values)
    assert (inp.matter, inp.work_injury, inp.retrial, inp.area) == ("personal_injury", True, True, "黔江区")
    assert inp.statuses == {"migrant_worker"} and inp.urgency == {"preservation_needed"}
    words = dict(flow.answer_labels(values))
    assert words["什么事"] == "工伤赔偿" and words["身份"] == "进城打工的（讨工钱或工伤）"
    assert words["区县"] == "黔江区"
