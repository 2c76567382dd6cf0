"""The engine, clause by clause: the team's cases file (every clause of the issue) and the means test."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bot.eligibility import InputError, decide, parse_input
from bot.eligibility.rules import DEFAULT_RULES_DIR, MATTER_CODES, STATUS_CODES

CASES = [json.loads(line) for line in (DEFAULT_RULES_DIR / "bench_cases.jsonl").read_text("utf-8").splitlines()
         if line.strip()]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_every_clause_as_the_team_wrote_it(case, rules):
    got = decide(parse_input(case["input"], rules), rules).to_audit()
    for key, expected in case["expect"].items():
        assert got[key] == expected, key
    assert got["rules_version"] == rules.rules_version
    assert got["explanation"].endswith("以上是初步判断，以法律援助机构审查为准。")


def test_the_cases_cover_every_clause_of_the_issue():
    basis = {b for case in CASES for b in case["expect"]["basis"]}
    for item in "一二三四五六七八":
        assert f"法律援助法第三十一条第{item}项" in basis
    for item in "一二三四":
        assert f"法律援助法第三十二条第{item}项" in basis
    for item in "一二三":
        assert f"法律援助法第四十二条第{item}项" in basis
    assert {"法律援助法第三十三条", "法律援助法第三十四条", "法律援助法第四十四条第一项", "法律援助法第四十四条第二项",
            "法律援助法第二十四条", "法律援助法第二十五条第一款第一项", "山东省法律援助条例第八条第一款",
            "浙江省法律援助条例第八条第二款"} <= basis
    matters = {c["input"]["matter"] for c in CASES}
    statuses = {s for c in CASES for s in c["input"]["statuses"]}
    assert matters == set(MATTER_CODES) and statuses == set(STATUS_CODES)
    assert {c["expect"]["decision"] for c in CASES} == {"eligible", "not_eligible", "needs_review"}
    assert {c["expect"]["means_test"] for c in CASES} == {"exempt", "unknown", "not_required"}


def _input(**values):
    base = {"province": "测试省", "matter": "support_payment", "has_lawyer": False,
            "household_monthly_income_per_capita": None, "statuses": []}
    return {**base, **values}


def _shipped(**values):
    return _input(**{"province": "山东", **values})


@pytest.mark.parametrize(("income", "area", "on", "decision", "means", "threshold"), [
    (800, None, dt.date(2025, 1, 1), "eligible", "passed", "1000"),
    (1000, None, dt.date(2025, 1, 1), "eligible", "passed", "1000"),
    (1000.5, None, dt.date(2025, 1, 1), "not_eligible", "failed", "1000"),
    (1400, "甲县", dt.date(2025, 1, 1), "eligible", "passed", "1500"),
    (1400, "甲县", dt.date(2020, 6, 1), "not_eligible", "failed", "1000"),  # the county figure not yet in force
    (1100, None, dt.date(2031, 1, 1), "eligible", "passed", "1200"),  # the newer province-wide figure
    (None, None, dt.date(2025, 1, 1), "needs_review", "unknown", None),
])
def test_a_configured_figure_decides_the_means_test(rules_with_figures, income, area, on, decision, means, threshold):
    raw = _input(household_monthly_income_per_capita=income, area=area)
    got = decide(parse_input(raw, rules_with_figures), rules_with_figures, today=on)
    assert (got.decision, got.means_test) == (decision, means)
    assert got.basis[0] == "法律援助法第三十一条第四项"
    assert "测试省法律援助条例第八条第二款" in got.basis
    if threshold is not None:
        assert f"每人每月{threshold}元" in got.explanation
    if means == "passed":
        assert "法律援助法第四十一条" in got.basis
    if income is None:
        assert "还不知道您家每人每月的收入" in got.explanation


def test_no_figure_before_the_first_one_is_in_force(rules_with_figures):
    got = decide(parse_input(_input(household_monthly_income_per_capita=10), rules_with_figures), rules_with_figures,
                 today=dt.date(2019, 1, 1))
    assert (got.decision, got.means_test) == ("needs_review", "unknown")
    assert "测试省这个区县的数字没有录入" in got.explanation


def test_failed_means_test_in_a_criminal_case_still_goes_to_review(rules_with_figures):
    raw = _input(matter="criminal_defense", household_monthly_income_per_capita=5000)
    got = decide(parse_input(raw, rules_with_figures), rules_with_figures, today=dt.date(2025, 1, 1))
    assert (got.decision, got.means_test) == ("needs_review", "failed")
    assert "其他原因" in got.explanation


def test_shipped_rules_never_claim_a_figure(rules):
    for province in rules.provinces.values():
        assert province.hardship is None or province.hardship.thresholds == ()
    for name in ("重庆", "福建"):
        assert not rules.province(name).configured
    assert rules.province("山东").configured and rules.province("浙江省").configured


def test_urgency_is_recorded_with_the_decision(rules):
    inp = parse_input(_input(province="重庆", statuses=["elderly_without_income"],
                             urgency=["preservation_needed", "deadline_within_7_days"]), rules)
    got = decide(inp, rules)
    assert got.urgent == ("deadline_within_7_days", "preservation_needed")
    assert got.basis[-2:] == ("法律援助法第四十四条第一项", "法律援助法第四十四条第二项")
    assert "先行提供法律援助" in got.explanation


@pytest.mark.parametrize(("raw", "field"), [
    ([], "input"),
    ({"province": "山东"}, "matter"),
    (_shipped(province="湖南"), "province"),
    (_shipped(province=3), "province"),
    (_shipped(matter="divorce"), "matter"),
    (_shipped(statuses=["poor"]), "statuses"),
    (_shipped(statuses="migrant_worker"), "statuses"),
    (_shipped(has_lawyer="no"), "has_lawyer"),
    (_shipped(household_monthly_income_per_capita=-1), "household_monthly_income_per_capita"),
    (_shipped(household_monthly_income_per_capita="800"), "household_monthly_income_per_capita"),
    (_shipped(household_monthly_income_per_capita=True), "household_monthly_income_per_capita"),
    (_shipped(household_monthly_income_per_capita=float("nan")), "household_monthly_income_per_capita"),
    (_shipped(household_monthly_income_per_capita=1e12), "household_monthly_income_per_capita"),
    (_shipped(urgency=["tomorrow"]), "urgency"),
    (_shipped(retrial="yes"), "retrial"),
    (_shipped(work_injury=1), "work_injury"),
    (_shipped(area="x" * 51), "area"),
    (_shipped(surprise=1), "surprise"),
])
def test_malformed_input_names_the_field(rules, raw, field):
    with pytest.raises(InputError) as caught:
        parse_input(raw, rules)
    assert caught.value.field == field


def test_equal_inputs_give_equal_decisions(rules):
    raw = _input(province="山东", statuses=["migrant_worker", "elderly_without_income"], matter="personal_injury",
                 work_injury=True)
    first = decide(parse_input(raw, rules), rules)
    again = decide(parse_input({**raw, "statuses": list(reversed(raw["statuses"]))}, rules), rules)
    assert first == again
    assert first.basis == ("法律援助法第三十一条第七项", "法律援助法第四十二条第一项", "法律援助法第四十二条第三项")
