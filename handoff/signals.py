"""What in a resident's message makes Lawline hand over to a person: danger, and cases beyond self-help.

Danger (domestic violence, assault, threats, self-harm, a child or a vulnerable adult at risk, detention, a
group confrontation, an injury) is checked before anything else; the first reply then gives the emergency
numbers and the ticket is urgent. Complexity (a court date, a large claim, several parties) makes the bot
offer a person after its answer. Both come from curated patterns in ``handoff/data/signals.yaml``; for
danger, ``handoff.danger`` adds a classifier trained on the team's examples.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from handoff._yaml import Mapping, Reader, load_yaml
from handoff.errors import DirectoryError

__all__ = ["SIGNALS_FILE", "Signal", "SignalDetector", "load_signals", "yuan_amounts"]

SIGNALS_FILE = Path(__file__).resolve().parent / "data" / "signals.yaml"
# In the order the first reply takes them (handoff.desk): who needs 110 first, then 120, then the rest.
DANGER_KINDS = ("self_harm", "domestic_violence", "assault", "threat", "child_at_risk", "vulnerable_adult",
                "detention", "group_confrontation", "injury")
COMPLEXITY_KINDS = ("court", "several_parties", "large_claim")
_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_AMOUNT = re.compile(r"(\d+(?:\.\d+)?|[零一二两三四五六七八九十百千]+)\s*(万|千|块|元)")


@dataclass(frozen=True, slots=True)
class Signal:
    """A kind of danger or complexity found in a message (``label`` is the Chinese name)."""

    kind: str
    label: str


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: str
    label: str
    patterns: tuple[re.Pattern[str], ...]
    ignore: tuple[str, ...]

    def matches(self, text: str) -> bool:
        return self.first_match(text) is not None

    def first_match(self, text: str) -> int | None:
        """The number (from 1) of the first pattern that fires, or None."""
        for phrase in self.ignore:
            text = text.replace(phrase, "")
        return next((n for n, p in enumerate(self.patterns, 1) if p.search(text)), None)


def _chinese_number(text: str) -> float | None:
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    total, digit = 0, 0
    for char in text:
        if char in _DIGITS:
            digit = _DIGITS[char]
        elif char in _UNITS:
            total += (digit or 1) * _UNITS[char]
            digit = 0
        else:
            return None
    return float(total + digit)


def yuan_amounts(text: str) -> list[float]:
    """Amounts of money in ``text`` in yuan: "5万" → 50000, "三千块" → 3000, "十二万元" → 120000."""
    amounts = []
    for number, unit in _AMOUNT.findall(text):
        value = _chinese_number(number)
        if value is None:
            continue
        amounts.append(value * {"万": 10000, "千": 1000}.get(unit, 1))
    return amounts


class SignalDetector:
    """Checks a message against the curated rules."""

    def __init__(self, danger: tuple[_Rule, ...], complexity: tuple[_Rule, ...], large_claim_yuan: float,
                 large_claim_label: str) -> None:
        self._danger = danger
        self._complexity = complexity
        self.large_claim_yuan = large_claim_yuan
        self._large_label = large_claim_label

    def danger(self, text: str) -> list[Signal]:
        """The kinds of danger the message signals (empty: none)."""
        return [signal for signal, _rule in self.danger_rules(text)]

    def danger_rules(self, text: str) -> list[tuple[Signal, str]]:
        """Each kind of danger found, with the pattern that fired as ``kind#n`` (n-th pattern of the kind)."""
        compact = re.sub(r"\s+", "", text)
        found = []
        for rule in self._danger:
            number = rule.first_match(compact)
            if number is not None:
                found.append((Signal(rule.kind, rule.label), f"{rule.kind}#{number}"))
        return found

    def without_ignored(self, text: str) -> str:
        """``text`` without any danger kind's ``ignore`` phrases (a law's name, 想死你们了): what the model reads."""
        for rule in self._danger:
            for phrase in rule.ignore:
                text = text.replace(phrase, "")
        return text

    def labels(self) -> dict[str, str]:
        """The Chinese name of every danger kind."""
        return {r.kind: r.label for r in self._danger}

    def complexity(self, text: str) -> list[Signal]:
        """Why the case may be beyond self-help (empty: nothing found)."""
        compact = re.sub(r"\s+", "", text)
        found = [Signal(r.kind, r.label) for r in self._complexity if r.matches(compact)]
        if any(amount >= self.large_claim_yuan for amount in yuan_amounts(compact)):
            if not any(s.kind == "large_claim" for s in found):
                found.append(Signal("large_claim", self._large_label))
        return found


def _rules(reader: Reader, data: Mapping, section: str, kinds: tuple[str, ...]) -> dict[str, tuple[_Rule, Mapping]]:
    node = reader.mapping(data, section)
    reader.check_keys(node, set(kinds), section)
    rules = {}
    for kind in kinds:
        entry = reader.mapping(node, kind, allowed={"label", "patterns", "ignore", "min_yuan"})
        patterns = []
        items = reader.sequence(entry, "patterns", required=True)
        for index, raw in enumerate(items):
            try:
                patterns.append(re.compile(str(raw)))
            except re.error as exc:
                reader.problem(reader.line_of(items, index), f"{section}.{kind}: bad pattern: {exc}")
        rules[kind] = (_Rule(kind, reader.text(entry, "label") or kind, tuple(patterns),
                             reader.texts(entry, "ignore")), entry)
    return rules


def load_signals(path: Path = SIGNALS_FILE) -> SignalDetector:
    """Read and check the rules; ``DirectoryError`` lists problems as ``file:line: reason``."""
    data, problems = load_yaml(path)
    if problems:
        raise DirectoryError(problems)
    reader = Reader(path)
    if not isinstance(data, Mapping):
        raise DirectoryError([f"{path}:1: the file must be a mapping"])
    reader.check_keys(data, {"version", "danger", "complexity"}, "the file")
    danger = _rules(reader, data, "danger", DANGER_KINDS)
    complexity = _rules(reader, data, "complexity", COMPLEXITY_KINDS)
    large = complexity.get("large_claim")
    min_yuan = reader.number(large[1], "min_yuan", 100000, 1, 1e12) if large else 100000
    if reader.problems:
        raise DirectoryError(reader.problems)
    return SignalDetector(tuple(r for r, _ in danger.values()), tuple(r for r, _ in complexity.values()),
                          min_yuan, large[0].label if large else "large_claim")
