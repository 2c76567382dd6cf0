"""The decision engine: a pure function of the input, the rules and the day. No I/O, no guesses.

The order follows the statute:

1. a lawyer already engaged → not eligible (法律援助法第三十一条: 没有委托代理人; 第二十四条 for defence);
2. 第三十二条 (and provincial equivalents): no means test for the matters those situations concern;
3. criminal defence: 第二十五条第一款 (mandatory appointment, e.g. minors), else 第二十四条 with the means test;
4. the matter: 第三十三条 (retrial), 第三十一条 items, a province's added matters; else not covered — or, when
   the province is not configured, unknown (needs review);
5. the means test: 第四十二条 waives it; else the province's standard (第三十四条) with a configured figure,
   or ``unknown`` (needs review) when there is no figure or no income. A figure is never guessed;
6. 第四十四条: urgency is recorded with every decision that can lead to aid.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from bot.eligibility.model import CheckInput, Decision
from bot.eligibility.rules import STATUS_CODES, ProvinceRules, Rules, Situation

__all__ = ["decide"]


@dataclass
class _Draft:
    decision: str
    means_test: str
    basis: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def add(self, basis: list[str], reasons: list[str]) -> None:
        for item in basis:
            if item not in self.basis:
                self.basis.append(item)
        self.reasons.extend(r for r in reasons if r)


def _ordered(codes: frozenset[str]) -> list[str]:
    return [code for code in STATUS_CODES if code in codes]


def _fmt_amount(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.2f}"


def _no_means_test(inp: CheckInput, rules: Rules, province: ProvinceRules) -> list[Situation]:
    found = []
    for code in _ordered(inp.statuses):
        for table in (rules.no_means_test, province.extra_no_means_test):
            situation = table.get(code)
            if situation is not None and situation.applies_to(inp.matter):
                found.append(situation)
    return found


def _means(inp: CheckInput, rules: Rules, province: ProvinceRules, today: dt.date) -> _Draft:
    """Only the means part: ``exempt`` / ``passed`` / ``failed`` / ``unknown`` with its basis and reasons."""
    waived = []
    for code in _ordered(inp.statuses):
        situation = rules.means_check_waived.get(code)
        if situation is None:
            continue
        if situation.applies_to(inp.matter) or (inp.work_injury and inp.matter in situation.work_injury_matters):
            waived.append(situation)
    if waived:
        draft = _Draft("eligible", "exempt")
        draft.add([s.basis for s in waived],
                  [rules.text("waived_explain", label=s.label, basis=s.basis) for s in waived])
        return draft
    draft = _Draft("needs_review", "unknown")
    migrant = rules.means_check_waived.get("migrant_worker")
    if ("migrant_worker" in inp.statuses and migrant is not None and inp.work_injury is None
            and inp.matter in migrant.work_injury_matters):
        draft.add([], [rules.text("migrant_injury_unknown_explain")])
    standard = province.hardship
    if standard is None:
        draft.add([rules.bases["standard"]],
                  [rules.text("standard_unknown_explain", province=province.name,
                              reason=province.not_configured_reason)])
        return draft
    threshold = standard.threshold_for(inp.area, today)
    if threshold is None:
        draft.add([rules.bases["standard"], standard.basis],
                  [rules.text("standard_unknown_explain", province=province.name,
                              reason=standard.not_configured_reason)])
        return draft
    income = inp.household_monthly_income_per_capita
    if income is None:
        draft.add([standard.basis, rules.bases["declaration"]], [rules.text("income_unknown_explain")])
        return draft
    values = {"income": _fmt_amount(income), "threshold": _fmt_amount(threshold.monthly_income_per_capita),
              "province": province.name, "area": threshold.area, "source": threshold.source}
    if income <= threshold.monthly_income_per_capita:
        draft = _Draft("eligible", "passed")
        draft.add([standard.basis, rules.bases["declaration"]], [rules.text("passed_explain", **values)])
    else:
        draft = _Draft("not_eligible", "failed")
        draft.add([standard.basis], [rules.text("failed_explain", **values)])
    return draft


def _coverage(inp: CheckInput, rules: Rules, province: ProvinceRules) -> _Draft | None:
    """The matter's basis as a draft to continue with the means test, or a final draft when not covered."""
    matter = rules.matters[inp.matter]
    draft = _Draft("needs_review", "unknown")
    if inp.retrial:
        draft.add([rules.bases["retrial"]], [rules.text("retrial")])
        return draft
    if matter.basis is not None:
        draft.add([matter.basis], [rules.text("covered_explain", basis=matter.basis, label=matter.label)])
        return draft
    extra = province.extra_matters.get(inp.matter)
    if extra is not None:
        draft.add([extra.basis], [extra.explain])
        return draft
    return None


def _finish(draft: _Draft, inp: CheckInput, rules: Rules) -> Decision:
    urgent = [rules.urgency[code] for code in ("deadline_within_7_days", "preservation_needed")
              if code in inp.urgency]
    if draft.decision != "not_eligible":
        for situation in urgent:
            draft.add([situation.basis], [rules.text("urgency_explain", label=situation.label,
                                                     basis=situation.basis)])
    reasons = [*draft.reasons, rules.text("disclaimer")]
    return Decision(
        decision=draft.decision, means_test=draft.means_test, basis=tuple(draft.basis),
        explanation="".join(reasons), rules_version=rules.rules_version, province=inp.province,
        matter=inp.matter, urgent=tuple(s.code for s in urgent), reasons=tuple(reasons),
    )


def decide(inp: CheckInput, rules: Rules, today: dt.date | None = None) -> Decision:
    """Decide ``inp`` under ``rules`` as of ``today`` (which hardship figures are in force)."""
    today = today or dt.date.today()
    province = rules.province(inp.province)
    if province is None:  # parse_input rejects these; a hand-built input may not have gone through it
        raise ValueError(f"unknown province {inp.province!r}")
    matter = rules.matters[inp.matter]
    if inp.has_lawyer:
        draft = _Draft("not_eligible", "not_required")
        draft.add([rules.bases["has_lawyer_criminal" if matter.criminal else "has_lawyer"]], [rules.text("has_lawyer")])
        return _finish(draft, inp, rules)
    lifted = _no_means_test(inp, rules, province)
    if lifted:
        draft = _Draft("eligible", "not_required")
        draft.add([s.basis for s in lifted], [s.explain for s in lifted])
        return _finish(draft, inp, rules)
    if matter.criminal:
        return _finish(_criminal(inp, rules, province, today), inp, rules)
    covered = _coverage(inp, rules, province)
    if covered is None:
        if province.configured:
            draft = _Draft("not_eligible", "not_required")
            draft.add([rules.bases["not_covered"]], [rules.text("not_covered_explain", label=matter.label,
                                                               province=province.name)])
            return _finish(draft, inp, rules)
        means = _means(inp, rules, province, today)
        draft = _Draft("not_eligible" if means.means_test == "failed" else "needs_review", means.means_test)
        draft.add([rules.bases["other_matters"]], [rules.text("province_unknown_matter_explain", label=matter.label,
                                                                 province=province.name)])
        draft.add(means.basis, means.reasons)
        return _finish(draft, inp, rules)
    means = _means(inp, rules, province, today)
    covered.decision, covered.means_test = means.decision, means.means_test
    covered.add(means.basis, means.reasons)
    return _finish(covered, inp, rules)


def _criminal(inp: CheckInput, rules: Rules, province: ProvinceRules, today: dt.date) -> _Draft:
    mandatory = [rules.criminal_mandatory[c] for c in _ordered(inp.statuses) if c in rules.criminal_mandatory]
    if mandatory:
        draft = _Draft("eligible", "not_required")
        draft.add([s.basis for s in mandatory], [s.explain for s in mandatory])
        return draft
    draft = _Draft("needs_review", "unknown")
    if inp.retrial:
        draft.add([rules.bases["retrial"]], [rules.text("retrial")])
    else:
        draft.add([b for b in (rules.matters[inp.matter].basis,) if b], [rules.text("criminal_explain")])
    means = _means(inp, rules, province, today)
    draft.means_test = means.means_test
    draft.add(means.basis, means.reasons)
    if means.means_test in ("exempt", "passed"):
        draft.decision = "eligible"
    elif means.means_test == "failed":
        draft.add([], [rules.text("criminal_failed_explain")])
    return draft
