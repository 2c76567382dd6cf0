"""What a message means while the self-check waits for an answer: an answer, a question, or stopping.

Rasa's form fills the asked slot with whatever the resident typed (``from_text``); this module decides
what to do with it, from the text and the NLU's intent, in this order:

1. the answer to "您是说「…」吗？" (是 stores the guess, 不是 asks the question again);
2. an exact answer (an option's code, title or number, an amount) is stored;
3. a legal question of the resident's own (a topic intent, and the text asks or names no option) pauses the
   check: the form is rejected and the rules in ``nlu/rasa/data/eligibility.yml`` answer it, then offer
   「继续」 (Rasa's "unhappy form paths");
4. a clear answer is stored;
5. giving up in other words (再见, 不用了 …) stops the check, as 取消 does (rejected, then the rules);
6. a guess is asked back before it is stored;
7. "继续" while the question is already waiting asks it again; anything else gets the question's "没听明白".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bot.eligibility.flow import Flow

__all__ = ["GO_ON_INTENTS", "INTERRUPTIONS", "NOT_MEANT", "SIDE_QUESTION_INTENTS", "STOP_INTENTS", "Turn",
           "take_turn"]

# The legal-question intents, with the matter each one suggests for "为了什么事" (the rules that answer them
# during the check are in nlu/rasa/data/eligibility.yml).
SIDE_QUESTION_INTENTS: Mapping[str, str | None] = {
    "wages": "labor_relation_or_remuneration", "support": "support_payment", "land": "land_contract",
    "dispute": None, "other_legal": None, "follow_up": None,
}
STOP_INTENTS = frozenset({"elig_cancel", "goodbye", "deny"})
GO_ON_INTENTS = frozenset({"elig_resume", "legal_aid"})
NOT_MEANT = "not_meant"  # the payload of 不是 under "您是说「…」吗？"

Kind = Literal["store", "confirm", "declined", "side_question", "stop", "go_on", "invalid"]
INTERRUPTIONS: frozenset[Kind] = frozenset({"side_question", "stop"})  # the form steps aside for the rules


@dataclass(frozen=True, slots=True)
class Turn:
    """What to do with the message: ``store`` / ``confirm`` carry the value."""

    kind: Kind
    value: str | None = None


def take_turn(flow: Flow, slot: str, answer: Any, values: Mapping[str, str | None], *, intent: str | None,
              guess: str | None) -> Turn:
    """The turn for ``answer`` to the question ``slot``; ``guess``: the value "您是说…吗" asked about, if any."""
    if guess is not None:
        if answer == guess:
            return Turn("store", guess)  # the 是 button's payload
        if answer == NOT_MEANT:
            return Turn("declined")
        yes = flow.reply_to_guess(answer)
        if yes is not None:
            return Turn("store", guess) if yes else Turn("declined")
    suggested = SIDE_QUESTION_INTENTS.get(intent or "") if slot == "elig_matter" else None
    reading = flow.read(slot, answer, values, suggested=suggested)
    if reading.exact:
        return Turn("store", reading.value)
    if intent in SIDE_QUESTION_INTENTS and (reading.value is None or flow.asks(str(answer))):
        return Turn("side_question")
    if reading.sure:
        return Turn("store", reading.value)
    if intent in STOP_INTENTS:
        return Turn("stop")
    if reading.value is not None:
        return Turn("confirm", reading.value)
    if intent in GO_ON_INTENTS:
        return Turn("go_on")
    return Turn("invalid")
