"""``GET /metrics`` on real SQLite and PostgreSQL: the figures come from the database, the door is loopback."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from starlette.applications import Starlette

from bot.metrics import metrics_routes, observe_answer
from bot.models import Conversation, Message
from handoff.models import Delivery, Ticket

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _fill(sessions) -> None:
    now = dt.datetime.now(dt.UTC)
    with sessions.begin() as session:
        conversation = Conversation(key="web:m1", sender="s" * 32, channel="web", openid="m1")
        session.add(conversation)
        session.flush()
        session.add_all([Message(conversation_id=conversation.id, direction="in", channel="web", text="工钱", meta={}),
                         Message(conversation_id=conversation.id, direction="out", channel="web", text="答",
                                 engine="retrieval", meta={})])
        session.add(Delivery(conversation_key="web:m1", kind="answer", text="第二段", state="pending", attempts=0,
                             created_at=now, next_attempt_at=now))
        session.add(Ticket(conversation_key="web:m1", reason="requested", target="hotline", state="open",
                           created_at=now, updated_at=now, first_response_due=now - dt.timedelta(minutes=5)))


async def _get(sessions, client: tuple[str, int], headers: dict[str, str] | None = None) -> httpx.Response:
    app = Starlette(routes=metrics_routes(sessions, "metrics-token-123"))
    transport = httpx.ASGITransport(app=app, client=client)
    async with httpx.AsyncClient(transport=transport, base_url="http://lawline.test") as http:
        return await http.get("/metrics", headers=headers or {})


async def test_metrics_count_from_the_database_and_time_answers(sessions):
    _fill(sessions)
    observe_answer("web", 0.3)
    body = (await _get(sessions, ("127.0.0.1", 5000))).text
    assert 'lawline_messages{channel="web",direction="out",engine="retrieval"} 1.0' in body
    assert 'lawline_outbox{queue="resident",state="pending"} 1.0' in body
    assert "lawline_tickets_past_due 1.0" in body
    assert 'lawline_answer_seconds_count{channel="web"}' in body
    assert "工钱" not in body and "m1" not in body, "no resident's text or id in the metrics"


async def test_metrics_are_not_for_the_public_without_the_token(sessions):
    assert (await _get(sessions, ("203.0.113.7", 5000))).status_code == 403
    wrong = await _get(sessions, ("203.0.113.7", 5000), {"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    right = await _get(sessions, ("203.0.113.7", 5000), {"Authorization": "Bearer metrics-token-123"})
    assert right.status_code == 200 and "lawline_inbox_unfinished" in right.text
