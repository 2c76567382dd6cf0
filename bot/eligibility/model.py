"""What a check takes and what it gives: ``CheckInput`` (parsed from the audit JSON) and ``Decision``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.eligibility.errors import InputError
from bot.eligibility.rules import MATTER_CODES, STATUS_CODES, URGENCY_CODES, Rules

__all__ = ["DECISIONS", "MEANS_TEST", "CheckInput", "Decision", "parse_input"]

DECISIONS = ("eligible", "not_eligible", "needs_review")
MEANS_TEST = ("exempt", "passed", "failed", "unknown", "not_required")
MAX_INCOME = 10_000_000  # yuan per person per month; anything above is a typing error, not a household

_REQUIRED = ("province", "matter", "has_lawyer", "household_monthly_income_per_capita", "statuses")
# Optional keys beyond the audit shape: the conversation knows these, the audit input may leave them out.
_OPTIONAL = ("urgency", "retrial", "work_injury", "area")


@dataclass(frozen=True, slots=True)
class CheckInput:
    """One resident's situation as the engine sees it (codes, not words)."""

    province: str
    matter: str
    has_lawyer: bool
    household_monthly_income_per_capita: float | None
    statuses: frozenset[str] = frozenset()
    urgency: frozenset[str] = frozenset()
    retrial: bool = False
    work_injury: bool | None = None
    area: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The input as recorded with a decision (sorted lists, so equal inputs compare equal)."""
        return {
            "province": self.province, "matter": self.matter, "has_lawyer": self.has_lawyer,
            "household_monthly_income_per_capita": self.household_monthly_income_per_capita,
            "statuses": sorted(self.statuses), "urgency": sorted(self.urgency), "retrial": self.retrial,
            "work_injury": self.work_injury, "area": self.area,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """The engine's answer. ``to_audit()`` is the exact shape outside checks rely on (issue #4)."""

    decision: str
    means_test: str
    basis: tuple[str, ...]
    explanation: str
    rules_version: str
    province: str
    matter: str
    urgent: tuple[str, ...] = ()
    reasons: tuple[str, ...] = field(default=())

    def to_audit(self) -> dict[str, Any]:
        return {"decision": self.decision, "means_test": self.means_test, "basis": list(self.basis),
                "explanation": self.explanation, "rules_version": self.rules_version}


def _codes(raw: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> frozenset[str]:
    value = raw.get(key, [])
    if value is None:
        value = []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InputError(key, "must be a list of codes")
    unknown = [item for item in value if item not in allowed]
    if unknown:
        raise InputError(key, f"unknown code {unknown[0]!r}; known: {', '.join(allowed)}")
    return frozenset(value)


def _income(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError("household_monthly_income_per_capita", "must be a number of yuan or null")
    if not 0 <= value <= MAX_INCOME:
        raise InputError("household_monthly_income_per_capita", f"must be between 0 and {MAX_INCOME}")
    return float(value)


def parse_input(raw: Any, rules: Rules) -> CheckInput:
    """Check and convert the audit JSON; raises ``InputError`` naming the field for anything malformed."""
    if not isinstance(raw, dict):
        raise InputError("input", "must be a JSON object")
    missing = [key for key in _REQUIRED if key not in raw]
    if missing:
        raise InputError(missing[0], "is required")
    extra = sorted(set(raw) - set(_REQUIRED) - set(_OPTIONAL))
    if extra:
        raise InputError(extra[0], f"unknown field; allowed: {', '.join(_REQUIRED + _OPTIONAL)}")
    province = rules.province(raw["province"]) if isinstance(raw["province"], str) else None
    if province is None:
        known = ", ".join(rules.provinces)
        raise InputError("province", f"unknown province {raw['province']!r}; configured entries: {known}")
    matter = raw["matter"]
    if not isinstance(matter, str) or matter not in MATTER_CODES:
        raise InputError("matter", f"unknown code {matter!r}; known: {', '.join(MATTER_CODES)}")
    if not isinstance(raw["has_lawyer"], bool):
        raise InputError("has_lawyer", "must be true or false")
    if "retrial" in raw and not isinstance(raw["retrial"], bool):
        raise InputError("retrial", "must be true or false")
    work_injury = raw.get("work_injury")
    if work_injury is not None and not isinstance(work_injury, bool):
        raise InputError("work_injury", "must be true, false or null")
    area = raw.get("area")
    if area is not None and (not isinstance(area, str) or not 0 < len(area.strip()) <= 50):
        raise InputError("area", "must be a place name of at most 50 characters, or null")
    return CheckInput(
        province=province.code,
        matter=matter,
        has_lawyer=raw["has_lawyer"],
        household_monthly_income_per_capita=_income(raw["household_monthly_income_per_capita"]),
        statuses=_codes(raw, "statuses", STATUS_CODES),
        urgency=_codes(raw, "urgency", URGENCY_CODES),
        retrial=bool(raw.get("retrial", False)),
        work_injury=work_injury,
        area=area.strip() if isinstance(area, str) else None,
    )
