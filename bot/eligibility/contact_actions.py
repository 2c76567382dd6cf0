"""Sending a pre-application to the legal-aid centre: consent first, then a name and a phone, then send.

"发给法律援助中心" runs ``action_eligibility_send``: with a pre-application not yet sent it starts the form
``pre_application_form`` (nlu/rasa/domain.yml), which asks in plain words whether the resident will leave a
name and a number the centre can call (``elig_consent``), and only then the name (``elig_contact_name``) and
the phone (``elig_contact_phone``, re-asked calmly when it cannot be dialled). Declining still sends it, with
how to reach the centre oneself. 取消, 再见 or 不用了 stop it kindly, unsent; the rules in
``nlu/rasa/data/eligibility.yml`` then run ``action_eligibility_contact_cancel``. The finished form runs
``action_eligibility_submit``. Which centre receives it comes from the service directory, never invented.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActionExecutionRejected, ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.eligibility.action_base import EligibilityAction
from bot.eligibility.contact import mask_phone, read_consent, read_name, read_phone, split_name_and_phone
from bot.eligibility.flow import Flow
from bot.eligibility.ports import Contact
from bot.eligibility.service import EligibilityService

__all__ = ["CONTACT_FORM", "CONTACT_SLOTS", "contact_actions"]

CONTACT_FORM = "pre_application_form"
CONSENT, NAME, PHONE = "elig_consent", "elig_contact_name", "elig_contact_phone"
CONTACT_SLOTS = (CONSENT, NAME, PHONE)
TOKEN_SLOT = "elig_token"
YES, NO, SKIP = "yes", "no", "skip"  # the buttons' values (SKIP: 不留了 at the name or phone question)
STOP_INTENTS = frozenset({"elig_cancel", "goodbye", "deny"})


def _answer(value: str) -> str:
    return "/elig_answer" + json.dumps({"elig_value": value})


def _cleared() -> list[EventType]:
    return [SlotSet(slot, None) for slot in CONTACT_SLOTS]


def _declines(flow: Flow, text: str) -> bool:
    """不留了 (the button, or the words of 不留) at the name or phone question: send without them."""
    return text == SKIP or read_consent(text, (), tuple(str(w) for w in flow.contact["no_words"])) is False


class StartSending(EligibilityAction):
    """"发给法律援助中心": say why nothing is sent (no result, already sent), else start the contact form."""

    action_name = "action_eligibility_send"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        flow = self.service.flow
        token = tracker.get_slot(TOKEN_SLOT)
        if not token:
            dispatcher.utter_message(text=flow.text("no_result_yet"))
            return []
        status, code = await asyncio.to_thread(self.service.status, str(token))
        if status == "not_found":
            dispatcher.utter_message(text=str(flow.result["not_found"]))
            return []
        if status == "sent":
            dispatcher.utter_message(text=str(flow.result["already_sent"]).format(code=code))
            return []
        return [*_cleared(), ActiveLoop(CONTACT_FORM)]  # the form is predicted next and asks for consent


class ValidateContactForm(FormValidationAction):
    """Reads consent, name and phone; giving up rejects the form so the rules stop it kindly."""

    def __init__(self, service: EligibilityService) -> None:
        self.service = service

    def name(self) -> str:
        return f"validate_{CONTACT_FORM}"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: dict[str, Any]) -> list[str]:
        return [CONSENT, NAME, PHONE] if tracker.get_slot(CONSENT) == YES else [CONSENT]

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        slot = tracker.get_slot("requested_slot")
        value = tracker.slots_to_validate().get(slot) if slot in CONTACT_SLOTS else None
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if value is not None and intent in STOP_INTENTS and not self._answers(str(slot), str(value)):
            return [SlotSet(str(slot), None), ActionExecutionRejected(CONTACT_FORM)]
        events: list[EventType] = await super().run(dispatcher, tracker, domain)
        return events

    def _answers(self, slot: str, text: str) -> bool:
        """Whether ``text`` is a reply to the question (不留 is one, even when the NLU heard "no")."""
        flow = self.service.flow
        if slot == CONSENT:
            return text in (YES, NO) or self._consent(text) is not None
        return _declines(flow, text) or (read_phone(text).valid if slot == PHONE else self._name(text) is not None)

    def _consent(self, text: str) -> bool | None:
        words = self.service.flow.contact
        return read_consent(text, tuple(str(w) for w in words["yes_words"]), tuple(str(w) for w in words["no_words"]))

    def _name(self, text: str) -> str | None:
        name = read_name(text)
        return None if name is None or self.service.flow.asks(name) else name

    async def validate_elig_consent(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> dict[str, Any]:
        if value is None:
            return {CONSENT: None}
        said = str(value)
        agreed = said == YES or (said != NO and self._consent(said))
        if said in (YES, NO) or agreed is not None:
            return {CONSENT: YES if agreed else NO}
        dispatcher.utter_message(text=str(self.service.flow.contact["consent_invalid"]))
        return {CONSENT: None}

    async def validate_elig_contact_name(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                         domain: DomainDict) -> dict[str, Any]:
        if value is None:
            return {NAME: None}
        flow = self.service.flow
        if _declines(flow, str(value)):
            return {CONSENT: NO, NAME: None, PHONE: None}
        words, phone = split_name_and_phone(str(value))  # "张三 13912345678" at once
        name = self._name(words)
        if name is None:
            dispatcher.utter_message(text=str(flow.contact["name_invalid"]))
            return {NAME: None}
        if phone is not None and phone.valid:
            return {NAME: name, PHONE: phone.digits}
        return {NAME: name}

    async def validate_elig_contact_phone(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                          domain: DomainDict) -> dict[str, Any]:
        if value is None:
            return {PHONE: None}
        flow = self.service.flow
        if _declines(flow, str(value)):
            return {CONSENT: NO, NAME: None, PHONE: None}
        reading = read_phone(str(value))
        if reading.valid:
            return {PHONE: reading.digits}
        key = "phone_no_area_code" if reading.kind == "no_area_code" else "phone_invalid"
        dispatcher.utter_message(text=str(flow.contact[key]))
        return {PHONE: None}


class AskContact(EligibilityAction):
    """``action_ask_<slot>`` of the contact form: the question with its quick replies."""

    def __init__(self, service: EligibilityService, slot: str) -> None:
        super().__init__(service)
        self.slot = slot

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        service = self.service
        texts = service.flow.contact
        cancel = {"title": str(texts["cancel_button"]), "payload": "/elig_cancel"}
        if self.slot == CONSENT:
            centre = await asyncio.to_thread(service.centre, tracker.get_slot(TOKEN_SLOT))
            text = str(texts["consent"]).format(centre=service.centre_words(centre)[0], days=service.retention_days)
            buttons = [{"title": str(texts["yes_button"]), "payload": _answer(YES)},
                       {"title": str(texts["no_button"]), "payload": _answer(NO)}, cancel]
        else:
            text = str(texts["name" if self.slot == NAME else "phone"])
            buttons = [{"title": str(texts["skip_button"]), "payload": _answer(SKIP)}, cancel]
        dispatcher.utter_message(text=text, buttons=buttons)
        return []


class SubmitPreApplication(EligibilityAction):
    """The contact form is done: send, with the name and phone when given; say who receives it."""

    action_name = "action_eligibility_submit"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        service = self.service
        flow = service.flow
        token = tracker.get_slot(TOKEN_SLOT)
        name, phone = tracker.get_slot(NAME), tracker.get_slot(PHONE)
        agreed = tracker.get_slot(CONSENT) == YES and name and phone
        contact = Contact(str(name), str(phone)) if agreed else None
        outcome = await service.submit(str(token or ""), contact)
        centre, reach = service.centre_words(outcome.centre)
        if outcome.status == "sent" and contact is not None:
            text = str(flow.contact["sent_with_contact"]).format(centre=centre, code=outcome.code,
                                                                 phone=mask_phone(contact.phone))
        elif outcome.status == "sent":
            text = str(flow.contact["sent_without_contact"]).format(centre=centre, code=outcome.code, reach=reach)
        else:
            key = {"already": "already_sent", "failed": "sent_failed"}.get(outcome.status, "not_found")
            text = str(flow.result[key]).format(code=outcome.code)
        dispatcher.utter_message(text=text)
        return _cleared()


class CancelSending(EligibilityAction):
    """取消 / 再见 / 不用了 while the contact is asked: nothing is sent; how to send later or go oneself."""

    action_name = "action_eligibility_contact_cancel"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        centre = await asyncio.to_thread(self.service.centre, tracker.get_slot(TOKEN_SLOT))
        reach = self.service.centre_words(centre)[1]
        dispatcher.utter_message(text=str(self.service.flow.contact["cancelled"]).format(reach=reach))
        return [ActiveLoop(None), SlotSet("requested_slot", None), *_cleared()]


def contact_actions(service: EligibilityService) -> list[Action]:
    """The sending's actions, with the service injected (registered with the self-check's)."""
    return [StartSending(service), ValidateContactForm(service), SubmitPreApplication(service),
            CancelSending(service), *(AskContact(service, slot) for slot in CONTACT_SLOTS)]
