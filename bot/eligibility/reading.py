"""Reading a typed answer against a question's options, and how sure the reading is.

A typed answer is stored only when it clearly says one thing: an option's code, title or number, or the
words of one option only (two characters or more, not negated, not listed as a mere hint under
``maybe``; a one-character word such as 地 in 工地 counts only when nothing clearer is said). Anything else
that touches an option is a guess, asked back before it is stored ("您是说「…」吗？"), so a sentence that
merely brushes an option's word ("儿子不管我" → 遗弃?) never lands silently on the pre-application — least
of all an option that skips the means test (法律援助法第三十二条、第四十二条).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["NOTHING", "Reading", "WordOption", "clean", "read_words"]

_NEGATION_CHARS = "不没未别"
_NEGATIONS = ("不是", "没有", "没被", "不算", "并非", "并没")
_STRIP = "。.!！?？,，、~～… \t\r\n"


@dataclass(frozen=True, slots=True)
class Reading:
    """What a typed answer would store (``value``), and whether it may be stored without asking."""

    value: str | None
    sure: bool = False
    exact: bool = False  # a code, title, number or amount: nothing else the message says can outweigh it


NOTHING = Reading(None)


class WordOption(Protocol):
    """An option as far as reading words is concerned (``bot.eligibility.flow.Option``)."""

    @property
    def code(self) -> str: ...

    @property
    def words(self) -> tuple[str, ...]: ...

    @property
    def maybe(self) -> tuple[str, ...]: ...


def clean(text: str) -> str:
    """The answer without the punctuation and spaces around it."""
    return text.strip(_STRIP)


def _negated(text: str, start: int, word: str) -> bool:
    if word[0] in _NEGATION_CHARS:
        return False  # the word carries its own negation (不急, 没请)
    return (start > 0 and text[start - 1] in _NEGATION_CHARS) or text[max(0, start - 2):start] in _NEGATIONS


_BRUSHED, _HINTED, _SAID = 1, 2, 3  # a one-character word; a hint or a negated word; plainly said


def _strength(text: str, word: str, hint: bool) -> int:
    """How plainly ``text`` says ``word`` (0: not at all)."""
    best, start = 0, text.find(word)
    while start >= 0 and best < _SAID:
        if hint or _negated(text, start, word):
            level = _HINTED
        else:
            level = _SAID if len(word) >= 2 else _BRUSHED
        best = max(best, level)
        start = text.find(word, start + 1)
    return best


def _option_strength(text: str, option: WordOption) -> int:
    return max([_strength(text, w, False) for w in option.words if w] +
               [_strength(text, w, True) for w in option.maybe if w] + [0])


def read_words(text: str, options: Sequence[WordOption], *, multi: bool, none_code: str) -> Reading:
    """The options ``text`` names by their words; sure only when it names them and nothing else."""
    said = clean(text)
    if not said:
        return NOTHING
    exact = [o.code for o in options if said in o.words]
    if len(exact) == 1:
        return Reading(exact[0], sure=True, exact=True)
    hits = {o.code: s for o in options if (s := _option_strength(said, o))}
    if not hits:
        return NOTHING
    strong = [code for code, s in hits.items() if s == _SAID]
    if strong:  # one-character brushes count only when nothing is said plainly
        hits = {code: s for code, s in hits.items() if s > _BRUSHED}
    if not multi:
        best = max(hits.values())
        return Reading(next(c for c, s in hits.items() if s == best), sure=len(hits) == 1 and bool(strong))
    named = [code for code in strong if code != none_code]
    guess = named or strong or [code for code in hits if code != none_code] or list(hits)
    clear = bool(strong) and len(strong) == len(hits) and not (none_code in hits and len(hits) > 1)
    return Reading(",".join(guess), sure=clear)
