"""A person's replies reach the resident through the customer-service API (the WeChat stand-in), within
WeChat's 48-hour window and message quota; beyond them a notice, and the replies wait for the resident."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlalchemy import select

from bot.handoff_adapters import WeChatMessenger
from channels.storage import MemoryStore
from channels.wechat_api import WeChatClient
from handoff.delivery import (
    DeliveryWorker,
    enqueue_delivery,
    hold_answer,
    release_answer,
    take_for_inbound,
    take_passive,
)
from handoff.models import Delivery
from handoff.texts import load_texts
from tests.channels.conftest import OA_APPID, OA_SECRET

pytestmark = pytest.mark.anyio

KEY = "official_account:o-res-1"
OPENID = "o-res-1"


@pytest.fixture
async def worker(sessions, clock, wechat):
    async with httpx.AsyncClient() as http:
        client = WeChatClient(OA_APPID, OA_SECRET, MemoryStore(), api_base=wechat.base_url, http=http,
                              backoff_seconds=0.01)
        yield DeliveryWorker(sessions, WeChatMessenger({"official_account": client}),
                             load_texts()["window_notice"], clock=clock)


def _resident_writes(sessions, clock) -> list[str]:
    with sessions.begin() as session:
        return take_for_inbound(session, KEY, "official_account", OPENID, clock())


def _queue(sessions, clock, *texts: str) -> None:
    with sessions.begin() as session:
        for text in texts:
            enqueue_delivery(session, KEY, 1, "reply", text, clock())


def _states(sessions) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(Delivery.state).order_by(Delivery.id)))


async def test_replies_are_sent_while_the_window_is_open(sessions, clock, wechat, worker):
    _resident_writes(sessions, clock)
    _queue(sessions, clock, "回复一", "回复二")
    await worker.run_once()
    assert [(s.openid, s.content) for s in wechat.sent] == [(OPENID, "回复一"), (OPENID, "回复二")]
    assert _states(sessions) == ["sent", "sent"]


async def test_the_last_message_of_the_quota_asks_the_resident_to_write(sessions, clock, wechat, worker):
    _resident_writes(sessions, clock)
    _queue(sessions, clock, *(f"回复{i}" for i in range(1, 7)))
    await worker.run_once()
    sent = [s.content for s in wechat.sent]
    assert sent == ["回复1", "回复2", "回复3", "回复4", load_texts()["window_notice"]]
    assert _states(sessions) == ["sent"] * 4 + ["held"] * 2
    await worker.run_once()
    assert len(wechat.sent) == 5  # nothing more until the resident writes
    assert _resident_writes(sessions, clock) == ["回复5", "回复6"]  # handed over with their next message
    assert _states(sessions) == ["sent"] * 6


async def test_the_bots_answer_and_a_persons_replies_share_one_quota_and_one_order(sessions, clock, wechat, worker):
    _resident_writes(sessions, clock)
    with sessions.begin() as session:  # an answer of three parts; the channel takes the first as its passive reply
        hold_answer(session, KEY, "msg-1", ["答一", "答二", "答三"], clock(), clock() + dt.timedelta(seconds=20),
                    channel="official_account", openid=OPENID)
    with sessions.begin() as session:
        assert take_passive(session, "msg-1", clock()) == "答一"
        assert take_passive(session, "msg-1", clock()) == "答一", "a retry of the same message gets the same reply"
    await worker.run_once()
    assert wechat.sent == [], "held for the channel until it releases them"
    with sessions.begin() as session:
        assert release_answer(session, "msg-1", clock()) == 2
    _queue(sessions, clock, "回复1", "回复2", "回复3")
    await worker.run_once()
    # 2 parts of the answer + 2 replies + the notice = WeChat's 5; the third reply waits for the resident.
    assert [s.content for s in wechat.sent] == ["答二", "答三", "回复1", "回复2", load_texts()["window_notice"]]
    assert _resident_writes(sessions, clock) == ["回复3"]


async def test_an_answer_its_channel_never_released_is_pushed_whole_after_the_hold(sessions, clock, wechat, worker):
    _resident_writes(sessions, clock)
    with sessions.begin() as session:  # the channel's process died before the passive reply
        hold_answer(session, KEY, "msg-2", ["答一", "答二"], clock(), clock() + dt.timedelta(seconds=20),
                    channel="official_account", openid=OPENID)
    await worker.run_once()
    assert wechat.sent == []
    clock.advance(seconds=21)
    await worker.run_once()
    assert [s.content for s in wechat.sent] == ["答一", "答二"]
    with sessions.begin() as session:
        assert take_passive(session, "msg-2", clock()) is None, "too late for a passive reply: it was pushed"


async def test_after_48_hours_replies_wait_for_the_resident(sessions, clock, wechat, worker):
    _resident_writes(sessions, clock)
    clock.advance(hours=49)
    _queue(sessions, clock, "迟到的回复")
    await worker.run_once()
    assert wechat.sent == [] and _states(sessions) == ["held"]
    assert _resident_writes(sessions, clock) == ["迟到的回复"]


async def test_wechat_refusing_wins_over_our_count(sessions, clock, wechat, worker):
    _resident_writes(sessions, clock)
    wechat.fail_next("/cgi-bin/message/custom/send", 45015)
    _queue(sessions, clock, "回复")
    await worker.run_once()
    assert _states(sessions) == ["held"]
    await worker.run_once()
    assert wechat.sent == []


async def test_a_busy_wechat_is_retried_in_order(sessions, clock, wechat, worker):
    _resident_writes(sessions, clock)
    wechat.fail_next("/cgi-bin/message/custom/send", -1, -1, -1, -1)  # more than the client's own retries
    _queue(sessions, clock, "第一", "第二")
    await worker.run_once()
    assert _states(sessions) == ["pending", "pending"]
    clock.advance(seconds=10)
    await worker.run_once()
    assert [s.content for s in wechat.sent] == ["第一", "第二"]


async def test_the_web_chat_cannot_be_pushed_to_so_replies_wait(sessions, clock, wechat, worker):
    with sessions.begin() as session:
        take_for_inbound(session, "web:abc", "web", "abc", clock())
        enqueue_delivery(session, "web:abc", 1, "reply", "网页回复", clock())
    await worker.run_once()
    assert wechat.sent == []
    with sessions.begin() as session:
        assert take_for_inbound(session, "web:abc", "web", "abc", clock()) == ["网页回复"]


async def test_a_reply_leased_by_a_killed_worker_is_sent_after_the_lease(sessions, clock, wechat, worker):
    _resident_writes(sessions, clock)
    _queue(sessions, clock, "被中断的回复")
    with sessions.begin() as session:  # a worker took it and died mid-send
        session.scalar(select(Delivery)).lease_until = clock().replace(tzinfo=None)
    clock.advance(seconds=5)
    await worker.run_once()
    assert [s.content for s in wechat.sent] == ["被中断的回复"]


async def test_a_web_chat_resident_gets_replies_with_their_next_message_never_leased_by_the_worker(
        sessions, clock, wechat, worker):
    web = "web:w-res-1"
    with sessions.begin() as session:
        take_for_inbound(session, web, "web", "w-res-1", clock())
        enqueue_delivery(session, web, 1, "reply", "顾问的回复", clock())
    await worker.run_once()
    with sessions() as session:
        [row] = session.scalars(select(Delivery)).all()
        assert (row.state, row.lease_until) == ("pending", None), "a lease would hide it from the next message"
    with sessions.begin() as session:
        assert take_for_inbound(session, web, "web", "w-res-1", clock()) == ["顾问的回复"]
    assert wechat.sent == []
