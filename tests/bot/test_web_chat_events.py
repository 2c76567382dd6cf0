"""The web chat's history and live messages (``bot.web_chat``) on a real database, without the corpus.

The routes alone, served in-process (httpx) or by uvicorn on loopback for the event stream; a person's replies
are queued with the outbox's own ``enqueue_delivery``, as the ticket service does.
"""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from bot import web_chat
from bot.models import Conversation, Message
from bot.web_chat import describe_turn, web_chat_routes
from handoff.delivery import enqueue_delivery, take_for_inbound
from handoff.models import Delivery
from handoff.ports import utc_now
from tests.conftest import free_port, serving

pytestmark = pytest.mark.anyio

ALICE, BOB = "a" * 32, "b" * 32


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _resident(sessions, web_session: str) -> None:
    with sessions.begin() as session:
        session.add(Conversation(key=f"web:{web_session}", sender=web_session, channel="web", openid=web_session))


def _reply(sessions, web_session: str, text: str, kind: str = "reply") -> int:
    with sessions.begin() as session:
        row = enqueue_delivery(session, f"web:{web_session}", 7, kind, text, utc_now())
        session.flush()
        return row.id


@pytest.fixture
async def client(sessions):
    _resident(sessions, ALICE)
    _resident(sessions, BOB)
    app = Starlette(routes=web_chat_routes(sessions))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://lawline.test") as http:
        yield http


@pytest.mark.parametrize("query", ["", "session=short", "session=" + "字" * 32, "session=" + "a" * 33,
                                   f"session={ALICE}&after=-1", f"session={ALICE}&after=x",
                                   f"session={ALICE}&after=99999999999999999999", f"session={ALICE}&wait=nan",
                                   f"session={ALICE}&wait=soon"])
async def test_a_malformed_request_gets_a_calm_400(client, query):
    response = await client.get(f"/api/chat/events?{query}")
    assert response.status_code == 400 and "12348" in response.json()["error"]
    if "after" not in query and "wait" not in query:
        assert (await client.get(f"/api/chat/history?{query}")).status_code == 400


async def test_an_unknown_session_gets_a_calm_404_never_anything_else(client):
    unknown = "c" * 32
    for path in ("/api/chat/events", "/api/chat/history"):
        response = await client.get(path, params={"session": unknown, "wait": "0"})
        assert response.status_code == 404 and "12348" in response.json()["error"]
    stream = await client.get("/api/chat/events", params={"session": unknown},
                              headers={"Accept": "text/event-stream"})
    assert stream.status_code == 404


async def test_a_persons_reply_is_taken_once_and_recorded_and_no_other_session_sees_it(client, sessions):
    first = _reply(sessions, ALICE, "【法律顾问 甲顾问回复】请把合同拍照发给我。")
    _reply(sessions, BOB, "给另一位居民的回复")
    body = (await client.get("/api/chat/events", params={"session": ALICE, "wait": "0"})).json()
    assert body["events"] == [{"id": first, "kind": "staff", "text": "【法律顾问 甲顾问回复】请把合同拍照发给我。"}]
    assert body["after"] == first
    # Shown: asked again from there, nothing; the resident's next message does not repeat it.
    again = (await client.get("/api/chat/events", params={"session": ALICE, "after": first, "wait": "0"})).json()
    assert again["events"] == [] and again["after"] == first
    with sessions.begin() as session:
        assert take_for_inbound(session, f"web:{ALICE}", "web", ALICE, utc_now()) == []
    # A page that lost its stream before showing it asks from an older id: it comes again, still once recorded.
    lost = (await client.get("/api/chat/events", params={"session": ALICE, "after": "0", "wait": "0"})).json()
    assert [e["id"] for e in lost["events"]] == [first]
    with sessions() as session:
        said = session.scalars(select(Message).join(Conversation).where(Conversation.key == f"web:{ALICE}")).all()
        assert [(m.text, m.engine, m.meta["delivery"]) for m in said] == [
            ("【法律顾问 甲顾问回复】请把合同拍照发给我。", "handoff", first)]
        states = {text: state for text, state in session.execute(select(Delivery.text, Delivery.state))}
    assert states == {"【法律顾问 甲顾问回复】请把合同拍照发给我。": "sent", "给另一位居民的回复": "pending"}


async def test_a_closed_page_takes_nothing_the_next_message_hands_it_over(client, sessions):
    _reply(sessions, ALICE, "办结通知")
    with sessions.begin() as session:
        assert take_for_inbound(session, f"web:{ALICE}", "web", ALICE, utc_now()) == ["办结通知"]
    body = (await client.get("/api/chat/events", params={"session": ALICE, "wait": "0"})).json()
    assert body["events"] == []


async def test_a_long_poll_answers_as_soon_as_a_reply_comes(client, sessions, monkeypatch):
    monkeypatch.setattr(web_chat, "POLL_SECONDS", 0.1)
    timer = threading.Timer(0.5, _reply, (sessions, ALICE, "转办通知：您的事已转给法律援助中心"))
    timer.start()
    started = time.monotonic()
    body = (await client.get("/api/chat/events", params={"session": ALICE, "wait": "10"})).json()
    timer.join()
    assert [e["text"] for e in body["events"]] == ["转办通知：您的事已转给法律援助中心"]
    assert time.monotonic() - started < 5


async def test_history_marks_answers_and_what_a_person_said_and_offers_the_last_options(client, sessions):
    with sessions.begin() as session:
        conversation = session.scalar(select(Conversation).where(Conversation.key == f"web:{ALICE}"))
        buttons = [{"title": "讨工钱", "payload": "/x"}, {"title": "工伤赔偿", "payload": "/y"}]
        session.add_all([
            Message(conversation_id=conversation.id, direction="in", channel="web", text="工钱", meta={}),
            Message(conversation_id=conversation.id, direction="out", channel="web", text="答：第三十条……",
                    engine="retrieval", meta={"citations": ["《劳动合同法》第三十条"], "confident": True}),
            Message(conversation_id=conversation.id, direction="out", channel="web", text="【法律顾问回复】您好",
                    engine="handoff", meta={"delivered": True, "delivery": 41}),
            Message(conversation_id=conversation.id, direction="in", channel="web", text="法律援助", meta={}),
            Message(conversation_id=conversation.id, direction="out", channel="web", text="您是为了什么事？",
                    engine="rasa", meta={"buttons": buttons}),
        ])
    body = (await client.get("/api/chat/history", params={"session": ALICE})).json()
    assert [m["kind"] for m in body["messages"]] == ["me", "answer", "staff", "me", "bot"]
    assert body["options"] == [{"number": 1, "title": "讨工钱"}, {"number": 2, "title": "工伤赔偿"}]
    assert body["after"] == 41
    turn = describe_turn(sessions, f"web:{ALICE}", ["您是为了什么事？"])
    assert turn == {"kinds": ["bot"], "options": body["options"]}
    assert (await client.get("/api/chat/history", params={"session": BOB})).json()["messages"] == []


def test_the_event_stream_brings_a_reply_while_the_page_listens(sessions, monkeypatch):
    monkeypatch.setattr(web_chat, "POLL_SECONDS", 0.1)
    _resident(sessions, ALICE)
    app = Starlette(routes=web_chat_routes(sessions))
    with serving(app, free_port()) as base, httpx.Client(base_url=base, timeout=10) as http:
        with http.stream("GET", "/api/chat/events", params={"session": ALICE},
                         headers={"Accept": "text/event-stream"}) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            assert next(lines) == "retry: 3000"
            delivery = _reply(sessions, ALICE, "【12348 律师回复】可以申请劳动仲裁。")
            received = [next(lines) for _ in range(3)]
    assert received[0] == "" and received[1] == f"id: {delivery}"
    assert json.loads(received[2].removeprefix("data: "))["text"] == "【12348 律师回复】可以申请劳动仲裁。"


def test_the_page_listens_with_the_one_listener_inside_its_nonced_script():
    page = web_chat.ChatPage().render("n0nce").body.decode()
    script = page.split('<script nonce="n0nce">')[1].split("</script>")[0]
    listener = (web_chat.TEMPLATES / "live.js").read_text(encoding="utf-8").rstrip("\n")
    assert listener in script and page.count("function liveUpdates") == 1  # the console's too (bot/templates)
    assert "new window.EventSource" not in script.replace(listener, "")
