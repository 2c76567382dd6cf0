"""The self-check's Rasa actions (rasa-sdk): the form's questions, validation, help, back, cancel, result.

Sending the result to the legal-aid centre (consent, name, phone) is ``bot.eligibility.contact_actions``.

The form ``eligibility_form`` (nlu/rasa/domain.yml) fills the ``elig_*`` slots one question at a time; every
question offers quick replies (buttons whose payload is ``/elig_answer{"elig_value": code}``) plus
"为什么问这个" / "上一步" / "取消". Typed answers ("一千五", "没请", "1 3") reach the validator as text and are
read by ``bot.eligibility.flow``; ``bot.eligibility.turns`` decides what a message means (an answer, a guess
asked back in ``elig_guess``, a legal question that pauses the check, giving up). Answers stay in the
tracker (the SQL tracker store carries slots over to new sessions), and where the check stopped is kept in
``elig_stopped_at``, so "继续" resumes exactly there, for ``resume_days``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable, Coroutine
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActionExecutionRejected, ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.eligibility.action_base import EligibilityAction
from bot.eligibility.contact_actions import contact_actions
from bot.eligibility.flow import FORM_SLOTS, Flow
from bot.eligibility.service import EligibilityService
from bot.eligibility.turns import INTERRUPTIONS, NOT_MEANT, Turn, take_turn

__all__ = ["FORM_NAME", "eligibility_actions"]

FORM_NAME = "eligibility_form"
TOKEN_SLOT = "elig_token"
STARTED_SLOT = "elig_started_on"
GUESS_SLOT = "elig_guess"  # "<slot>=<value>": the guess "您是说「…」吗？" waits for
STOPPED_SLOT = "elig_stopped_at"  # the question the check stopped at (取消, a legal question, 转人工)
REQUESTED = "requested_slot"


def _values(tracker: Tracker) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for slot in FORM_SLOTS:
        value = tracker.get_slot(slot)
        values[slot] = None if value is None else str(value)
    return values


def _in_form(tracker: Tracker) -> bool:
    return (tracker.active_loop or {}).get("name") == FORM_NAME


def _reset() -> list[EventType]:
    return [SlotSet(slot, None) for slot in FORM_SLOTS] + [SlotSet(REQUESTED, None), SlotSet(GUESS_SLOT, None),
                                                           SlotSet(STOPPED_SLOT, None)]


def _stop(tracker: Tracker) -> list[EventType]:
    """The form ends; the answers and the question it stopped at are kept for "继续"."""
    return [ActiveLoop(None), SlotSet(REQUESTED, None), SlotSet(GUESS_SLOT, None),
            SlotSet(STOPPED_SLOT, tracker.get_slot(REQUESTED))]


def _guess(tracker: Tracker, slot: str) -> str | None:
    stored = str(tracker.get_slot(GUESS_SLOT) or "")
    asked, _, value = stored.partition("=")
    return value if asked == slot and value else None


def _answer(value: str) -> str:
    return "/elig_answer" + json.dumps({"elig_value": value})


def _buttons(flow: Flow, slot: str, values: dict[str, str | None], *, first: bool,
             guess: str | None = None) -> list[dict[str, str]]:
    controls = flow.data["controls"]
    if guess is not None:
        buttons = [{"title": str(flow.confirm["yes_button"]), "payload": _answer(guess)},
                   {"title": str(flow.confirm["no_button"]), "payload": _answer(NOT_MEANT)}]
    else:
        buttons = [{"title": option.title, "payload": _answer(option.code)} for option in flow.options(slot, values)]
        buttons.append({"title": str(controls["why"]), "payload": "/elig_why"})
    if not first:
        buttons.append({"title": str(controls["back"]), "payload": "/elig_back"})
    buttons.append({"title": str(controls["cancel"]), "payload": "/elig_cancel"})
    return buttons


class ValidateEligibilityForm(FormValidationAction):
    """Reads each answer (payload code or typed words) and decides which questions are still needed."""

    def __init__(self, service: EligibilityService) -> None:
        self.service = service

    def name(self) -> str:
        return f"validate_{FORM_NAME}"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: dict[str, Any]) -> list[str]:
        return self.service.flow.required_slots(_values(tracker))

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        """A legal question or giving up rejects the form, so the rules for its unhappy paths take over."""
        slot = tracker.get_slot(REQUESTED)
        value = tracker.slots_to_validate().get(slot) if slot in FORM_SLOTS else None
        if value is not None and self._turn(str(slot), value, tracker).kind in INTERRUPTIONS:
            return [SlotSet(str(slot), None), ActionExecutionRejected(FORM_NAME)]
        events: list[EventType] = await super().run(dispatcher, tracker, domain)
        return events

    def _turn(self, slot: str, value: Any, tracker: Tracker) -> Turn:
        values = _values(tracker)
        values[slot] = None
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        return take_turn(self.service.flow, slot, value, values, intent=intent, guess=_guess(tracker, slot))

    async def _validate(self, slot: str, value: Any, dispatcher: CollectingDispatcher,
                        tracker: Tracker) -> dict[str, Any]:
        if value is None:  # a slot cleared by "上一步" or a restart: nothing to read
            return {slot: None}
        flow = self.service.flow
        turn = self._turn(slot, value, tracker)
        if turn.kind == "store":
            return {slot: turn.value, GUESS_SLOT: None}
        if turn.kind == "confirm":  # action_ask_<slot> asks "您是说「…」吗？"
            return {slot: None, GUESS_SLOT: f"{slot}={turn.value}"}
        if turn.kind == "go_on":
            dispatcher.utter_message(text=flow.text("going_on"))
            return {slot: None}
        text = flow.confirm["declined"] if turn.kind == "declined" else flow.questions[slot]["invalid"]
        dispatcher.utter_message(text=str(text))
        return {slot: None, GUESS_SLOT: None}


def _validator(slot: str) -> Callable[..., Coroutine[Any, Any, dict[str, Any]]]:
    async def validate(self: ValidateEligibilityForm, value: Any, dispatcher: CollectingDispatcher,
                       tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        return await self._validate(slot, value, dispatcher, tracker)

    validate.__name__ = f"validate_{slot}"
    return validate


for _slot in FORM_SLOTS:
    setattr(ValidateEligibilityForm, f"validate_{_slot}", _validator(_slot))


class AskQuestion(EligibilityAction):
    """``action_ask_<slot>``: the question with its quick replies, or "您是说「…」吗？" when a guess waits."""

    def __init__(self, service: EligibilityService, slot: str) -> None:
        super().__init__(service)
        self.slot = slot

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        flow = self.service.flow
        values = _values(tracker)
        first = flow.required_slots(values)[0] == self.slot
        guess = _guess(tracker, self.slot)
        text = (str(flow.confirm["ask"]).format(title=flow.titles(self.slot, guess, values)) if guess is not None
                else str(flow.questions[self.slot]["text"]))
        dispatcher.utter_message(text=text, buttons=_buttons(flow, self.slot, values, first=first, guess=guess))
        return []


class StartEligibility(EligibilityAction):
    """Start the self-check, or resume it when answers from the last ``resume_days`` days are kept."""

    action_name = "action_offer_legal_aid"

    def __init__(self, service: EligibilityService, clock: Callable[[], dt.date] = dt.date.today) -> None:
        super().__init__(service)
        self.clock = clock

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        flow = self.service.flow
        today = self.clock()
        answered = _under_way(tracker)
        started = _day(tracker.get_slot(STARTED_SLOT))
        expired = started is not None and (today - started).days > flow.resume_days
        if answered and not expired and tracker.get_slot(TOKEN_SLOT) is None:
            dispatcher.utter_message(text=flow.text("resume"))
            return [SlotSet(STOPPED_SLOT, None)]
        if answered and expired:
            dispatcher.utter_message(text=flow.text("fresh_after_expiry", days=flow.resume_days))
        dispatcher.utter_message(text=flow.text("intro"))
        return [*_reset(), SlotSet(TOKEN_SLOT, None), SlotSet(STARTED_SLOT, today.isoformat())]


def _under_way(tracker: Tracker) -> bool:
    """A check was started and not finished: answers are kept, or it stopped at its first question."""
    return tracker.get_slot(STOPPED_SLOT) is not None or any(v is not None for v in _values(tracker).values())


def _day(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


class RestartEligibility(EligibilityAction):
    """"重新开始": forget the answers and ask from the first question."""

    action_name = "action_eligibility_restart"

    def __init__(self, service: EligibilityService, clock: Callable[[], dt.date] = dt.date.today) -> None:
        super().__init__(service)
        self.clock = clock

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(text=self.service.flow.text("restarted"))
        return [*_reset(), SlotSet(TOKEN_SLOT, None), SlotSet(STARTED_SLOT, self.clock().isoformat())]


class ExplainQuestion(EligibilityAction):
    """"为什么问这个": why the current question matters, with its article."""

    action_name = "action_eligibility_why"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        flow = self.service.flow
        slot = tracker.get_slot(REQUESTED)
        if _in_form(tracker) and slot in flow.questions:
            dispatcher.utter_message(text=str(flow.questions[slot]["why"]))
        else:
            dispatcher.utter_message(text=flow.text("why_general"))
        return []


class GoBack(EligibilityAction):
    """"上一步": clear the previous answer so the form asks it again."""

    action_name = "action_eligibility_back"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        flow = self.service.flow
        if not _in_form(tracker):
            dispatcher.utter_message(text=flow.text("not_in_check"))
            return []
        values = _values(tracker)
        required = flow.required_slots(values)
        current = tracker.get_slot(REQUESTED)
        index = required.index(current) if current in required else len(required)
        if index == 0:
            dispatcher.utter_message(text=flow.text("first_question"))
            return []
        previous = required[index - 1]
        later = FORM_SLOTS[FORM_SLOTS.index(previous):]
        return [SlotSet(GUESS_SLOT, None)] + [SlotSet(slot, None) for slot in later
                                              if values.get(slot) is not None or slot == previous]


class CancelEligibility(EligibilityAction):
    """"取消" (or giving up in other words): stop the form kindly; the answers are kept for "继续自测"."""

    action_name = "action_eligibility_cancel"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        flow = self.service.flow
        if not _in_form(tracker):
            dispatcher.utter_message(text=flow.text("nothing_to_stop"))
            return []
        dispatcher.utter_message(text=flow.text("cancelled", days=flow.resume_days))
        return _stop(tracker)


class PauseEligibility(Action):
    """Stop the form without a word (before a person takes over, or a legal question is answered)."""

    def name(self) -> str:
        return "action_eligibility_pause"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        return _stop(tracker)


class OfferResume(EligibilityAction):
    """After the answer to a question asked in the middle of the check: 「继续」 picks it up where it stopped."""

    action_name = "action_eligibility_offer_resume"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        flow = self.service.flow
        dispatcher.utter_message(text=flow.text("paused_for_question"),
                                 buttons=[{"title": str(flow.data["controls"]["resume"]), "payload": "/elig_resume"}])
        return []


class ShowResult(EligibilityAction):
    """The form is complete: decide, record the decision and the pre-application, show the result."""

    action_name = "action_eligibility_result"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        service = self.service
        values = _values(tracker)
        conclusion = await asyncio.to_thread(service.conclude, values, sender=tracker.sender_id)
        decision = conclusion.decision
        meta = {"lawline": {"citations": list(decision.basis), "confident": True, "eligibility": {
            "decision": decision.decision, "means_test": decision.means_test,
            "rules_version": decision.rules_version, "pre_application": conclusion.token}}}
        dispatcher.utter_message(text=conclusion.text, json_message=meta)
        if conclusion.token:
            result = service.flow.result
            dispatcher.utter_message(text=str(result["send_offer"]), buttons=[
                {"title": str(result["send_button"]), "payload": "/elig_send"},
                {"title": str(result["keep_button"]), "payload": "/deny"},
            ])
        return [*_reset(), SlotSet(TOKEN_SLOT, conclusion.token)]


class HintEligibility(EligibilityAction):
    """An answer to the self-check when it is not running (e.g. a new session): say how to go on."""

    action_name = "action_eligibility_hint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        flow = self.service.flow
        dispatcher.utter_message(text=flow.text("paused" if _under_way(tracker) else "not_in_check"))
        return []


def eligibility_actions(service: EligibilityService) -> list[Action]:
    """Every action of the self-check, with the service injected (registered by ``bot.actions``)."""
    actions: list[Action] = [
        ValidateEligibilityForm(service), StartEligibility(service), RestartEligibility(service),
        ExplainQuestion(service), GoBack(service), CancelEligibility(service), ShowResult(service),
        HintEligibility(service), PauseEligibility(), OfferResume(service),
    ]
    actions += [AskQuestion(service, slot) for slot in FORM_SLOTS]
    return actions + contact_actions(service)  # 发给法律援助中心: consent, name and phone (contact_actions)
