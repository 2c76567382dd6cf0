"""The mini-program backend through the real Starlette app, with the WeChat stand-in behind it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from starlette.applications import Starlette

from channels.mini_program import MiniProgramConfig, mini_program_routes
from channels.ports import CaseView, ChannelUser, HistoryView, Option, Receipt, ServicePointsView, TurnView
from channels.storage import MemoryStore
from channels.texts import ChannelTexts
from channels.wechat_api import WeChatClient
from tests.channels.conftest import MP_APPID, MP_SECRET
from tests.channels.test_official_account import official_account
from tests.channels.wechat_standin import text_xml

pytestmark = pytest.mark.anyio
TEXTS = ChannelTexts()


class RecordingConversation:
    """A test double of the ``Conversation`` port: records who asked what."""

    def __init__(self) -> None:
        self.calls: list[tuple[ChannelUser, str]] = []

    async def respond(self, user: ChannelUser, text: str, receipt: Receipt | None = None) -> list[str]:
        self.calls.append((user, text))
        await asyncio.sleep(0)
        return [f"答复：{text}", "如需帮助请拨打12348。"]


class RecordingRecords:
    """A test double of the ``ResidentRecords`` port: one offered option, no cases; records whom it was asked about."""

    def __init__(self) -> None:
        self.turns: list[tuple[ChannelUser, list[str]]] = []
        self.asked: list[ChannelUser] = []

    async def describe_turn(self, user: ChannelUser, replies: list[str]) -> TurnView:
        self.turns.append((user, replies))
        return TurnView(kinds=["answer", "bot"][:len(replies)], options=[Option(number=1, title="看法条原文")])

    async def history(self, user: ChannelUser) -> HistoryView:
        self.asked.append(user)
        return HistoryView(messages=[], options=[])

    async def cases(self, user: ChannelUser) -> list[CaseView]:
        self.asked.append(user)
        return []

    async def service_points(self, user: ChannelUser) -> ServicePointsView:
        self.asked.append(user)
        return ServicePointsView(configured=False, points=[])


@asynccontextmanager
async def app_for(standin, conversation, store=None, config=None, records=None) -> AsyncIterator[httpx.AsyncClient]:
    """The mini-program's routes in an app."""
    store = store if store is not None else MemoryStore()
    mp_client = WeChatClient(MP_APPID, MP_SECRET, store, api_base=standin.base_url, backoff_seconds=0.01)
    routes = mini_program_routes(config or MiniProgramConfig(), conversation=conversation, store=store,
                                 client=mp_client, records=records)
    try:
        transport = httpx.ASGITransport(app=Starlette(routes=routes))
        async with httpx.AsyncClient(transport=transport, base_url="http://lawline.test") as http:
            yield http
    finally:
        await mp_client.aclose()


async def login(http: httpx.AsyncClient, code: str) -> str:
    response = await http.post("/api/mp/login", json={"code": code})
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


async def test_login_issues_our_own_token_and_never_the_session_key(standin):
    standin.add_code("code-1", "o-mp-1", "union-1")
    async with app_for(standin, RecordingConversation()) as http:
        response = await http.post("/api/mp/login", json={"code": "code-1"})
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"token", "expires_in"}
    assert len(body["token"]) >= 32
    assert "session_key" not in response.text and "c2Vzc2lvbi1rZXktc2VjcmV0" not in response.text
    assert "o-mp-1" not in response.text and "union-1" not in response.text


async def test_login_with_a_bad_or_used_code(standin):
    standin.add_code("code-1", "o-mp-1")
    async with app_for(standin, RecordingConversation()) as http:
        assert (await http.post("/api/mp/login", json={"code": "nope"})).json() == {"error": "invalid_code"}
        await login(http, "code-1")
        assert (await http.post("/api/mp/login", json={"code": "code-1"})).status_code == 400
        assert (await http.post("/api/mp/login", json={"code": 12})).status_code == 400
        assert (await http.post("/api/mp/login", content=b"{not json")).status_code == 400
        assert (await http.post("/api/mp/login", content=b"{}" + b" " * 20_000)).status_code == 413
        standin.fail_next("/sns/jscode2session", -1, -1, -1, -1)
        standin.add_code("code-2", "o-mp-2")
        assert (await http.post("/api/mp/login", json={"code": "code-2"})).json() == {"error": "wechat_unavailable"}


async def test_messages_are_checked_then_answered(standin):
    standin.add_code("code-1", "o-mp-1", "union-1")
    conversation = RecordingConversation()
    async with app_for(standin, conversation) as http:
        token = await login(http, "code-1")
        response = await http.post(
            "/api/mp/messages",
            json={"text": " 土地承包合同到期了怎么办 "},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200
    assert response.json() == {"replies": ["答复：土地承包合同到期了怎么办", "如需帮助请拨打12348。"]}
    assert standin.checked == ["土地承包合同到期了怎么办"]
    assert conversation.calls == [(ChannelUser("mini_program", "o-mp-1", "union-1"), "土地承包合同到期了怎么办")]


async def test_a_token_sending_too_fast_is_refused_calmly_and_others_are_unaffected(standin):
    standin.add_code("code-1", "o-mp-1", "union-1")
    standin.add_code("code-2", "o-mp-2", "union-2")
    conversation = RecordingConversation()
    while time.time() % 60 > 55:  # the window is a calendar minute: start well inside one
        await asyncio.sleep(0.5)
    async with app_for(standin, conversation, config=MiniProgramConfig(max_messages_per_minute=3)) as http:
        fast, other = await login(http, "code-1"), await login(http, "code-2")
        statuses = []
        for number in range(5):
            response = await http.post("/api/mp/messages", json={"text": f"第{number}条：工钱的事"},
                                       headers={"Authorization": f"Bearer {fast}"})
            statuses.append(response.status_code)
        refused = response.json()
        calm = await http.post("/api/mp/messages", json={"text": "老人赡养的事"},
                               headers={"Authorization": f"Bearer {other}"})
    assert statuses == [200, 200, 200, 429, 429]
    assert refused == {"error": "rate_limited", "replies": [TEXTS.rate_limited]}
    assert calm.status_code == 200, "one resident's limit never slows down another"
    assert [text for _, text in conversation.calls] == ["第0条：工钱的事", "第1条：工钱的事", "第2条：工钱的事", "老人赡养的事"]


@pytest.mark.parametrize(
    "authorization", [None, "Bearer", "Bearer not-a-token", "Basic dXNlcjpwYXNz", "bearer " + "x" * 300]
)
async def test_missing_or_bad_token_is_401(standin, authorization):
    conversation = RecordingConversation()
    headers = {"Authorization": authorization} if authorization else {}
    async with app_for(standin, conversation) as http:
        response = await http.post("/api/mp/messages", json={"text": "你好"}, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert conversation.calls == [] and standin.checked == []


async def test_risky_text_is_refused_calmly_and_not_processed(standin):
    standin.add_code("code-1", "o-mp-1")
    standin.set_risky_words("违禁词")
    conversation = RecordingConversation()
    async with app_for(standin, conversation) as http:
        token = await login(http, "code-1")
        headers = {"Authorization": f"Bearer {token}"}
        response = await http.post("/api/mp/messages", json={"text": "一段违禁词内容"}, headers=headers)
    assert response.status_code == 200
    assert response.json() == {"replies": [TEXTS.risky_text]}
    assert conversation.calls == []


async def test_blank_long_and_unavailable_check(standin):
    standin.add_code("code-1", "o-mp-1")
    conversation = RecordingConversation()
    async with app_for(standin, conversation) as http:
        headers = {"Authorization": f"Bearer {await login(http, 'code-1')}"}
        blank = await http.post("/api/mp/messages", json={"text": "👍👍"}, headers=headers)
        assert blank.json() == {"replies": [TEXTS.empty_message]}
        long = await http.post("/api/mp/messages", json={"text": "字" * 1001}, headers=headers)
        assert long.json() == {"replies": [TEXTS.too_long_for(1000)]}
        assert (await http.post("/api/mp/messages", json={"text": 3}, headers=headers)).status_code == 400
        standin.fail_next("/wxa/msg_sec_check", 61024)
        down = await http.post("/api/mp/messages", json={"text": "你好"}, headers=headers)
        assert down.status_code == 503 and down.json()["replies"] == [TEXTS.service_error]
    assert conversation.calls == []


async def test_same_person_keeps_one_union_id_across_official_account_and_mini_program(standin):
    standin.add_code("code-1", "o-mp-1", "union-1")
    standin.set_unionid("o-oa-1", "union-1")
    conversation = RecordingConversation()
    async with app_for(standin, conversation) as http:
        headers = {"Authorization": f"Bearer {await login(http, 'code-1')}"}
        await http.post("/api/mp/messages", json={"text": "借钱不还怎么办"}, headers=headers)
    async with official_account(standin, conversation) as oa:
        assert (await oa.post(text_xml("他还是不还", openid="o-oa-1"))).status_code == 200
    users = [user for user, _ in conversation.calls]
    assert [user.channel for user in users] == ["mini_program", "official_account"]
    assert {user.unionid for user in users} == {"union-1"}
    assert users[0].openid != users[1].openid


async def test_with_records_a_reply_says_what_it_is_and_the_reads_keep_the_messages_budget(standin):
    standin.add_code("code-1", "o-mp-1", "union-1")
    standin.set_risky_words("违禁词")
    records = RecordingRecords()
    while time.time() % 60 > 55:  # the windows are calendar minutes: start well inside one
        await asyncio.sleep(0.5)
    config = MiniProgramConfig(max_messages_per_minute=2, max_reads_per_minute=4)
    async with app_for(standin, RecordingConversation(), config=config, records=records) as http:
        headers = {"Authorization": f"Bearer {await login(http, 'code-1')}"}
        reads = [(await http.get(path, headers=headers)).status_code
                 for path in ("/api/mp/history", "/api/mp/cases", "/api/mp/service-points", "/api/mp/cases")]
        answered = await http.post("/api/mp/messages", json={"text": "工钱的事"}, headers=headers)
        refused = await http.post("/api/mp/messages", json={"text": "一段违禁词内容"}, headers=headers)
        over = await http.get("/api/mp/history", headers=headers)
    assert reads == [200, 200, 200, 200], "reads do not use up the two messages"
    assert answered.json() == {"replies": ["答复：工钱的事", "如需帮助请拨打12348。"], "kinds": ["answer", "bot"],
                               "options": [{"number": 1, "title": "看法条原文"}]}
    assert refused.json() == {"replies": [TEXTS.risky_text], "kinds": ["bot"], "options": []}
    assert over.status_code == 429 and over.json()["replies"] == [TEXTS.rate_limited]
    user = ChannelUser("mini_program", "o-mp-1", "union-1")
    assert records.turns == [(user, ["答复：工钱的事", "如需帮助请拨打12348。"])], "a refusal is no turn"
    assert records.asked == [user] * 4


async def test_without_records_there_are_no_reads(standin):
    standin.add_code("code-1", "o-mp-1")
    async with app_for(standin, RecordingConversation()) as http:
        headers = {"Authorization": f"Bearer {await login(http, 'code-1')}"}
        assert (await http.get("/api/mp/cases", headers=headers)).status_code == 404
