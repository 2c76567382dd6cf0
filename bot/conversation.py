"""The conversation service every channel calls: record, ask Rasa, fall back to retrieval, record.

Rasa (its own process, see ``nlu``) decides what to do; the custom actions it calls back into this app
compose the answers. If Rasa is down or slower than ``engine_timeout``, the resident still gets an answer
from retrieval directly (with the hotline), and the message is recorded either way, so nothing is lost;
the next message goes to Rasa again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from functools import partial
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.answers import AnswerComposer
from bot.console.feedback import rate_typed_reply, typed_rating
from bot.models import Conversation, Message
from channels.ports import ChannelUser
from handoff.desk import HandoffDesk, Resident
from nlu.errors import RasaUnavailable

__all__ = ["ConversationService", "DialogueEngine", "conversation_key", "sender_id"]

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
    ) -> None:
        self.sessions = sessions
        self.engine = engine
        self.composer = composer
        self.engine_timeout = engine_timeout
        self.handoff = handoff

    async def pushed(self, user: ChannelUser, count: int) -> None:
        """``channels.ports.PushLedger``: a channel pushed ``count`` parts of an answer to ``user``.

        With escalation wired they count against the WeChat quota the handoff's deliveries share.
        """
        if self.handoff is not None and count > 0:
            await asyncio.to_thread(self.handoff.count_pushes, conversation_key(user), count)

    async def respond(self, user: ChannelUser, text: str) -> list[str]:
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
            desk = await asyncio.to_thread(partial(self.handoff.before_bot, in_form=bool(buttons)), who, text)
            if desk.handled:
                meta = desk.meta
                if buttons and meta.get("handoff") == "danger":  # the form's question still waits: 1, 2 … still mean it
                    meta = {**meta, "buttons": buttons}
                await asyncio.to_thread(self._record_out, conversation_id, user.channel, desk.replies, "handoff",
                                        meta)
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
            in_step = bool(buttons) and (payload != text or len(text.strip()) <= SHORT_REPLY_CHARS)
            replies, engine, meta = await self._ask(key, payload, in_step=in_step)
            if meta.get("degraded") == "in_step":
                meta["buttons"] = buttons  # the resent reply still means the same option
            if self.handoff is not None:
                replies = await asyncio.to_thread(self.handoff.after_bot, who, text, replies, meta)
                if desk.preface:  # one message: the safety check, then the answer
                    replies = [f"{desk.preface}\n\n{replies[0]}", *replies[1:]] if replies else [desk.preface]
                if desk.meta:
                    meta = {**meta, **desk.meta}
        replies = waiting + replies
        await asyncio.to_thread(self._record_out, conversation_id, user.channel, replies, engine, meta)
        return replies

    async def _ask(self, key: str, text: str, *, in_step: bool = False) -> tuple[list[str], str, dict[str, Any]]:
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
            if in_step:
                log.warning("dialogue engine unavailable (%s) in a step for %s; asked to resend",
                            type(exc).__name__, sender[:12])
                return [self.composer.texts.engine_busy_in_step], "retrieval", {"degraded": "in_step"}
            log.warning("dialogue engine unavailable (%s); answering from retrieval for %s", type(exc).__name__,
                        sender[:12])
            return await self._fallback(text)
        replies = [_render(m) for m in messages if isinstance(m.get("text"), str) and m["text"].strip()]
        meta: dict[str, Any] = {}
        offered = [b for m in messages for b in m.get("buttons") or [] if isinstance(b, dict)]
        if offered:
            meta["buttons"] = [{"title": str(b.get("title")), "payload": str(b.get("payload"))} for b in offered]
        for message in messages:
            custom = message.get("custom")
            if isinstance(custom, dict) and isinstance(custom.get("lawline"), dict):
                meta.update(custom["lawline"])
        if not replies:
            log.warning("dialogue engine returned no text for %s; answering from retrieval", sender[:12])
            return await self._fallback(text)
        return replies, "rasa", meta

    async def _fallback(self, text: str) -> tuple[list[str], str, dict[str, Any]]:
        answer = await asyncio.to_thread(self.composer.answer, text[:MAX_ENGINE_CHARS])
        reply = f"{self.composer.texts.degraded_note}\n\n{answer.text}"
        meta = {"citations": list(answer.citations), "confident": answer.confident, "card": answer.card,
                "confidence": round(answer.confidence, 3)}
        return [reply], "retrieval", meta

    # ---- persistence (runs in a worker thread) -----------------------------------------------
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
            last = session.scalar(
                select(Message).where(Message.conversation_id == conversation.id, Message.direction == "out")
                .order_by(Message.id.desc()).limit(1)
            )
            buttons = list((last.meta or {}).get("buttons") or []) if last is not None else []
            session.add(Message(conversation_id=conversation.id, direction="in", channel=user.channel, text=text,
                                meta={}))
            return conversation.id, buttons

    def _record_out(self, conversation_id: int, channel: str, replies: list[str], engine: str,
                    meta: dict[str, Any]) -> None:
        with self.sessions.begin() as session:
            for reply in replies:
                session.add(Message(conversation_id=conversation_id, direction="out", channel=channel, text=reply,
                                    engine=engine, meta=meta))
