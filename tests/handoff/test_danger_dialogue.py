"""Danger is recognised first in every state of a conversation, through the real Rasa server and the real
app: a plain chat, inside the legal-aid check (which then goes on where it was), during a case a person
handles (who is alerted at once), and with Rasa stopped. The messages avoid the patterns' words, so the
trained model is what recognises most of them (each test says which half fired)."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from bot.services import build_services
from channels.ports import ChannelUser
from handoff.models import OutboxMessage, Ticket, TicketEvent
from tests.conftest import app_with_rasa, free_port, private_corpus_database
from tests.handoff.conftest import always_on_duty_directory

pytestmark = [pytest.mark.slow, pytest.mark.anyio]


@pytest.fixture(scope="module")
def stack(corpus_index, shared_rasa, tmp_path_factory):
    folder = tmp_path_factory.mktemp("danger-dialogue")
    url, sessions = private_corpus_database(corpus_index, folder)
    with app_with_rasa(corpus_index, shared_rasa, folder, LAWLINE_DATABASE_URL=url,
                       LAWLINE_DIRECTORY=always_on_duty_directory(folder)) as settings:
        yield settings, sessions


@pytest.fixture
async def chat(stack):
    settings, sessions = stack
    built = build_services(settings)
    try:
        yield built, sessions
    finally:
        await built.close()


async def _say(built, user: ChannelUser, text: str) -> str:
    return "\n".join(await built.conversation.respond(user, text))


def _ticket(sessions, user: ChannelUser) -> Ticket:
    with sessions() as session:
        return session.scalar(select(Ticket).where(Ticket.conversation_key == f"{user.channel}:{user.openid}"))


def _triage(sessions, ticket: Ticket) -> dict:
    with sessions() as session:
        events = session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)).all()
    return next(e.data["triage"] for e in reversed(events) if (e.data or {}).get("triage"))


async def test_in_a_plain_chat_violence_said_without_the_patterns_words(chat):
    built, sessions = chat
    user = ChannelUser(channel="web", openid="dd1" + "x" * 29)
    reply = await _say(built, user, "那个人又喝多了回来，把我往墙上撞，我躲在厕所里不敢出去")
    assert reply.splitlines()[1].startswith("· 有危险，马上打 110")
    ticket = _ticket(sessions, user)
    assert ticket.urgent and ticket.reason == "danger"
    evidence = _triage(sessions, ticket)
    assert evidence["by"] == "model" and evidence["score"] >= evidence["threshold"]


async def test_inside_the_legal_aid_check_danger_wins_and_the_check_goes_on(chat):
    built, _ = chat
    user = ChannelUser(channel="web", openid="dd2" + "x" * 29)
    assert "是不是很急" in await _say(built, user, "法律援助自测")
    danger = await _say(built, user, "他刚才拿皮带把孩子抽得浑身是印子，孩子一直哭")
    assert "110" in danger and "12355" in danger
    assert "等您安全了" in danger and "没听明白" not in danger
    assert "为了什么事" in await _say(built, user, "不急")  # the form's question was left where it was


async def test_during_a_case_a_person_handles_the_person_is_alerted_at_once(chat):
    built, sessions = chat
    user = ChannelUser(channel="web", openid="dd3" + "x" * 29)
    await _say(built, user, "我要转人工")
    await _say(built, user, "演示乡演示村")
    ticket = _ticket(sessions, user)
    built_tickets = built.conversation.handoff.tickets
    built_tickets.claim(ticket.id, ticket.assignee or "p-adviser-1")
    reply = await _say(built, user, "他们一伙人在外面砸门，说今晚要我好看")
    assert "110" in reply
    ticket = _ticket(sessions, user)
    assert ticket.urgent and ticket.state == "claimed"
    with sessions() as session:
        alerts = [m.group_id for m in session.scalars(select(OutboxMessage).where(OutboxMessage.ticket_id == ticket.id))
                  if "紧急" in m.payload["markdown"]["content"]]
    assert ticket.group_id in alerts


async def test_with_rasa_stopped_danger_is_still_first(chat, stack):
    settings, sessions = stack
    down = build_services(dataclasses.replace(settings, rasa_url=f"http://127.0.0.1:{free_port()}",
                                              engine_timeout=1.0))  # nothing listens there: Rasa is down
    user = ChannelUser(channel="web", openid="dd4" + "x" * 29)
    try:
        reply = await _say(down, user, "药我都攒好一瓶了，给闺女的信也写完了，就这样吧")
    finally:
        await down.close()
    assert "12356" in reply and "120" in reply and "不是一个人" in reply
    assert "有点忙" not in reply  # not the retrieval fallback
    assert _ticket(sessions, user).urgent
