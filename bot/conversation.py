"""The conversation service every channel calls: record, ask Rasa, fall back to retrieval, record.

Rasa (its own process, see ``nlu``) decides what to do; the custom actions it calls back into this app
compose the answers. If Rasa is down or slower than ``engine_timeout``, the resident still gets an answer
from retrieval directly (with the hotline), and the message is recorded either way, so nothing is lost;
the next message goes to Rasa again. On a channel that pushes, the answer's parts are stored in the outbox
(``handoff_deliveries``) in the same transaction as the answer (``hold_replies``; ``bot.outbox``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.answers import DETAIL_BUTTONS, DETAIL_PARTS, AnswerComposer
from bot.console.feedback import rate_typed_reply, typed_rating
from bot.models import Conversation, Message
from channels.ports import ChannelUser, Receipt
from channels.splitting import pack_replies
from handoff.delivery import hold_answer
from handoff.desk import HandoffDesk, Resident
from handoff.ports import utc_now
from nlu.errors import RasaUnavailable

__all__ = ["ConversationService", "DialogueEngine", "conversation_key", "hold_replies", "sender_id"]

log = logging.getLogger(__name__)
_MEANINGFUL = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")
MAX_ENGINE_CHARS = 1000


class DialogueEngine(Protocol):
    """What the service needs from Rasa: one turn in, the bot's messages out."""

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        ...


def conversation_key(user: ChannelUser) -> str:
    """One key per person: UnionID across official account and mini-program, else the channel identity."""
    if user.unionid:
        return f"union:{user.unionid}"
    return f"{user.channel}:{user.openid}"


def _render(message: dict[str, Any]) -> str:
    """A Rasa message as plain text: WeChat text has no buttons, so their titles become what to reply."""
    text = str(message["text"]).strip()
    titles = [str(b.get("title")) for b in message.get("buttons") or [] if isinstance(b, dict) and b.get("title")]
    return f"{text}\n（请回复：{' / '.join(titles)}）" if titles else text


SHORT_REPLY_CHARS = 12  # a reply this short, to a question with options, is an answer to it, not a new question


def _button_payload(text: str, buttons: list[dict[str, str]]) -> str:
    """A typed button title (或 its number: 1, 2 …) stands for the button's payload, as a tap would."""
    typed = text.strip().strip("。.!！")
    for number, button in enumerate(buttons, 1):
        if typed in (button.get("title"), str(number)) and button.get("payload"):
            return button["payload"]
    return text


def hold_replies(session: Session, user: ChannelUser, receipt: Receipt, replies: list[str], now: dt.datetime) -> None:
    """Store ``replies`` packed into WeChat-sized parts for ``receipt`` (the caller's transaction)."""
    parts = pack_replies(replies)
    if parts:
        hold_answer(session, conversation_key(user), receipt.message_key, parts, now,
                    now + dt.timedelta(seconds=receipt.hold_seconds), channel=user.channel, openid=user.openid)


# An answer's 1 / 2 / 3, the greeting's numbered topics, the towns offered by "去哪里办事".
_MENU_PAYLOADS = ("/details", "/choose_topic", "/where_to_go")


def _is_answer_menu(buttons: list[dict[str, str]]) -> bool:
    """The buttons are a menu (an answer's 1 / 2 / 3, the greeting's 1–4), not a form's options."""
    # A payload that is plain text is a question offered by number (several problems in one message).
    return all(str(b.get("payload", "")).startswith(_MENU_PAYLOADS) or not str(b.get("payload", "")).startswith("/")
               for b in buttons)


def _after_answer(buttons: list[dict[str, str]]) -> bool:
    """Lawline's last reply was an answer (its 1 / 2 / 3 menu), so a short question may lean on it."""
    return any(str(b.get("payload", "")).startswith("/details") for b in buttons)


def _last_buttons(session: Session, conversation_id: int) -> list[dict[str, str]]:
    """The buttons of Lawline's own last reply (a person's reply shown since does not take them away)."""
    recent = session.scalars(
        select(Message).where(Message.conversation_id == conversation_id, Message.direction == "out")
        .order_by(Message.id.desc()).limit(5)
    ).all()
    last = next((m for m in recent if not (m.meta or {}).get("delivered")), None)
    return list((last.meta or {}).get("buttons") or []) if last is not None else []


def follow_up_payload(text: str) -> str:
    """``/follow_up{"said": …}``: the intent, with the resident's words (braces removed: Rasa's payload syntax)."""
    said = text.strip().replace("{", "（").replace("}", "）")[:MAX_ENGINE_CHARS // 2]
    return "/follow_up" + json.dumps({"said": said}, ensure_ascii=False)


def sender_id(key: str) -> str:
    """The stable pseudonym Rasa sees for a conversation key, never the WeChat identifiers."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class ConversationService:
    """Implements the channels' ``Conversation`` port."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        engine: DialogueEngine,
        composer: AnswerComposer,
        *,
        engine_timeout: float = 3.0,
        handoff: HandoffDesk | None = None,
        observe: Callable[[str, float], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.engine = engine
        self.composer = composer
        self.engine_timeout = engine_timeout
        self.handoff = handoff
        self.observe = observe  # (channel, seconds) of every answer, for the metrics

    async def respond(self, user: ChannelUser, text: str, receipt: Receipt | None = None) -> list[str]:
        """Answer one message from ``user``; with a ``receipt``, its parts also wait in the outbox."""
        started = time.monotonic()
        try:
            return await self._respond(user, text, receipt)
        finally:
            if self.observe is not None:
                self.observe(user.channel, time.monotonic() - started)

    async def _respond(self, user: ChannelUser, text: str, receipt: Receipt | None) -> list[str]:
        """Answer one message from ``user``.

        With escalation wired (``handoff``), the desk sees the message first: danger, a pending question,
        结束人工/转人工, or a case a person handles (then the bot stays out and the reply may be empty).
        """
        key = conversation_key(user)
        conversation_id, buttons = await asyncio.to_thread(self._record_in, key, user, text)
        replies: list[str]
        meta: dict[str, Any]
        waiting: list[str] = []
        who = Resident(key, user.channel, user.openid)
        if self.handoff is not None:
            in_form = bool(buttons) and not _is_answer_menu(buttons)
            desk = await asyncio.to_thread(partial(self.handoff.before_bot, in_form=in_form), who, text)
            if desk.handled:
                meta = desk.meta
                if buttons and meta.get("handoff") == "danger":  # the form's question still waits: 1, 2 … still mean it
                    meta = {**meta, "buttons": buttons}
                await asyncio.to_thread(self._record_out, conversation_id, user, desk.replies, "handoff", meta,
                                        receipt)
                return desk.replies
            waiting = desk.replies  # a person's replies that waited for the resident to write
        thanks = (await asyncio.to_thread(rate_typed_reply, self.sessions, conversation_id, text)
                  if typed_rating(text) is not None else None)  # 👍/👎 right after an answer (issue #6)
        if thanks is not None:
            replies, engine, meta = [thanks], "channel", {"feedback": True}
        elif not _MEANINGFUL.search(text):
            replies, engine, meta = [self.composer.texts.empty_message], "channel", {}
        else:
            payload = _button_payload(text, buttons)
            follow_up = payload == text and _after_answer(buttons) and self.composer.is_follow_up(text)
            if follow_up:  # leaning on the answer just given: Rasa is told so, with the words said
                payload = follow_up_payload(text)
            # A short reply to a form's question answers it; after an answer's 1 / 2 / 3 menu it may be a
            # follow-up question, which retrieval can answer when Rasa is down.
            in_step = bool(buttons) and not follow_up and (
                payload != text or (len(text.strip()) <= SHORT_REPLY_CHARS and not _is_answer_menu(buttons)))
            replies, engine, meta = await self._ask(key, payload, in_step=in_step, said=text)
            if meta.get("degraded") == "in_step":
                meta["buttons"] = buttons  # the resent reply still means the same option
            if self.handoff is not None:
                replies = await asyncio.to_thread(self.handoff.after_bot, who, text, replies, meta)
                if desk.preface:  # one message: the safety check, then the answer
                    replies = [f"{desk.preface}\n\n{replies[0]}", *replies[1:]] if replies else [desk.preface]
                if desk.postscript:  # the desk's question still waits (the village, before a handoff)
                    replies = [*replies, desk.postscript]
                if desk.meta:
                    meta = {**meta, **desk.meta}
        await asyncio.to_thread(self._record_out, conversation_id, user, replies, engine, meta, receipt, waiting)
        return waiting + replies

    async def _ask(self, key: str, text: str, *, in_step: bool = False,
                   said: str | None = None) -> tuple[list[str], str, dict[str, Any]]:
        """Rasa's reply; when Rasa is down or slow, retrieval's answer, or a request to resend.

        A short reply to a question Lawline just asked (``in_step``, e.g. a step of the legal-aid check) cannot
        be answered by retrieval ("不急"), so the resident is asked to send it again.
        """
        sender = sender_id(key)
        try:
            messages = await asyncio.wait_for(
                self.engine.send(sender, text[:MAX_ENGINE_CHARS], {"lawline": True}), self.engine_timeout
            )
        except (RasaUnavailable, TimeoutError) as exc:
            if text.startswith("/details"):  # 1 / 2 / 3 need no understanding: the last answer says what
                return await asyncio.to_thread(self._details_without_engine, key, text)
            if in_step:
                log.warning("dialogue engine unavailable (%s) in a step for %s; asked to resend",
                            type(exc).__name__, sender[:12])
                return [self.composer.texts.engine_busy_in_step], "retrieval", {"degraded": "in_step"}
            log.warning("dialogue engine unavailable (%s); answering from retrieval for %s", type(exc).__name__,
                        sender[:12])
            return await self._fallback(key, said or text)
        replies = [_render(m) for m in messages if isinstance(m.get("text"), str) and m["text"].strip()]
        meta: dict[str, Any] = {}
        offered = [b for m in messages for b in m.get("buttons") or [] if isinstance(b, dict)]
        for message in messages:
            custom = message.get("custom")
            if isinstance(custom, dict) and isinstance(custom.get("lawline"), dict):
                meta.update(custom["lawline"])
        if offered:  # a form's own options (继续 …) win over an answer's 1 / 2 / 3 in the same turn
            meta["buttons"] = [{"title": str(b.get("title")), "payload": str(b.get("payload"))} for b in offered]
        if not replies:
            log.warning("dialogue engine returned no text for %s; answering from retrieval", sender[:12])
            return await self._fallback(key, text)
        return replies, "rasa", meta

    async def _fallback(self, key: str, text: str) -> tuple[list[str], str, dict[str, Any]]:
        """Retrieval's answer; the last answer's citations say which law "第三十八条" alone is of."""
        last = await asyncio.to_thread(self._last_answer, key)
        answer = await asyncio.to_thread(self.composer.answer, text[:MAX_ENGINE_CHARS],
                                         context=tuple(last.get("citations") or ()))
        reply = f"{self.composer.texts.degraded_note}\n\n{answer.text}"
        meta: dict[str, Any] = {"citations": list(answer.citations), "confident": answer.confident,
                                "card": answer.card, "confidence": round(answer.confidence, 3),
                                "topic": answer.topic}
        if answer.details:
            meta.update(buttons=DETAIL_BUTTONS, menu="details")
        return [reply], "retrieval", meta

    def _details_without_engine(self, key: str, payload: str) -> tuple[list[str], str, dict[str, Any]]:
        """The articles, steps or places of the last answer (its card and citations are in its record)."""
        part = next((p for p in DETAIL_PARTS if f'"{p}"' in payload), "law")
        meta = self._last_answer(key)
        text = self.composer.details(part, card=meta.get("card"), citations=tuple(meta.get("citations") or ()),
                                     topic=meta.get("topic"))
        return [text], "retrieval", {"answer_kind": "details", "card": meta.get("card"),
                                     "citations": list(meta.get("citations") or ()), "buttons": DETAIL_BUTTONS,
                                     "menu": "details"}

    # ---- persistence (runs in a worker thread) -----------------------------------------------
    def _last_answer(self, key: str) -> dict[str, Any]:
        """The record of the last answer among Lawline's last five replies (its card and citations), or {}."""
        with self.sessions() as session:
            rows = session.scalars(select(Message.meta).join(Conversation)
                                   .where(Conversation.key == key, Message.direction == "out")
                                   .order_by(Message.id.desc()).limit(5)).all()
        return next((dict(m) for m in rows if m and (m.get("card") or m.get("citations"))), {})

    def _record_in(self, key: str, user: ChannelUser, text: str) -> tuple[int, list[dict[str, str]]]:
        """Record the message; return the conversation and the buttons of Lawline's last reply, if any."""
        with self.sessions.begin() as session:
            conversation = session.scalar(select(Conversation).where(Conversation.key == key))
            if conversation is None:
                conversation = Conversation(key=key, sender=sender_id(key), channel=user.channel, openid=user.openid,
                                            unionid=user.unionid)
                session.add(conversation)
                session.flush()
            else:
                conversation.last_seen_at = func.now()
            buttons = _last_buttons(session, conversation.id)
            session.add(Message(conversation_id=conversation.id, direction="in", channel=user.channel, text=text,
                                meta={}))
            return conversation.id, buttons

    def _record_out(self, conversation_id: int, user: ChannelUser, replies: list[str], engine: str,
                    meta: dict[str, Any], receipt: Receipt | None, delivered: list[str] | None = None) -> None:
        """Record Lawline's replies, after ``delivered``: a person's replies that waited (not the bot's answer)."""
        with self.sessions.begin() as session:
            for text in delivered or ():
                session.add(Message(conversation_id=conversation_id, direction="out", channel=user.channel,
                                    text=text, engine="handoff", meta={"delivered": True}))
            for reply in replies:
                session.add(Message(conversation_id=conversation_id, direction="out", channel=user.channel,
                                    text=reply, engine=engine, meta=meta))
            if receipt is not None:
                hold_replies(session, user, receipt, [*(delivered or ()), *replies],
                             self.handoff.clock() if self.handoff is not None else utc_now())
