"""Rasa custom actions, served by this app at ``/webhook`` with the rasa-sdk protocol.

Each action reads the tracker, calls the injected ``AnswerComposer`` (in a worker thread: retrieval is
CPU-bound), answers through the dispatcher and returns events. The executor is rasa-sdk's own.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet, UserUtteranceReverted
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher

from bot.answers import DETAIL_BUTTONS, DETAIL_PARTS, TOPICS, Answer, AnswerComposer
from bot.eligibility.actions import eligibility_actions
from bot.eligibility.service import EligibilityService
from bot.places import PLACE_PAYLOAD, Places
from nlu.affirmation import affirmation_response

__all__ = ["build_executor"]


def _meta(answer: Answer) -> dict[str, Any]:
    meta: dict[str, Any] = {"citations": list(answer.citations), "confident": answer.confident, "card": answer.card,
                            "confidence": round(answer.confidence, 3), "topic": answer.topic}
    if answer.kind != "answer":
        meta["answer_kind"] = answer.kind
    if answer.details:
        meta["buttons"] = DETAIL_BUTTONS
        meta["menu"] = "details"
    if answer.options:  # several problems: typing 2 asks the second one's question
        meta["buttons"] = [{"title": title, "payload": question} for title, question in answer.options]
        meta["menu"] = "several"
    return {"lawline": meta}


def _remember(question: str, answer: Answer, topic: str | None) -> list[EventType]:
    """What the next turn needs: the question answered, its card and articles, the topic (slots)."""
    if not answer.confident:
        return []
    events: list[EventType] = [SlotSet("last_question", question), SlotSet("last_card", answer.card),
                               SlotSet("last_citations", "|".join(answer.citations))]
    if (answer.topic or topic) in TOPICS:
        events.append(SlotSet("topic", answer.topic or topic))
    return events


def _remember_follow_up(text: str, previous: str, answer: Answer, topic: str | None) -> list[EventType]:
    """After a follow-up the question answered stays the first one: a second follow-up leans on it too.

    Unless the follow-up was a new question of its own.
    """
    if answer.kind == "answer":
        return _remember(text, answer, answer.topic)
    return [e for e in _remember(previous, answer, topic) if e.get("name") != "last_question"]


def _same_answer(answer: Answer, last_card: str | None, last_cites: tuple[str, ...]) -> bool:
    if answer.card is not None:
        return answer.card == last_card
    return bool(answer.citations) and answer.citations == last_cites


def _same_words(text: str, previous: str | None) -> bool:
    """The question sent again (articles alone: a new question may well quote the same ones)."""
    def words(value: str) -> str:
        return "".join(ch for ch in value if ch.isalnum())
    return previous is not None and words(text) == words(previous)


def _previous(tracker: Tracker) -> tuple[str | None, str | None, tuple[str, ...]]:
    cites = str(tracker.get_slot("last_citations") or "")
    return tracker.get_slot("last_question"), tracker.get_slot("last_card"), tuple(c for c in cites.split("|") if c)


async def _follow_up(composer: AnswerComposer, text: str, previous: str, last_card: str | None,
                     last_cites: tuple[str, ...], topic: str | None) -> tuple[Answer, list[EventType]]:
    """A follow-up's answer; the same question again (in its words, or the card just given) is the pointer."""
    if _same_words(text, previous):
        answer = await asyncio.to_thread(composer.answer, text, topic=topic, context=last_cites)
        if _same_answer(answer, last_card, last_cites):
            return composer.repeat(answer), []
        return answer, _remember(text, answer, topic)
    answer = await asyncio.to_thread(composer.follow_up, text, previous, topic=topic, context=last_cites)
    if answer.card is not None and answer.card == last_card:  # asked again in other words: no resent card
        return composer.repeat(answer), []
    return answer, _remember_follow_up(text, previous, answer, topic)


async def answer_in_context(composer: AnswerComposer, text: str, tracker: Tracker,
                            topic: str | None) -> tuple[Answer, list[EventType]]:
    """The answer to ``text`` given the conversation: a follow-up of the last question, a repeat, or new."""
    previous, last_card, last_cites = _previous(tracker)
    if previous and not _same_words(text, previous) and composer.is_follow_up(text, previous):
        return await _follow_up(composer, text, previous, last_card, last_cites, topic)
    several = await asyncio.to_thread(composer.several, text, topic=topic)
    if several is not None:  # the numbered problems are questions of their own, not follow-ups of this one
        return several, [SlotSet("last_question", None), SlotSet("last_card", None), SlotSet("last_citations", None)]
    answer = await asyncio.to_thread(composer.answer, text, topic=topic, context=last_cites)
    if _same_answer(answer, last_card, last_cites) and (answer.card is not None or _same_words(text, previous)):
        return composer.repeat(answer), []
    return answer, _remember(text, answer, topic)


class ComposerAction(Action):
    """An answering action: the composer injected; a subclass sets ``action_name`` (its name in the domain)."""

    action_name: ClassVar[str]

    def __init__(self, composer: AnswerComposer) -> None:
        self.composer = composer

    def name(self) -> str:
        return self.action_name


class AnswerLegalQuestion(ComposerAction):
    """Answer a wages/support/land/dispute question from an answer card or quoted articles, in context."""

    action_name = "action_answer_legal_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        text = str(tracker.latest_message.get("text") or "")
        intent = str((tracker.latest_message.get("intent") or {}).get("name") or "")
        topic = intent if intent in TOPICS else tracker.get_slot("topic")
        topic = topic if topic in TOPICS else None
        answer, events = await answer_in_context(self.composer, text, tracker, topic)
        dispatcher.utter_message(text=answer.text, json_message=_meta(answer))
        if topic is not None and not any(e.get("name") == "topic" for e in events):
            events.append(SlotSet("topic", topic))
        return events


class AnswerFollowUp(ComposerAction):
    """A follow-up ("这个要多久", "那他不认账呢"): answered in the context of the last question."""

    action_name = "action_answer_follow_up"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        # The conversation service sends a follow-up as /follow_up{"said": …} when it leans on an answer.
        text = next((str(e.get("value")) for e in tracker.latest_message.get("entities") or []
                     if e.get("entity") == "said"), str(tracker.latest_message.get("text") or ""))
        topic = tracker.get_slot("topic")
        topic = topic if topic in TOPICS else None
        previous, last_card, last_cites = _previous(tracker)
        if previous:
            answer, events = await _follow_up(self.composer, text, previous, last_card, last_cites, topic)
        else:  # nothing to lean on: a question of its own
            answer = await asyncio.to_thread(self.composer.answer, text, topic=topic, context=last_cites)
            events = _remember(text, answer, topic)
        dispatcher.utter_message(text=answer.text, json_message=_meta(answer))
        return events


def _typed_part(text: str) -> str:
    """Which part a typed request means ("具体怎么办" → steps, "去哪里办" → where); the articles otherwise."""
    if any(cue in text for cue in ("哪里", "哪儿", "哪个部门", "地点", "地方", "找谁")):
        return "where"
    if any(cue in text for cue in ("怎么办", "咋办", "咋做", "怎么做", "步", "咋弄")):
        return "steps"
    return "law"


class AnswerDetails(ComposerAction):
    """1 / 2 / 3 after a short answer: the articles in full, every step, the places (``/details{"part"}``).

    The places are the answer's own kinds of office, then the directory's service points near the resident.
    """

    action_name = "action_answer_details"

    def __init__(self, composer: AnswerComposer, places: Places | None = None) -> None:
        super().__init__(composer)
        self.places = places

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        typed = str(tracker.latest_message.get("text") or "")
        part = next((str(e.get("value")) for e in tracker.latest_message.get("entities") or []
                     if e.get("entity") == "part"), _typed_part(typed))
        _, card, citations = _previous(tracker)
        topic = tracker.get_slot("topic")
        part = part if part in DETAIL_PARTS else "law"
        text = self.composer.details(part, card=card, citations=citations, topic=topic if topic in TOPICS else None)
        if part == "where" and self.places is not None and (card or citations):
            nearby = await asyncio.to_thread(self.places.where, tracker.sender_id, typed, offer_towns=False)
            text = f"{text}\n\n{nearby.text}"
        meta = {"lawline": {"answer_kind": "details", "card": card, "citations": list(citations),
                            "buttons": DETAIL_BUTTONS, "menu": "details"}}
        dispatcher.utter_message(text=text, json_message=meta)
        return []


class WhereToGo(ComposerAction):
    """"去哪里办事": the service points of the resident's village or town (``bot.places``).

    After an answer, its kinds of office come first (as 3 brings them); with no place known, the county's
    points and the towns to choose from (``/where_to_go{"place": code}``; typing a number or name picks one).
    """

    action_name = "action_where_to_go"

    def __init__(self, composer: AnswerComposer, places: Places | None) -> None:
        super().__init__(composer)
        self.places = places

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        typed = str(tracker.latest_message.get("text") or "")
        chosen = next((str(e.get("value")) for e in tracker.latest_message.get("entities") or []
                       if e.get("entity") == "place"), None)
        _, card, citations = _previous(tracker)
        topic = tracker.get_slot("topic")
        answered = (self.composer.details("where", card=card, citations=citations,
                                          topic=topic if topic in TOPICS else None) if card or citations else "")
        if self.places is None:  # no directory wired (bare executor): the answer's places, or the hotline
            dispatcher.utter_message(text=answered or self.composer.texts.where["hotline"])
            return []
        said = "" if typed.startswith(PLACE_PAYLOAD) else typed
        nearby = await asyncio.to_thread(self.places.where, tracker.sender_id, said, chosen=chosen)
        text = f"{answered}\n\n{nearby.text}" if answered else nearby.text
        meta: dict[str, Any] = {"answer_kind": "where"}
        if nearby.buttons:
            meta.update(buttons=nearby.buttons, menu="places")
        dispatcher.utter_message(text=text, json_message={"lawline": meta})
        return []


# How sure retrieval must be of a card before an other_legal question is asked about it. On 23 questions the
# team wrote to check this (criminal, administrative, company and civil ones; not from any evaluation set),
# the cards that were the right ones scored 0.34-0.47 and the wrong ones 0.20-0.33 (e.g. a theft arrest
# matched a support card at 0.27). A wrong offer costs the resident one look; a missed one leaves the kind
# decline.
OFFER_CONFIDENCE = 0.35


class AnswerOtherLegal(ComposerAction):
    """A question the NLU put outside Lawline's topics (criminal, administrative, company …).

    Said kindly, with 12348 and a lawyer (``utter_other_legal``). But the NLU also files some civil disputes
    here; when one of our answer cards matches the question well enough to be answered, the resident is
    asked whether that card's question is what they mean, with a button (reply 是) whose payload is that
    question — so a wrong topic costs one look, not a refusal, and never a wrong answer unasked.
    """

    action_name = "action_answer_other_legal"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        text = str(tracker.latest_message.get("text") or "")
        previous, _, _ = _previous(tracker)
        # Only a message that leans on the answer before in words (那/要是/呢…) is taken in its context here: a
        # short new question the NLU put outside the topics ("公司偷税漏税怎么举报") is not a follow-up.
        if previous and self.composer.leans(text):
            topic = tracker.get_slot("topic")
            answer, events = await answer_in_context(self.composer, text, tracker, topic if topic in TOPICS else None)
            dispatcher.utter_message(text=answer.text, json_message=_meta(answer))
            return events
        answer = await asyncio.to_thread(self.composer.answer, text)
        offer = answer.card is not None and answer.confidence >= OFFER_CONFIDENCE
        question = self.composer.card_question(answer.card) if offer and answer.card else None
        if question:
            dispatcher.utter_message(response="utter_offer_card_question", question=question,
                                     buttons=[{"title": "是", "payload": question}])
        else:
            dispatcher.utter_message(response="utter_other_legal")
        return []


class Handoff(ComposerAction):
    """Hand the conversation to a person (转人工).

    The action does not know who the resident is (Rasa sees a pseudonym), so it signals the handoff in its
    message (``custom.lawline.handoff``, with the topic slot); the conversation service then opens the
    ticket through ``handoff.desk`` and replaces the text. Without escalation wired, the text stands: how
    to reach a person now.
    """

    action_name = "action_handoff"

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


class AskAffirmation(ComposerAction):
    """First stage of the two-stage fallback, in Chinese: "您是想问……吗？" with 是 / 不是 buttons.

    Never on a follow-up: after an answer, a message that leans on it ("要是村里不同意呢") or any question
    the NLU is unsure of ("离婚要走啥手续") is answered in that answer's context instead of being asked
    about; the question back is for an unclear first message (issue #15).
    """

    action_name = "action_default_ask_affirmation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        text = str(tracker.latest_message.get("text") or "")
        previous, _, _ = _previous(tracker)
        asking_form = tracker.get_slot("requested_slot") is not None  # a form's question waits: Rasa's way
        if previous and not asking_form and (self.composer.is_follow_up(text, previous) or self.composer.asks(text)):
            topic = tracker.get_slot("topic")
            answer, events = await answer_in_context(self.composer, text, tracker, topic if topic in TOPICS else None)
            dispatcher.utter_message(text=answer.text, json_message=_meta(answer))
            return events
        response = affirmation_response(tracker.latest_message or {}, domain.get("responses") or {})
        dispatcher.utter_message(**response)
        return []


def build_executor(composer: AnswerComposer, eligibility: EligibilityService | None = None,
                   places: Places | None = None) -> ActionExecutor:
    """An executor with Lawline's actions registered as instances (their services injected).

    ``eligibility`` runs the legal-aid self-check (its ``action_offer_legal_aid`` starts the form); without
    one, the check runs on the shipped rules and keeps no records. ``places`` lists the directory's service
    points for "去哪里办事" and 3 after an answer.
    """
    executor = ActionExecutor()
    for eligibility_action in eligibility_actions(eligibility or EligibilityService.from_folder()):
        executor.register_action(eligibility_action)
    for action in (AnswerLegalQuestion(composer), AnswerFollowUp(composer), AnswerDetails(composer, places),
                   WhereToGo(composer, places),
                   AnswerOtherLegal(composer), Handoff(composer), AskAffirmation(composer), OfferPerson()):
        executor.register_action(action)
    return executor
