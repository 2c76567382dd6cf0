"""The self-check's questions as pure functions: which to ask, their options, and reading the answers.

The Rasa form (``bot.eligibility.actions``) is a thin shell around this module: slots hold codes as text
(``"labor_relation_or_remuneration"``, ``"minor_without_income,migrant_worker"``, ``"1500"``, ``"unknown"``),
so a resumed conversation re-validates its stored answers with the same functions. Only the questions the
decision needs are asked: a lawyer already engaged ends the check; 第三十二条 situations end it; the income
is asked only when the means test would use it. A typed answer is stored only when it is clear; otherwise
it is asked back first (``read``, ``bot.eligibility.reading``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.eligibility.engine import decide
from bot.eligibility.model import CheckInput, Decision
from bot.eligibility.numbers import parse_amount
from bot.eligibility.reading import NOTHING, Reading, clean, read_words
from bot.eligibility.rules import Rules

__all__ = ["FLOW_FILE", "FORM_SLOTS", "Flow", "Option", "Reading", "load_flow"]

FLOW_FILE = Path(__file__).resolve().parent / "data" / "flow.yaml"
FORM_SLOTS = ("elig_urgency", "elig_matter", "elig_stage", "elig_province", "elig_place", "elig_has_lawyer",
              "elig_special", "elig_identity", "elig_income")
_BASE = FORM_SLOTS[:6]
NONE = "none"
UNKNOWN = "unknown"
# A yes-no question said the northern way, with 不 or 没 at the end and no 吗: "能告不", "还管用不", "能补交不".
_A_NOT_A = re.compile(r"(能|可以|会|要|算|管用|行|中|还|有).{0,10}(不|没|没有)[\s。？?！!]*$")
_NUMBERS = re.compile(r"^\s*\d{1,2}(?:\s*[,，、和及与跟\s]\s*\d{1,2})*\s*$")
_MAX_PLACE = 30
_SHORT_PLACE = 6  # a place name without 区/县/镇 … this short is asked back; a longer one is not a place


@dataclass(frozen=True, slots=True)
class Option:
    """One quick reply: what is stored, what the resident sees, and words that pick it when typed.

    ``maybe`` are words that only hint at the option: typed, they make a guess that is asked back.
    """

    code: str
    title: str
    words: tuple[str, ...] = ()
    maybe: tuple[str, ...] = ()


def _words(value: Any) -> tuple[str, ...]:
    return tuple(str(w) for w in value or ())


def _option(entry: Mapping[str, Any]) -> Option:
    return Option(str(entry["code"]), str(entry["title"]), _words(entry.get("words")), _words(entry.get("maybe")))


class Flow:
    """The curated texts (``data/flow.yaml``) and the rules, answering the form's questions."""

    def __init__(self, data: Mapping[str, Any], rules: Rules) -> None:
        self.data = data
        self.rules = rules
        self.questions: Mapping[str, Mapping[str, Any]] = data["questions"]
        self.result: Mapping[str, Any] = data["result"]
        self.page: Mapping[str, Any] = data["page"]
        self.contact: Mapping[str, Any] = data["contact"]  # consent, name and phone before sending
        self.resume_days = int(data["resume_days"])
        self.confirm: Mapping[str, Any] = data["confirm"]
        self._yes = frozenset(_words(self.confirm["yes_words"]))
        self._no = frozenset(_words(self.confirm["no_words"]))
        self._question_words = _words(data["question_words"])
        missing = [slot for slot in FORM_SLOTS if slot not in self.questions]
        if missing:
            raise ValueError(f"flow texts: no question for {missing[0]}")

    def text(self, key: str, **values: object) -> str:
        return str(self.data[key]).format(**values)

    # ---- options ------------------------------------------------------------------------------
    def options(self, slot: str, values: Mapping[str, str | None]) -> list[Option]:
        """The quick replies for ``slot`` given the answers so far (the 32/42 lists depend on the matter)."""
        question = self.questions[slot]
        if slot == "elig_province":
            return [Option(p.code, p.code, (p.name, *p.aliases)) for p in self.rules.provinces.values()]
        if slot in ("elig_special", "elig_identity"):
            codes = self._status_codes(slot, values)
            titles, words = question["status_titles"], question.get("status_words") or {}
            hints = question.get("status_maybe") or {}
            listed = [Option(code, str(titles[code]), _words(words.get(code)), _words(hints.get(code)))
                      for code in codes]
            return [*listed, _option(question["none"])]
        return [_option(entry) for entry in question.get("options") or ()]

    def _status_codes(self, slot: str, values: Mapping[str, str | None]) -> list[str]:
        matter, work_injury = _matter(values.get("elig_matter"))
        province = self.rules.province(values.get("elig_province") or "")
        if slot == "elig_special":
            tables = (self.rules.no_means_test, province.extra_no_means_test if province else {})
            return [code for code in self.questions[slot]["status_titles"] if matter is not None and any(
                code in table and table[code].applies_to(matter) for table in tables)]
        found = []
        for code in self.questions[slot]["status_titles"]:
            situation = self.rules.means_check_waived.get(code)
            if situation is None or matter is None:
                continue
            if situation.applies_to(matter) or (matter in situation.work_injury_matters and work_injury):
                found.append(code)
            elif code == "minor_without_income" and self.rules.matters[matter].criminal:
                found.append(code)
        return found

    # ---- reading answers ----------------------------------------------------------------------
    def interpret(self, slot: str, answer: Any, values: Mapping[str, str | None]) -> str | None:
        """The stored value for ``answer`` when it is clear (a code, a number, plain words), else None."""
        reading = self.read(slot, answer, values)
        return reading.value if reading.sure else None

    def read(self, slot: str, answer: Any, values: Mapping[str, str | None], *,
             suggested: str | None = None) -> Reading:
        """What ``answer`` would store and how sure that is; ``suggested``: the option the NLU's topic points to.

        A guess the suggestion agrees with (土地承包 for a land question that only says "地") is sure.
        """
        text = str(answer).strip() if answer is not None else ""
        if not text or len(text) > 200:
            return NOTHING
        options = self.options(slot, values)
        if slot == "elig_income":
            return self._income(text, options)
        if slot == "elig_place":
            return self._place(text, options)
        multi = bool(self.questions[slot].get("multi"))
        chosen = self._by_code(text, options, multi) or self._by_number(text, options, multi)
        if chosen is not None:
            return Reading(chosen, sure=True, exact=True)
        reading = read_words(text, options, multi=multi, none_code=NONE)
        if not reading.sure and suggested is not None and reading.value in (None, suggested):
            return Reading(suggested, sure=reading.value == suggested)
        return reading

    def asks(self, text: str) -> bool:
        """Whether ``text`` reads as a question of its own (吗, 怎么办, 能不能, 能告不 …), not as an answer."""
        return any(word in text for word in self._question_words) or _A_NOT_A.search(text) is not None

    def reply_to_guess(self, text: Any) -> bool | None:
        """True for 是 (对, 嗯 …), False for 不是 (不对 …), None when ``text`` is something else."""
        said = clean(str(text or ""))
        if said in self._yes:
            return True
        if said in self._no:
            return False
        return None

    def titles(self, slot: str, value: str, values: Mapping[str, str | None]) -> str:
        """The options ``value`` stands for, as the resident sees them ("讨工钱", "低保户…、进城打工的…")."""
        if slot == "elig_place":
            return value
        titles = {o.code: o.title for o in self.options(slot, values)}
        return "、".join(titles.get(code, code) for code in value.split(","))

    def _by_code(self, text: str, options: list[Option], multi: bool) -> str | None:
        codes = {o.code for o in options}
        parts = [p for p in text.split(",") if p] if multi else [text]
        if parts and all(p in codes for p in parts):
            return _joined(parts, multi)
        titles = {o.title: o.code for o in options}
        return titles.get(text.strip("。.!！ "))

    def _by_number(self, text: str, options: list[Option], multi: bool) -> str | None:
        if not _NUMBERS.match(text):
            return None
        numbers = [int(n) for n in re.findall(r"\d{1,2}", text)]
        if not multi and len(numbers) != 1:
            return None
        if any(not 1 <= n <= len(options) for n in numbers):
            return None
        return _joined([options[n - 1].code for n in numbers], multi)

    def _income(self, text: str, options: list[Option]) -> Reading:
        if text == UNKNOWN or any(word in text for o in options for word in (o.title, *o.words)):
            return Reading(UNKNOWN, sure=True, exact=True)
        try:
            amount = parse_amount(text)
        except ValueError:
            return NOTHING
        if not 0 <= amount <= 1_000_000:
            return NOTHING
        return Reading(f"{amount:g}", sure=True, exact=True)

    def _place(self, text: str, options: list[Option]) -> Reading:
        said = clean(text)
        if text == UNKNOWN or any(word == said for o in options for word in (o.title, *o.words)):
            return Reading(UNKNOWN, sure=True, exact=True)
        place = re.sub(r"^(在|是|我在|我们在|俺在)", "", said)
        if not 1 < len(place) <= _MAX_PLACE or not re.fullmatch(r"[\u4e00-\u9fff·（）()]+", place):
            return NOTHING
        if place.endswith(tuple(_words(self.questions["elig_place"].get("suffixes")))):
            return Reading(place, sure=True)
        return Reading(place) if len(place) <= _SHORT_PLACE else NOTHING

    # ---- which questions ----------------------------------------------------------------------
    def required_slots(self, values: Mapping[str, str | None]) -> list[str]:
        """The questions this resident must answer, in order, given the answers so far."""
        slots = list(_BASE)
        if any(values.get(slot) is None for slot in slots) or values.get("elig_has_lawyer") == "yes":
            return slots
        if self._status_codes("elig_special", values):
            slots.append("elig_special")
            if values.get("elig_special") is None:
                return slots
            if values.get("elig_special") != NONE:
                return slots
        if self.provisional(values).decision == "not_eligible":
            return slots  # the matter is not covered: no status or income changes that
        slots.append("elig_identity")
        if values.get("elig_identity") is None:
            return slots
        if self.provisional(values).means_test == "unknown":
            slots.append("elig_income")
        return slots

    def provisional(self, values: Mapping[str, str | None]) -> Decision:
        """The decision on the answers so far (income not yet known)."""
        return decide(self.to_input({**values, "elig_income": None}), self.rules)

    def to_input(self, values: Mapping[str, str | None]) -> CheckInput:
        """The engine's input for the answers (codes only; nothing the resident typed verbatim but the place)."""
        matter, work_injury = _matter(values.get("elig_matter"))
        province = self.rules.province(values.get("elig_province") or "")
        if matter is None or province is None:
            raise ValueError("the matter and the province are needed before deciding")
        income = values.get("elig_income")
        place = values.get("elig_place")
        return CheckInput(
            province=province.code, matter=matter, has_lawyer=values.get("elig_has_lawyer") == "yes",
            household_monthly_income_per_capita=float(income) if income not in (None, UNKNOWN) else None,
            statuses=frozenset(_codes(values.get("elig_special")) + _codes(values.get("elig_identity"))),
            urgency=frozenset(_codes(values.get("elig_urgency"))), retrial=values.get("elig_stage") == "retrial",
            work_injury=work_injury, area=place if place not in (None, UNKNOWN) else None,
        )

    def answer_labels(self, values: Mapping[str, str | None]) -> list[tuple[str, str]]:
        """(question label, answer in words) for the pre-application, in the order asked."""
        labels = self.page["answer_labels"]
        rows = []
        for slot in FORM_SLOTS:
            value = values.get(slot)
            if value is None:
                continue
            titles = {o.code: o.title for o in self.options(slot, values)}
            words = "、".join(titles.get(code, code) for code in value.split(",")) if value else ""
            rows.append((str(labels[slot]), words))
        return rows


def _joined(codes: list[str], multi: bool) -> str | None:
    unique = list(dict.fromkeys(codes))
    if multi and NONE in unique and len(unique) > 1:
        return None  # "都不是" with something else: ask again
    return ",".join(unique) if multi else unique[0]


def _codes(value: str | None) -> list[str]:
    return [code for code in (value or "").split(",") if code and code != NONE]


def _matter(value: str | None) -> tuple[str | None, bool | None]:
    """The form's matter answer as (matter code, work injury): 工伤 is personal injury at work."""
    if value is None:
        return None, None
    if value == "work_injury":
        return "personal_injury", True
    return value, (False if value == "personal_injury" else None)


def load_flow(rules: Rules, path: Path = FLOW_FILE) -> Flow:
    """Read the flow texts; a missing or malformed file fails at start with its name."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Flow(data, rules)
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None
