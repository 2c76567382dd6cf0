"""The WeChat API client against the local stand-in: shared token, refresh, error codes, mini-program calls."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import pytest

from bot.db import make_engine
from channels.errors import (
    AccessTokenInvalid,
    QuotaExceeded,
    ResponseWindowClosed,
    WeChatBusy,
    WeChatError,
)
from channels.storage import KeyValueStore, MemoryStore, SqlStore
from channels.wechat_api import WeChatClient
from tests.channels.conftest import MP_APPID, MP_SECRET, OA_APPID, OA_SECRET
from tests.channels.wechat_standin import WeChatStandIn

pytestmark = pytest.mark.anyio

SEND = "/cgi-bin/message/custom/send"


def client_for(standin: WeChatStandIn, store: KeyValueStore, appid: str = OA_APPID, secret: str = OA_SECRET):
    return WeChatClient(appid, secret, store, api_base=standin.base_url, backoff_seconds=0.01, timeout_seconds=5)


async def test_send_text_uses_stable_token_and_utf8_json(standin):
    client = client_for(standin, MemoryStore())
    try:
        await client.send_text("o-1", "您好，关于拖欠工资的问题……")
    finally:
        await client.aclose()
    assert [(sent.openid, sent.content) for sent in standin.sent] == [("o-1", "您好，关于拖欠工资的问题……")]
    assert standin.stable_token_calls == [(OA_APPID, False)]


@pytest.fixture(params=["memory", "sqlite"])
def shared_store(request, tmp_path) -> Iterator[KeyValueStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    engine = make_engine(f"sqlite:///{tmp_path / 'kv.sqlite3'}")
    store = SqlStore(engine)
    store.create_table()
    yield store
    engine.dispose()


async def test_token_is_shared_and_refreshed_once_under_concurrent_requests(standin, shared_store):
    standin.set_delays(token=0.3)  # the refresh is slow, so every request arrives while it is under way
    store = shared_store
    workers = [client_for(standin, store), client_for(standin, store)]  # two workers, one shared storage
    try:
        await asyncio.gather(*(workers[index % 2].send_text(f"o-{index}", f"第{index}条") for index in range(20)))
        assert len(standin.sent) == 20
        assert standin.stable_token_calls == [(OA_APPID, False)]
        # A later request (another worker) reuses the cached token.
        await workers[1].send_text("o-late", "再来一条")
        assert len(standin.stable_token_calls) == 1
    finally:
        for worker in workers:
            await worker.aclose()


async def test_token_is_refreshed_ahead_of_expiry(standin):
    store = MemoryStore()
    client = client_for(standin, store)
    try:
        await client.send_text("o-1", "一")
        # The cached token is about to expire (two minutes left) and was fetched long ago.
        record = json.loads(await store.get(f"wechat:token:{OA_APPID}") or "{}")
        record.update(expires_at=time.time() + 120, fetched_at=time.time() - 7000)
        await store.set(f"wechat:token:{OA_APPID}", json.dumps(record))
        await client.send_text("o-1", "二")
        assert len(standin.stable_token_calls) == 2
        assert len(standin.sent) == 2
    finally:
        await client.aclose()


async def test_invalid_token_40001_refreshes_once_and_retries(standin):
    store = MemoryStore()
    client = client_for(standin, store)
    try:
        await client.send_text("o-1", "第一条")
        old = standin.current_token(OA_APPID)
        standin.revoke_tokens()
        await client.send_text("o-1", "第二条")
        assert [sent.content for sent in standin.sent] == ["第一条", "第二条"]
        assert len(standin.stable_token_calls) == 2
        assert standin.current_token(OA_APPID) != old
        assert standin.calls(SEND) == 3  # first, refused second, retried second
    finally:
        await client.aclose()


async def test_token_still_refused_after_a_refresh_raises(standin):
    client = client_for(standin, MemoryStore())
    standin.fail_next(SEND, 40001, 40001)
    try:
        with pytest.raises(AccessTokenInvalid) as caught:
            await client.send_text("o-1", "你好")
    finally:
        await client.aclose()
    assert caught.value.errcode == 40001
    assert standin.calls(SEND) == 2
    assert standin.sent == []


async def test_response_window_closed_45015_is_not_retried(standin):
    client = client_for(standin, MemoryStore())
    standin.fail_next(SEND, 45015)
    try:
        with pytest.raises(ResponseWindowClosed) as caught:
            await client.send_text("o-1", "你好")
    finally:
        await client.aclose()
    assert isinstance(caught.value, WeChatError) and caught.value.errcode == 45015
    assert standin.calls(SEND) == 1


async def test_quota_exceeded_45047(standin):
    client = client_for(standin, MemoryStore())
    standin.fail_next(SEND, 45047)
    try:
        with pytest.raises(QuotaExceeded):
            await client.send_text("o-1", "你好")
    finally:
        await client.aclose()
    assert standin.calls(SEND) == 1


async def test_busy_is_retried_with_backoff_then_succeeds_or_gives_up(standin):
    client = client_for(standin, MemoryStore())
    try:
        standin.fail_next(SEND, -1, 45009)
        await client.send_text("o-1", "你好")
        assert standin.calls(SEND) == 3
        assert len(standin.sent) == 1

        standin.fail_next(SEND, -1, -1, -1, -1, -1)
        with pytest.raises(WeChatBusy):
            await client.send_text("o-1", "再试")
        assert standin.calls(SEND) == 3 + 4  # one try and three retries
    finally:
        await client.aclose()


async def test_unreachable_api_is_busy_not_a_crash():
    client = WeChatClient(OA_APPID, OA_SECRET, MemoryStore(), api_base="http://127.0.0.1:9", backoff_seconds=0.01)
    try:
        with pytest.raises(WeChatBusy) as caught:
            await client.send_text("o-1", "你好")
    finally:
        await client.aclose()
    assert "network error" in caught.value.errmsg
    assert OA_SECRET not in str(caught.value) and "access_token" not in str(caught.value)


async def test_send_text_refuses_text_over_wechats_limit(standin):
    client = client_for(standin, MemoryStore())
    try:
        with pytest.raises(ValueError):
            await client.send_text("o-1", "字" * 700)  # 2,100 bytes
    finally:
        await client.aclose()
    assert standin.calls(SEND) == 0


async def test_code_to_session_and_check_text(standin):
    standin.add_code("code-1", "o-mp-1", "u-1")
    standin.set_risky_words("违禁")
    client = client_for(standin, MemoryStore(), MP_APPID, MP_SECRET)
    try:
        session = await client.code_to_session("code-1")
        assert (session.openid, session.unionid) == ("o-mp-1", "u-1")
        assert not hasattr(session, "session_key")
        with pytest.raises(WeChatError) as caught:
            await client.code_to_session("code-1")  # a code is good once
        assert caught.value.errcode == 40163
        assert (await client.check_text("o-mp-1", "老板不给工资")).suggest == "pass"
        verdict = await client.check_text("o-mp-1", "一段违禁内容")
        assert verdict.risky and verdict.label == 20001
    finally:
        await client.aclose()


async def test_get_unionid(standin):
    standin.set_unionid("o-1", "u-1")
    client = client_for(standin, MemoryStore())
    try:
        assert await client.get_unionid("o-1") == "u-1"
        assert await client.get_unionid("o-2") is None
    finally:
        await client.aclose()
