"""The resident's web chat (``/chat``, behind the official account's menu): its page, history and live messages.

The page talks to ``POST /api/chat/messages`` (``bot.app``). A person's replies and the notices of a case
(转办, 办结) cannot be pushed to a web resident; they wait in the outbox (``handoff.delivery``). While the page
is open it listens, and takes them as they come (``bot.live``, the console's queue uses the same):

- ``GET /api/chat/events?session=…&after=…`` with ``Accept: text/event-stream``: server-sent events, one
  stream per open chat for about a minute (then the browser reconnects by itself, sending ``Last-Event-ID``).
- the same URL without it: a long poll, answered as soon as something comes or after ``wait`` seconds (at most
  25), ``{"session", "events": [{"id", "kind", "text"}], "after"}``. The page falls back to it where
  ``EventSource`` is missing or its stream fails (an old in-app browser, a proxy that buffers).

Either way the outbox is read every second, so it works whichever process (or machine) the adviser's reply
went through. A message taken live is recorded in the conversation as said (``engine="handoff"``,
``meta.delivered``), so a reload shows it (``GET /api/chat/history?session=…``) and the resident's next
message does not repeat it. A closed page takes nothing: the resident sees it on reload or with their next
message, as before. ``after`` is the last event id the page showed: what was taken live after it is sent
again (a stream cut mid-message, a second tab); the page drops ids it has shown.

The session id (32 letters and digits, in the browser's ``localStorage``) is what gives access to a
conversation; an unknown one is a calm 404, a malformed one a 400.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.console.feedback import is_answer
from bot.http_input import BAD_FORMAT
from bot.live import Event, cursor, live_response, wait
from bot.models import Conversation, Message
from channels.ports import HistoryView, Option, ShownMessage, TurnView
from channels.texts import ChannelTexts
from handoff.delivery import LiveDelivery, take_live
from handoff.ports import Clock, utc_now

__all__ = ["ChatPage", "conversation_so_far", "describe_turn", "web_chat_routes"]

TEMPLATES = Path(__file__).resolve().parent / "templates"
SESSION = re.compile(r"[A-Za-z0-9]{32}")
POLL_SECONDS = 1.0  # how often an open chat looks in the outbox
HISTORY_MESSAGES = 100


class ChatPage:
    """The page, rendered with Jinja2 (autoescaped) with its script's nonce and its words (``ChannelTexts``)."""

    def __init__(self, texts: ChannelTexts | None = None) -> None:
        environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
        self.template = environment.get_template("chat.html")
        self.texts = dict((texts or ChannelTexts()).web_chat)

    def render(self, nonce: str) -> HTMLResponse:
        """The page for one response (``nonce``: its Content-Security-Policy script nonce)."""
        return HTMLResponse(self.template.render(csp_nonce=nonce, texts=self.texts))


# ---- what the page is told about each message --------------------------------------------------------
def _kinds(messages: list[Message]) -> list[str]:
    """``answer`` (rated: the first answer of its turn), ``staff`` (a person's reply, a case notice) or ``bot``."""
    kinds, rated = [], False
    for message in messages:
        if message.direction == "in":
            kinds.append("me")
            rated = False
        elif (message.meta or {}).get("delivered"):
            kinds.append("staff")
        elif not rated and is_answer(message):
            kinds.append("answer")
            rated = True
        else:
            kinds.append("bot")
    return kinds


def _options(messages: list[Message]) -> list[Option]:
    """The options Lawline's last reply offers, numbered as typing them means (``bot.conversation``)."""
    last = next((m for m in reversed(messages) if m.direction == "in" or not (m.meta or {}).get("delivered")), None)
    if last is None or last.direction == "in":
        return []
    buttons = [b for b in (last.meta or {}).get("buttons") or [] if isinstance(b, dict)]
    return [Option(number=number, title=str(b["title"])) for number, b in enumerate(buttons, 1) if b.get("title")]


def _recent(session: Session, key: str, limit: int) -> list[Message]:
    conversation_id = session.scalar(select(Conversation.id).where(Conversation.key == key))
    if conversation_id is None:
        return []
    rows = session.scalars(select(Message).where(Message.conversation_id == conversation_id)
                           .order_by(Message.id.desc()).limit(limit)).all()
    return list(reversed(rows))


def describe_turn(sessions: sessionmaker[Session], key: str, replies: list[str]) -> TurnView:
    """The fields a client reads beside ``replies`` (which keep their meaning): ``kinds`` and ``options``.

    ``kinds[i]`` says what ``replies[i]`` is (``answer``, ``bot``, ``staff``), from the turn just recorded in the
    conversation ``key`` (the web chat's ``web:<session>``, the mini-program's ``bot.conversation`` key).
    """
    if not replies:
        return TurnView(kinds=[], options=[])
    with sessions() as session:
        recent = _recent(session, key, len(replies) + 10)
    if [m.text for m in recent[-len(replies):]] != replies:  # another message of the session came in between
        return TurnView(kinds=["bot"] * len(replies), options=[])
    return TurnView(kinds=_kinds(recent)[-len(replies):], options=_options(recent))


def conversation_so_far(sessions: sessionmaker[Session], key: str) -> tuple[HistoryView, int] | None:
    """The last messages of conversation ``key`` and the options offered, with the last live delivery shown.

    None when there is no such conversation.
    """
    with sessions() as session:
        if session.scalar(select(Conversation.id).where(Conversation.key == key)) is None:
            return None
        recent = _recent(session, key, HISTORY_MESSAGES)
    after = max((int(m.meta["delivery"]) for m in recent if isinstance((m.meta or {}).get("delivery"), int)),
                default=0)
    messages = [ShownMessage(kind=kind, text=m.text) for m, kind in zip(recent, _kinds(recent), strict=True)]
    return HistoryView(messages=messages, options=_options(recent)), after


# ---- live messages -------------------------------------------------------------------------------------
def _take(sessions: sessionmaker[Session], key: str, after: int, clock: Clock) -> list[LiveDelivery]:
    """What waits for the resident, taken and recorded as said, in one transaction."""
    with sessions.begin() as session:
        shown = take_live(session, key, clock(), after=after)
        new = [d for d in shown if d.new]
        if new:
            conversation_id = session.scalar(select(Conversation.id).where(Conversation.key == key))
            if conversation_id is not None:
                session.add_all([Message(conversation_id=conversation_id, direction="out", channel="web", text=d.text,
                                         engine="handoff", meta={"delivered": True, "delivery": d.id})
                                 for d in new])
    return shown


def _event(delivery: LiveDelivery) -> dict[str, Any]:
    return {"id": delivery.id, "kind": "staff", "text": delivery.text}


def web_chat_routes(sessions: sessionmaker[Session], clock: Clock = utc_now,
                    texts: ChannelTexts | None = None) -> list[BaseRoute]:
    """``GET /api/chat/history`` and ``GET /api/chat/events`` (see the module's docstring)."""
    words = (texts or ChannelTexts()).web_chat

    def refused(status: int) -> JSONResponse:
        return JSONResponse({"error": words["not_found"] if status == 404 else BAD_FORMAT}, status_code=status)

    def session_of(request: Request) -> str | None:
        value = request.query_params.get("session", "")
        return value if SESSION.fullmatch(value) else None

    async def history(request: Request) -> Response:
        web_session = session_of(request)
        if web_session is None:
            return refused(400)
        found = await asyncio.to_thread(conversation_so_far, sessions, f"web:{web_session}")
        if found is None:
            return refused(404)
        view, after = found
        return JSONResponse({"session": web_session, **view, "after": after}, headers={"Cache-Control": "no-store"})

    async def events(request: Request) -> Response:
        web_session = session_of(request)
        after = cursor(request)
        if web_session is None or after is None:
            return refused(400)
        key = f"web:{web_session}"
        if not await asyncio.to_thread(_exists, sessions, key):
            return refused(404)

        if "text/event-stream" not in request.headers.get("accept", "") and wait(request) is None:
            return refused(400)

        async def take(since: int) -> list[Event]:
            return [(d.id, _event(d)) for d in await asyncio.to_thread(_take, sessions, key, since, clock)]

        return await live_response(request, take, after, poll=POLL_SECONDS, extra={"session": web_session})

    return [Route("/api/chat/history", history), Route("/api/chat/events", events)]


def _exists(sessions: sessionmaker[Session], key: str) -> bool:
    with sessions() as session:
        return session.scalar(select(Conversation.id).where(Conversation.key == key)) is not None
