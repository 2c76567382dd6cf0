"""The robot outbox against a local WeChat Work webhook stand-in: delivered, rate-limited, never dropped."""

from __future__ import annotations

import asyncio
import dataclasses

import httpx
import pytest
from sqlalchemy import select

from handoff.models import OutboxMessage
from handoff.robot import RobotClient, RobotSender, enqueue_robot_message

pytestmark = pytest.mark.anyio


def _queue(sessions, clock, group: str, count: int) -> None:
    with sessions.begin() as session:
        for i in range(count):
            enqueue_robot_message(session, group, "card", f"### 案件 {i}", None, clock())


def _states(sessions) -> dict[str, int]:
    with sessions() as session:
        rows = session.scalars(select(OutboxMessage)).all()
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.state] = counts.get(row.state, 0) + 1
    return counts


@pytest.fixture
async def http():
    async with httpx.AsyncClient() as client:
        yield client


async def test_cards_reach_the_group_robot(sessions, directory, clock, wecom, http):
    _queue(sessions, clock, "g-t1", 2)
    sender = RobotSender(sessions, directory, RobotClient(http, wecom.base_url), clock=clock)
    await sender.run_once()
    assert [m.content for m in wecom.for_key("sample-key-t1")] == ["### 案件 0", "### 案件 1"]
    assert _states(sessions) == {"sent": 2}


async def test_twenty_a_minute_per_robot_and_the_rest_waits(sessions, directory, clock, wecom, http):
    wecom.clock = lambda: clock().timestamp()
    _queue(sessions, clock, "g-t1", 25)
    _queue(sessions, clock, "g-t2", 3)
    sender = RobotSender(sessions, directory, RobotClient(http, wecom.base_url), clock=clock)
    wait = await sender.run_once()
    assert len(wecom.for_key("sample-key-t1")) == 20 and len(wecom.for_key("sample-key-t2")) == 3
    await sender.run_once()
    assert len(wecom.for_key("sample-key-t1")) == 20  # nothing more within the minute
    wait = await sender.run_once()
    assert 55 <= wait <= 60.1
    clock.advance(seconds=61)
    await sender.run_once()
    assert len(wecom.for_key("sample-key-t1")) == 25
    assert wecom.refused == 0  # the stand-in enforces the limit too: we never hit it
    assert _states(sessions) == {"sent": 28}


async def test_refusals_and_outages_are_retried_never_dropped(sessions, directory, clock, wecom, http):
    _queue(sessions, clock, "g-t1", 1)
    sender = RobotSender(sessions, directory, RobotClient(http, wecom.base_url), clock=clock)
    wecom.fail_next(45009, 502, -1)
    for _ in range(3):
        await sender.run_once()
        assert _states(sessions) == {"pending": 1}
        clock.advance(seconds=61)
    await sender.run_once()
    assert _states(sessions) == {"sent": 1}
    with sessions() as session:
        assert session.scalar(select(OutboxMessage.attempts)) == 4
    # The webhook unreachable altogether: still pending, retried later.
    _queue(sessions, clock, "g-t1", 1)
    down = RobotSender(sessions, directory, RobotClient(http, "http://127.0.0.1:9"), clock=clock)
    await down.run_once()
    assert _states(sessions) == {"sent": 1, "pending": 1}


async def test_a_group_without_a_robot_key_keeps_its_cards(sessions, directory, clock, wecom, http):
    groups = dict(directory.groups)
    groups["g-t1"] = dataclasses.replace(groups["g-t1"], robot_key=None)
    keyless = dataclasses.replace(directory, groups=groups)
    _queue(sessions, clock, "g-t1", 1)
    await RobotSender(sessions, keyless, RobotClient(http, wecom.base_url), clock=clock).run_once()
    with sessions() as session:
        row = session.scalar(select(OutboxMessage))
    assert row.state == "pending" and row.last_error == "webhook not configured"


async def test_two_senders_never_send_one_card_twice(sessions, directory, clock, wecom, http):
    _queue(sessions, clock, "g-t1", 10)
    wecom.delay = 0.05
    a = RobotSender(sessions, directory, RobotClient(http, wecom.base_url), clock=clock)
    b = RobotSender(sessions, directory, RobotClient(http, wecom.base_url), clock=clock)
    await asyncio.gather(a.run_once(), b.run_once(), a.run_once(), b.run_once())
    contents = [m.content for m in wecom.messages]
    assert sorted(contents) == sorted(f"### 案件 {i}" for i in range(10))


async def test_a_card_leased_by_a_killed_worker_is_sent_after_the_lease(sessions, directory, clock, wecom, http):
    _queue(sessions, clock, "g-t1", 1)
    with sessions.begin() as session:
        session.scalar(select(OutboxMessage)).lease_until = clock().replace(tzinfo=None)
    clock.advance(seconds=5)
    await RobotSender(sessions, directory, RobotClient(http, wecom.base_url), clock=clock).run_once()
    assert [m.content for m in wecom.messages] == ["### 案件 0"]
