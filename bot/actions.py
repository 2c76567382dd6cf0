"""Rasa custom actions, served by this app at ``/webhook`` with the rasa-sdk protocol.

Each action reads the tracker, calls the injected ``AnswerComposer`` (in a worker thread: retrieval is
CPU-bound), answers through the dispatcher and returns events. The executor is rasa-sdk's own.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet, UserUtteranceReverted
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher

from bot.answers import TOPICS, Answer, AnswerComposer
from bot.eligibility.actions import eligibility_actions
from bot.eligibility.service import EligibilityService
from nlu.affirmation import affirmation_response

__all__ = ["build_executor"]


def _meta(answer: Answer) -> dict[str, Any]:
    return {"lawline": {"citations": list(answer.citations), "confident": answer.confident, "card": answer.card,
                        "confidence": round(answer.confidence, 3), "topic": answer.topic}}


class AnswerLegalQuestion(Action):
    """Answer a wages/support/land/dispute question from an answer card or quoted articles."""

    def __init__(self, composer: AnswerComposer) -> None:
        self.composer = composer

    def name(self) -> str:
        return "action_answer_legal_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        text = str(tracker.latest_message.get("text") or "")
        intent = str((tracker.latest_message.get("intent") or {}).get("name") or "")
        topic = intent if intent in TOPICS else tracker.get_slot("topic")
        topic = topic if topic in TOPICS else None
        answer = await asyncio.to_thread(self.composer.answer, text, topic=topic)
        dispatcher.utter_message(text=answer.text, json_message=_meta(answer))
        events: list[EventType] = []
        if topic is not None:
            events.append(SlotSet("topic", topic))
        return events


# How sure retrieval must be of a card before an other_legal question is asked about it. On 23 questions the
# team wrote to check this (criminal, administrative, company and civil ones; not from any evaluation set),
# the cards that were the right ones scored 0.34-0.47 and the wrong ones 0.20-0.33 (e.g. a theft arrest
# matched a support card at 0.27). A wrong offer costs the resident one look; a missed one leaves the kind
# decline.
OFFER_CONFIDENCE = 0.35


class AnswerOtherLegal(Action):
    """A question the NLU put outside Lawline's topics (criminal, administrative, company …).

    Said kindly, with 12348 and a lawyer (``utter_other_legal``). But the NLU also files some civil disputes
    here; when one of our answer cards matches the question well enough to be answered, the resident is
    asked whether that card's question is what they mean, with a button (reply 是) whose payload is that
    question — so a wrong topic costs one look, not a refusal, and never a wrong answer unasked.
    """

    def __init__(self, composer: AnswerComposer) -> None:
        self.composer = composer

    def name(self) -> str:
        return "action_answer_other_legal"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        text = str(tracker.latest_message.get("text") or "")
        answer = await asyncio.to_thread(self.composer.answer, text)
        offer = answer.card is not None and answer.confidence >= OFFER_CONFIDENCE
        question = self.composer.card_question(answer.card) if offer and answer.card else None
        if question:
            dispatcher.utter_message(response="utter_offer_card_question", question=question,
                                     buttons=[{"title": "是", "payload": question}])
        else:
            dispatcher.utter_message(response="utter_other_legal")
        return []


class Handoff(Action):
    """Hand the conversation to a person (转人工).

    The action does not know who the resident is (Rasa sees a pseudonym), so it signals the handoff in its
    message (``custom.lawline.handoff``, with the topic slot); the conversation service then opens the
    ticket through ``handoff.desk`` and replaces the text. Without escalation wired, the text stands: how
    to reach a person now.
    """

    def __init__(self, composer: AnswerComposer) -> None:
        self.composer = composer

    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        topic = tracker.get_slot("topic")
        signal = {"reason": "requested", "topic": topic if topic in TOPICS else None}
        dispatcher.utter_message(text=self.composer.texts.handoff, json_message={"lawline": {"handoff": signal}})
        return []


class OfferPerson(Action):
    """The two-stage fallback's last step (overrides ``action_default_fallback``): say so, offer a person.

    Sends ``utter_default`` with 转人工 / 不用了 buttons; the ``offer_handoff`` signal lets the ticket say
    why (the bot did not understand twice). Reverts the user's turn, as Rasa's default fallback does.
    """

    def name(self) -> str:
        return "action_default_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        responses = (domain.get("responses") or {}).get("utter_default") or [{}]
        text = str(responses[0].get("text") or "")
        buttons = [{"title": "转人工", "payload": "/human"}, {"title": "不用了", "payload": "/deny"}]
        dispatcher.utter_message(text=text, buttons=buttons,
                                 json_message={"lawline": {"offer_handoff": "not_understood"}})
        return [UserUtteranceReverted()]


class AskAffirmation(Action):
    """First stage of the two-stage fallback, in Chinese: "您是想问……吗？" with 是 / 不是 buttons."""

    def name(self) -> str:
        return "action_default_ask_affirmation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        response = affirmation_response(tracker.latest_message or {}, domain.get("responses") or {})
        dispatcher.utter_message(**response)
        return []


def build_executor(composer: AnswerComposer, eligibility: EligibilityService | None = None) -> ActionExecutor:
    """An executor with Lawline's actions registered as instances (their services injected).

    ``eligibility`` runs the legal-aid self-check (its ``action_offer_legal_aid`` starts the form); without
    one, the check runs on the shipped rules and keeps no records.
    """
    executor = ActionExecutor()
    for eligibility_action in eligibility_actions(eligibility or EligibilityService.from_folder()):
        executor.register_action(eligibility_action)
    for action in (AnswerLegalQuestion(composer), AnswerOtherLegal(composer), Handoff(composer), AskAffirmation(),
                   OfferPerson()):
        executor.register_action(action)
    return executor
