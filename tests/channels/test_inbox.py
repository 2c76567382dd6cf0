"""The inbox on real SQLite and PostgreSQL: one claim per delivery, one winner per take-over, live owners kept."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import pytest
from sqlalchemy import update

from channels.inbox import Heartbeat, Inbox
from channels.storage import SqlStore, channel_inbox

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _process(engine) -> Inbox:
    return Inbox(engine, Heartbeat(SqlStore(engine), beat_seconds=0.1, lease_seconds=0.5))


async def test_a_delivery_is_claimed_once_and_a_dead_owners_work_taken_over_once(engine):
    first, second, third = _process(engine), _process(engine), _process(engine)
    await first.heartbeat.beat()
    assert await first.claim("m1", "official_account", "o-1", "ask", "工钱怎么要") is None
    again = await second.claim("m1", "official_account", "o-1", "ask", "工钱怎么要")
    assert again is not None and (again.owner, again.state, again.text) == (first.owner, "working", "工钱怎么要")
    assert await second.heartbeat.alive(first.owner)
    assert await second.orphans() == [], "a live owner's work is not taken"
    assert not await second.take_over(dataclasses.replace(again, owner="someone-else")), "only from the owner seen"
    await first.heartbeat.aclose()  # stopped: its heartbeat is gone
    orphans = await second.orphans()
    assert [row.key for row in orphans] == ["m1"]
    results = await asyncio.gather(second.take_over(orphans[0]), third.take_over(orphans[0]))
    assert sorted(results) == [False, True]
    assert (await second.get("m1")).owner in (second.owner, third.owner)


async def test_an_owner_on_another_host_is_alive_while_it_beats(engine):
    inbox = _process(engine)
    await inbox.claim("m2", "official_account", "o-2", "ask", "离婚")
    with engine.begin() as connection:  # owned by a process on another machine
        connection.execute(update(channel_inbox).values(owner="node-b/4242/cafe"))
    store = SqlStore(engine)
    await store.set("proc:node-b/4242/cafe", "alive", ttl=0.3)
    assert await inbox.orphans() == []
    await asyncio.sleep(0.4)  # its lease ran out: node-b is gone
    assert [row.key for row in await inbox.orphans()] == ["m2"]
    assert await inbox.orphans(older_than=dt.timedelta(hours=1)) == [], "WeChat may still retry a young one"


async def test_finished_rows_forget_the_text_and_are_purged_after_a_day(engine):
    inbox = _process(engine)
    await inbox.claim("m3", "official_account", "o-3", "ask", "我的电话13800138000")
    await inbox.mark("m3", "replied", "答复")
    row = await inbox.get("m3")
    assert (row.state, row.reply, row.text) == ("replied", "答复", "")
    assert await inbox.purge() == 0
    with engine.begin() as connection:
        connection.execute(update(channel_inbox).values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=2)))
    assert await inbox.purge() == 1
    assert await inbox.get("m3") is None


async def test_its_own_rows_it_no_longer_works_on_are_orphans_too(engine):
    """Work that failed in an outage (the database or Redis gone mid-answer) is found by the owner's sweeper."""
    inbox = _process(engine)
    await inbox.heartbeat.beat()
    for key in ("m1", "m2"):
        assert await inbox.claim(key, "official_account", "o-1", "ask", "工钱怎么要") is None
    assert await inbox.orphans() == [], "without busy keys, a live process's own rows are its own business"
    assert [row.key for row in await inbox.orphans(busy={"m1"})] == ["m2"]
    assert await inbox.take_over((await inbox.orphans(busy=set()))[0]), "taken over from itself"
