"""``lawline bench eligibility``: score the engine on cases the team wrote (``{"input", "expect"}`` lines).

``expect`` may give ``decision``, ``means_test`` and ``basis`` (the exact list); each given key is scored.
A case passes when every given key matches. Cases are written by the team from the statute text, never
copied from held-out evaluation data.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bot.eligibility.engine import decide
from bot.eligibility.errors import BenchCaseError, InputError
from bot.eligibility.model import DECISIONS, MEANS_TEST, parse_input
from bot.eligibility.rules import Rules

__all__ = ["load_cases", "run_bench"]

_KEYS = ("decision", "means_test", "basis")


def load_cases(path: Path) -> list[dict[str, Any]]:
    """Read the cases; a bad line fails with its number (nothing is scored from a broken file)."""
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise BenchCaseError(number, "not valid JSON") from None
        if not (isinstance(row, dict) and isinstance(row.get("input"), dict) and isinstance(row.get("expect"), dict)):
            raise BenchCaseError(number, 'each line needs {"input": {…}, "expect": {…}}')
        expect = row["expect"]
        if not expect or set(expect) - set(_KEYS):
            raise BenchCaseError(number, f"expect may only give {', '.join(_KEYS)}")
        if "decision" in expect and expect["decision"] not in DECISIONS:
            raise BenchCaseError(number, f"unknown decision {expect['decision']!r}")
        if "means_test" in expect and expect["means_test"] not in MEANS_TEST:
            raise BenchCaseError(number, f"unknown means_test {expect['means_test']!r}")
        cases.append({"line": number, "id": str(row.get("id") or number), **row})
    if not cases:
        raise BenchCaseError(0, "no cases")
    return cases


def run_bench(cases: list[dict[str, Any]], rules: Rules) -> dict[str, Any]:
    """Decide every case; accuracy per key, per expected decision, the failures and the time per decision."""
    scored: Counter[str] = Counter()
    correct: Counter[str] = Counter()
    by_decision: Counter[str] = Counter()
    by_decision_ok: Counter[str] = Counter()
    failures = []
    started = time.perf_counter()
    for case in cases:
        try:
            got = decide(parse_input(case["input"], rules), rules).to_audit()
        except InputError as exc:
            raise BenchCaseError(case["line"], f"input: {exc}") from None
        ok = True
        for key in _KEYS:
            if key not in case["expect"]:
                continue
            scored[key] += 1
            if got[key] == case["expect"][key]:
                correct[key] += 1
            else:
                ok = False
        expected = str(case["expect"].get("decision", "-"))
        by_decision[expected] += 1
        by_decision_ok[expected] += ok
        if not ok:
            failures.append({"id": case["id"], "expect": case["expect"],
                             "got": {k: got[k] for k in _KEYS if k in case["expect"]}})
    elapsed = time.perf_counter() - started
    passed = len(cases) - len(failures)
    return {
        "cases": len(cases), "passed": passed, "accuracy": round(passed / len(cases), 4),
        "per_key": {key: round(correct[key] / scored[key], 4) for key in _KEYS if scored[key]},
        "per_decision": {d: {"cases": by_decision[d], "passed": by_decision_ok[d]} for d in sorted(by_decision)},
        "failures": failures, "rules_version": rules.rules_version,
        "ms_per_decision": round(1000 * elapsed / len(cases), 3),
    }
