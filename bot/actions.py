"""Rasa custom actions, served by this app at ``/webhook`` with the rasa-sdk protocol.

Each action reads the tracker, calls the injected ``AnswerComposer`` (in a worker thread: retrieval is
CPU-bound), answers through the dispatcher and returns events. The executor is rasa-sdk's own.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher

from bot.answers import TOPICS, Answer, AnswerComposer
from nlu.affirmation import affirmation_response

__all__ = ["build_executor"]


def _meta(answer: Answer) -> dict[str, Any]:
    return {"lawline": {"citations": list(answer.citations), "confident": answer.confident, "card": answer.card,
                        "confidence": round(answer.confidence, 3)}}


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


class OfferLegalAid(Action):
    """Explain free legal aid with the articles it rests on and where to apply."""

    def __init__(self, composer: AnswerComposer) -> None:
        self.composer = composer

    def name(self) -> str:
        return "action_offer_legal_aid"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        answer = self.composer.legal_aid()
        dispatcher.utter_message(text=answer.text, json_message=_meta(answer))
        return []


class Handoff(Action):
    """Tell the resident how to reach a person now (online escalation arrives with issue #5)."""

    def __init__(self, composer: AnswerComposer) -> None:
        self.composer = composer

    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(text=self.composer.texts.handoff)
        return []


class AskAffirmation(Action):
    """First stage of the two-stage fallback, in Chinese: "您是想问……吗？" with 是 / 不是 buttons."""

    def name(self) -> str:
        return "action_default_ask_affirmation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        response = affirmation_response(tracker.latest_message or {}, domain.get("responses") or {})
        dispatcher.utter_message(**response)
        return []


def build_executor(composer: AnswerComposer) -> ActionExecutor:
    """An executor with Lawline's actions registered as instances (their services injected)."""
    executor = ActionExecutor()
    for action in (AnswerLegalQuestion(composer), OfferLegalAid(composer), Handoff(composer), AskAffirmation()):
        executor.register_action(action)
    return executor
