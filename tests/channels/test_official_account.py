"""The official account callback driven through the real Starlette app, with the WeChat stand-in behind it."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from bot.db import make_engine, make_sessions, upgrade_schema
from bot.handoff_adapters import WeChatMessenger
from bot.outbox import AnswerOutbox
from channels.background import BackgroundTasks
from channels.errors import ChannelConfigError
from channels.inbox import Heartbeat, Inbox
from channels.official_account import OfficialAccount, OfficialAccountConfig
from channels.ports import ChannelUser, Receipt
from channels.splitting import utf8_size
from channels.storage import KeyValueStore, MemoryStore, SqlStore
from channels.texts import MENU_CONSULT, MENU_HOTLINE, ChannelTexts
from channels.wechat_api import WeChatClient
from handoff.delivery import DeliveryWorker
from handoff.models import Delivery, ResidentProfile
from tests.channels.conftest import AES_KEY, OA_APPID, OA_SECRET, TOKEN
from tests.channels.wechat_standin import CallbackSigner, event_xml, media_xml, text_xml, voice_xml

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.anyio
TEXTS = ChannelTexts()


class ScriptedConversation:
    """A test double of the ``Conversation`` port: records calls, answers after ``delay``.

    With a receipt it stores its replies in the outbox, as the conversation service does in the answer's
    transaction.
    """

    def __init__(self, *, delay: float = 0.0, replies: list[str] | None = None, fail: bool = False) -> None:
        self.delay, self.replies, self.fail = delay, replies, fail
        self.calls: list[tuple[ChannelUser, str]] = []
        self.outbox: AnswerOutbox | None = None

    async def respond(self, user: ChannelUser, text: str, receipt: Receipt | None = None) -> list[str]:
        self.calls.append((user, text))
        await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError(f"engine broke on {text}")
        replies = list(self.replies) if self.replies is not None else [f"答复：{text}"]
        if receipt is not None:
            assert self.outbox is not None
            await self.outbox.hold(user, receipt, replies)
        return replies


@dataclass
class Harness:
    http: httpx.AsyncClient
    signer: CallbackSigner
    channel: OfficialAccount
    sessions: sessionmaker[Session]
    worker: DeliveryWorker

    @property
    def background(self) -> BackgroundTasks:
        return self.channel.background

    async def post(self, xml: str, **kwargs: Any) -> httpx.Response:
        query, body = self.signer.post(xml, **kwargs)
        return await self.http.post("/wechat", params=query, content=body)

    def reply_of(self, response: httpx.Response) -> dict[str, str]:
        assert response.status_code == 200
        assert response.text != "success", "expected a passive reply"
        root = ElementTree.fromstring(self.signer.open_reply(response.text))
        return {child.tag: child.text or "" for child in root}

    def deliveries(self) -> list[Delivery]:
        with self.sessions() as session:
            return list(session.scalars(select(Delivery).order_by(Delivery.id)))

    def sent_since_inbound(self, openid: str = "o-resident-1") -> int:
        with self.sessions() as session:
            row = session.get(ResidentProfile, f"official_account:{openid}")
            return row.sent_since_inbound if row is not None else 0

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until the answers are prepared and the outbox has pushed what is due."""
        assert await self.background.join(timeout)
        deadline = time.monotonic() + timeout
        while any(d.state in ("pending", "awaiting") for d in self.deliveries()):
            assert time.monotonic() < deadline, "the outbox did not drain"
            self.worker.wake()
            await asyncio.sleep(0.05)


def database(path: Path) -> tuple[Engine, sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{path}")
    upgrade_schema(engine)
    return engine, make_sessions(engine)


@asynccontextmanager
async def official_account(
    standin, conversation, *, aes: bool = False, store: KeyValueStore | None = None, texts=None,
    db: Path | None = None, **settings: Any
) -> AsyncIterator[Harness]:
    """The channel in an app, with a real database, inbox, outbox and delivery worker behind it."""
    store = store if store is not None else MemoryStore()
    scratch = tempfile.TemporaryDirectory()
    engine, sessions = database(db or Path(scratch.name) / "lawline.sqlite3")
    client = WeChatClient(OA_APPID, OA_SECRET, store, api_base=standin.base_url, backoff_seconds=0.01,
                          timeout_seconds=settings.pop("client_timeout", 10.0))
    worker = DeliveryWorker(sessions, WeChatMessenger({"official_account": client}), "请回复任意文字。",
                            idle_seconds=0.2)
    outbox = AnswerOutbox(sessions, worker.wake)
    if isinstance(conversation, ScriptedConversation):
        conversation.outbox = outbox
    settings = {"passive_reply_seconds": 1.0, "followup_delay_seconds": 0.0, "sweep_seconds": 0.2, **settings}
    config = OfficialAccountConfig(token=TOKEN, appid=OA_APPID, aes_key=AES_KEY if aes else None, **settings)
    channel = OfficialAccount(config, conversation=conversation, outbox=outbox,
                              inbox=Inbox(engine, Heartbeat(store, beat_seconds=0.2, lease_seconds=1.0)),
                              store=store, client=client, texts=texts)
    transport = httpx.ASGITransport(app=Starlette(routes=channel.routes()))
    worker.start()
    channel.start()
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://lawline.test") as http:
            harness = Harness(http, CallbackSigner(TOKEN, OA_APPID, AES_KEY if aes else None), channel, sessions,
                              worker)
            yield harness
            await harness.settle()
    finally:
        await channel.aclose()
        await worker.aclose()
        await client.aclose()
        engine.dispose()
        scratch.cleanup()


# -- verification and hostile input ---------------------------------------------------------------------


async def test_url_verification_echoes_echostr(standin):
    async with official_account(standin, ScriptedConversation()) as oa:
        query = oa.signer.query()
        response = await oa.http.get("/wechat", params={**query, "echostr": "8573625194736"})
        assert (response.status_code, response.text) == (200, "8573625194736")
        forged = {**query, "signature": "0" * 40, "echostr": "1"}
        assert (await oa.http.get("/wechat", params=forged)).status_code == 403
        assert (await oa.http.get("/wechat", params={"echostr": "1"})).status_code == 403


async def test_forged_or_missing_signature_is_403_and_nothing_is_processed(standin):
    conversation = ScriptedConversation()
    async with official_account(standin, conversation) as oa:
        query, body = oa.signer.post(text_xml("你好"))
        forged = {**query, "signature": CallbackSigner("wrong-token", OA_APPID).query()["signature"]}
        assert (await oa.http.post("/wechat", params=forged, content=body)).status_code == 403
        assert (await oa.http.post("/wechat", content=body)).status_code == 403
        assert (await oa.http.post("/wechat", params={**query, "signature": "签名"}, content=body)).status_code == 403
        # Nothing was claimed either: the genuine delivery of the same message is answered.
        assert oa.reply_of(await oa.http.post("/wechat", params=query, content=body))["Content"] == "答复：你好"
    assert len(conversation.calls) == 1


async def test_stale_timestamps_are_refused(standin):
    conversation = ScriptedConversation()
    async with official_account(standin, conversation) as oa:
        old = await oa.post(text_xml("你好"), timestamp=int(time.time()) - 301)
        future = await oa.post(text_xml("你好"), timestamp=int(time.time()) + 400)
        assert (old.status_code, future.status_code) == (403, 403)
    assert conversation.calls == []


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&lol4;</Content><MsgId>1</MsgId></xml>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&secret;</Content><MsgId>2</MsgId></xml>"""


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        "<xml><MsgType>text</MsgType>",
        "not xml at all",
        "<note><MsgType>text</MsgType></note>",
        "<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>x</CreateTime>"
        "<MsgType>text</MsgType><Content>hi</Content><MsgId>nan</MsgId></xml>",
        "",
    ],
    ids=["billion-laughs", "external-entity", "truncated", "not-xml", "wrong-root", "bad-numbers", "empty"],
)
async def test_hostile_or_malformed_xml_is_400_without_processing(standin, body):
    conversation = ScriptedConversation()
    async with official_account(standin, conversation) as oa:
        query, _ = oa.signer.post("<xml/>")
        response = await oa.http.post("/wechat", params=query, content=body.encode())
        assert response.status_code == 400
        assert "lol" not in response.text and "passwd" not in response.text
    assert conversation.calls == []


async def test_oversized_body_is_413(standin):
    conversation = ScriptedConversation()
    async with official_account(standin, conversation) as oa:
        big = text_xml("工" * 30_000)  # ~90 KB
        assert (await oa.post(big)).status_code == 413

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds while streaming
            for _ in range(100):
                yield b"<xml>" + b" " * 1000

        query, _ = oa.signer.post("<xml/>")
        assert (await oa.http.post("/wechat", params=query, content=chunks())).status_code == 413
    assert conversation.calls == []


# -- plain and safe mode ----------------------------------------------------------------------------


async def test_plain_text_gets_a_passive_reply_with_the_union_id(standin):
    standin.set_unionid("o-resident-1", "union-1")
    conversation = ScriptedConversation()
    async with official_account(standin, conversation) as oa:
        reply = oa.reply_of(await oa.post(text_xml("老板拖欠工资怎么办")))
    assert reply["MsgType"] == "text" and reply["Content"] == "答复：老板拖欠工资怎么办"
    assert (reply["ToUserName"], reply["FromUserName"]) == ("o-resident-1", "gh_lawline")
    assert conversation.calls == [(ChannelUser("official_account", "o-resident-1", "union-1"), "老板拖欠工资怎么办")]
    assert standin.sent == []


async def test_a_failed_union_id_lookup_is_not_repeated_on_every_message(standin):
    standin.set_unionid("o-resident-1", "union-1")
    standin.fail_next("/cgi-bin/user/info", 48001)  # e.g. the account lacks the permission, or an outage
    conversation = ScriptedConversation()
    async with official_account(standin, conversation) as oa:
        for msg_id, text in ((901, "第一条"), (902, "第二条"), (903, "第三条")):
            assert oa.reply_of(await oa.post(text_xml(text, msg_id=msg_id)))["Content"] == f"答复：{text}"
    assert standin.calls("/cgi-bin/user/info") == 1
    assert [user.unionid for user, _ in conversation.calls] == [None, None, None]


async def test_safe_mode_decrypts_and_encrypts(standin):
    conversation = ScriptedConversation()
    async with official_account(standin, conversation, aes=True) as oa:
        response = await oa.post(text_xml("邻居占了我家宅基地"))
        assert "<Encrypt>" in response.text and "邻居" not in response.text
        assert oa.reply_of(response)["Content"] == "答复：邻居占了我家宅基地"

        # A plain delivery is refused in safe mode (its signature does not cover the body).
        plain = CallbackSigner(TOKEN, OA_APPID)
        query, body = plain.post(text_xml("你好", msg_id=77))
        assert (await oa.http.post("/wechat", params=query, content=body)).status_code == 403

        # A body swapped under a valid query fails the msg_signature check.
        query, _ = oa.signer.post(text_xml("第一条", msg_id=78))
        _, other_body = oa.signer.post(text_xml("第二条", msg_id=79))
        assert (await oa.http.post("/wechat", params=query, content=other_body)).status_code == 403
    assert [text for _, text in conversation.calls] == ["邻居占了我家宅基地"]


# -- de-duplication and timing ------------------------------------------------------------------------


async def test_retries_of_one_msgid_are_processed_once(standin):
    conversation = ScriptedConversation(delay=0.3)
    async with official_account(standin, conversation) as oa:
        xml = text_xml("欠条丢了还能要钱吗", msg_id=555)
        responses = await asyncio.gather(*(oa.post(xml) for _ in range(4)))
        later = await oa.post(xml)
        for response in [*responses, later]:
            assert oa.reply_of(response)["Content"] == "答复：欠条丢了还能要钱吗"
    assert len(conversation.calls) == 1
    assert standin.sent == []


async def test_retry_landing_on_another_worker_is_not_processed_again(standin, tmp_path):
    db = tmp_path / "shared.sqlite3"
    engine, _ = database(db)
    shared = SqlStore(engine)
    conversation = ScriptedConversation(delay=0.2)
    try:
        async with official_account(standin, conversation, store=shared, db=db) as first:
            async with official_account(standin, conversation, store=shared, db=db) as second:
                xml = text_xml("工伤怎么认定", msg_id=901)
                one, two = await asyncio.gather(first.post(xml), second.post(xml))
                assert first.reply_of(one)["Content"] == second.reply_of(two)["Content"] == "答复：工伤怎么认定"
    finally:
        engine.dispose()
    assert len(conversation.calls) == 1


async def test_slow_answer_is_success_then_exactly_one_push(standin):
    conversation = ScriptedConversation(delay=0.6)
    async with official_account(standin, conversation, passive_reply_seconds=0.2) as oa:
        xml = text_xml("离婚后孩子抚养费怎么算", msg_id=700)
        first = await oa.post(xml)
        retry = await oa.post(xml)  # WeChat's retry while the answer is still being worked out
        assert (first.text, retry.text) == ("success", "success")
        assert standin.sent == []
        await oa.settle()
        assert (await oa.post(xml)).text == "success"  # a late retry does not push again
        await oa.settle()
    assert [(sent.openid, sent.content) for sent in standin.sent] == [("o-resident-1", "答复：离婚后孩子抚养费怎么算")]
    assert len(conversation.calls) == 1


async def test_long_answer_is_split_passive_first_part_then_pushes(standin):
    sentence = "依照《民法典》第一千零六十七条，父母不履行抚养义务的，未成年子女有权要求给付抚养费。"
    paragraphs = [f"第{index}段：" + sentence * 10 for index in range(5)]
    answer = "\n\n".join(paragraphs)
    assert utf8_size(answer) > 3 * 2048
    conversation = ScriptedConversation(replies=[answer])
    async with official_account(standin, conversation) as oa:
        passive = oa.reply_of(await oa.post(text_xml("抚养费")))["Content"]
    pushed = [sent.content for sent in standin.sent]
    assert len(pushed) >= 2
    assert all(utf8_size(part) <= 2048 for part in [passive, *pushed])
    assert "\n\n".join([passive, *pushed]) == answer


async def test_the_replies_of_one_turn_go_out_in_as_few_messages_as_fit(standin):
    # Seven replies in one turn (answer, steps, places, quoted articles, citation, disclaimer, options),
    # about 2,500 bytes in all.
    sections = ["答：" + "欠薪可以先找劳动监察。" * 30, "怎么办：\n1. 留好证据。\n2. 先协商。" * 3,
                "去哪里：\n· 县人力资源和社会保障局\n· 12348 公共法律服务热线",
                "法律是这样规定的：\n" + "《保障农民工工资支付条例》第三十条：“……”" * 16,
                "法律依据：《保障农民工工资支付条例》第三十条", "以上是一般性的法律信息，不是正式的法律意见。",
                "回复「法律援助」\n回复「转人工」"]
    assert 2048 < utf8_size("\n\n".join(sections)) <= 2 * 2048
    async with official_account(standin, ScriptedConversation(replies=sections)) as oa:
        passive = oa.reply_of(await oa.post(text_xml("工钱")))["Content"]
    pushed = [sent.content for sent in standin.sent]
    # WeChat allows 5 customer-service messages per message a resident sends; this answer uses one.
    assert len(pushed) == 1
    assert all(utf8_size(part) <= 2048 for part in [passive, *pushed])
    assert "\n\n".join([passive, *pushed]) == "\n\n".join(sections), "every section, in order, paragraphs kept"


async def test_short_replies_of_one_turn_are_one_passive_reply(standin):
    conversation = ScriptedConversation(replies=["您好！", "  ", "请问有什么可以帮您？"])
    async with official_account(standin, conversation) as oa:
        reply = oa.reply_of(await oa.post(text_xml("你好")))
        await oa.settle()
        assert standin.sent == [] and oa.sent_since_inbound() == 0
        assert [(d.state, d.via) for d in oa.deliveries()] == [("sent", "passive")]
    assert reply["Content"] == "您好！\n\n请问有什么可以帮您？"


def _long_answer(paragraphs: int) -> list[str]:
    # Each paragraph ≈ 1,800 bytes: one WeChat message each.
    return [f"第{index}段：" + "依照法律规定，用人单位应当按时足额支付劳动报酬。" * 25 for index in range(paragraphs)]


async def test_pushes_after_a_residents_message_count_against_the_quota_once_each(standin):
    replies = _long_answer(3)  # three parts: one passive, two pushed
    async with official_account(standin, ScriptedConversation(replies=replies)) as oa:
        oa.reply_of(await oa.post(text_xml("工钱")))
        await oa.settle()
        assert len(standin.sent) == 2
        assert oa.sent_since_inbound() == 2
        assert [d.via for d in oa.deliveries()] == ["passive", "customer_service", "customer_service"]


async def test_a_quota_refusal_holds_the_rest_for_the_residents_next_message(standin):
    standin.fail_next("/cgi-bin/message/custom/send", 0, 45047)  # the second push is over WeChat's quota
    conversation = ScriptedConversation(delay=0.3, replies=_long_answer(3))
    async with official_account(standin, conversation, passive_reply_seconds=0.1) as oa:
        assert (await oa.post(text_xml("工钱"))).text == "success"
        await oa.settle()
        assert len(standin.sent) == 1
        assert [d.state for d in oa.deliveries()] == ["sent", "held", "held"]


async def test_busy_wechat_and_http_500_are_retried_until_every_part_is_out_once(standin):
    # Four failures outlast the client's own three retries: the outbox tries again after its backoff.
    standin.fail_http_next(500, 500)
    standin.fail_next("/cgi-bin/message/custom/send", -1, -1)
    replies = _long_answer(3)
    async with official_account(standin, ScriptedConversation(replies=replies)) as oa:
        passive = oa.reply_of(await oa.post(text_xml("工钱")))["Content"]
        await oa.settle(15)
        assert [d.state for d in oa.deliveries()] == ["sent", "sent", "sent"]
        assert oa.sent_since_inbound() == 2
    assert [passive, *(sent.content for sent in standin.sent)] == replies, "each part once, in order"


async def test_a_push_that_misses_the_passive_window_and_fails_is_still_delivered(standin):
    standin.fail_http_next(500, 500, 500, 500)
    conversation = ScriptedConversation(delay=0.3, replies=["答复：要回工钱先要留好证据。"])
    async with official_account(standin, conversation, passive_reply_seconds=0.1) as oa:
        assert (await oa.post(text_xml("工钱"))).text == "success"
        await oa.settle(15)
    assert [sent.content for sent in standin.sent] == ["答复：要回工钱先要留好证据。"]


async def test_a_slow_ok_is_sent_at_most_once_more_and_counted_once(standin):
    # WeChat delivers the push but its "ok" comes after the client gave up: the outcome is unknown.
    standin.slow_ok_next(1.5)
    replies = _long_answer(2)
    async with official_account(standin, ScriptedConversation(replies=replies), client_timeout=0.3) as oa:
        oa.reply_of(await oa.post(text_xml("工钱")))
        await oa.settle(15)
        assert [sent.content for sent in standin.sent] == [replies[1], replies[1]], "one copy more, not four"
        assert standin.calls("/cgi-bin/message/custom/send") == 2
        assert oa.sent_since_inbound() == 1


async def test_push_after_the_48_hour_window_is_held_not_lost(standin):
    standin.fail_next("/cgi-bin/message/custom/send", 45015)
    conversation = ScriptedConversation(delay=0.4, replies=["第一条。", "第二条。"])
    async with official_account(standin, conversation, passive_reply_seconds=0.1) as oa:
        assert (await oa.post(text_xml("你好"))).text == "success"
        await oa.settle()
        assert standin.sent == []
        assert [(d.state, d.last_error) for d in oa.deliveries()] == [("held", "window_closed")]


async def test_conversation_failure_gets_the_calm_service_text(standin, caplog):
    with caplog.at_level(logging.INFO, logger="channels"):
        async with official_account(standin, ScriptedConversation(fail=True)) as oa:
            reply = oa.reply_of(await oa.post(text_xml("我的身份证号是110101199003078888")))
    assert reply["Content"] == TEXTS.service_error
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "RuntimeError" in logged
    assert "110101199003078888" not in logged and "o-resident-1" not in logged


# -- message kinds -------------------------------------------------------------------------------------


class FlakyConversation(ScriptedConversation):
    """Refuses the first ``outages`` calls as a database that is restarting does (connection refused)."""

    def __init__(self, outages: int) -> None:
        super().__init__()
        self.outages = outages

    async def respond(self, user: ChannelUser, text: str, receipt: Receipt | None = None) -> list[str]:
        if self.outages:
            self.outages -= 1
            self.calls.append((user, text))
            raise ConnectionRefusedError("the database is restarting")
        return await super().respond(user, text, receipt)


async def test_an_answer_asked_during_a_database_restart_is_asked_again_not_given_up(standin):
    conversation = FlakyConversation(outages=2)
    async with official_account(standin, conversation, passive_reply_seconds=2.0) as oa:
        reply = oa.reply_of(await oa.post(text_xml("工地上受伤了老板不管")))
    assert reply["Content"] == "答复：工地上受伤了老板不管", "the answer, not the service-error text"
    assert len(conversation.calls) == 3


async def test_voice_uses_its_recognition(standin):
    conversation = ScriptedConversation()
    async with official_account(standin, conversation) as oa:
        assert oa.reply_of(await oa.post(voice_xml("包工头跑了工钱找谁要")))["Content"] == "答复：包工头跑了工钱找谁要"
        assert oa.reply_of(await oa.post(voice_xml("", msg_id=2002)))["Content"] == TEXTS.voice_unrecognized
    assert [text for _, text in conversation.calls] == ["包工头跑了工钱找谁要"]


@pytest.mark.parametrize("msg_type", ["image", "video", "shortvideo", "location", "link", "file", "hologram"])
async def test_media_and_unknown_types_get_a_helpful_reply(standin, msg_type):
    conversation = ScriptedConversation()
    async with official_account(standin, conversation) as oa:
        assert oa.reply_of(await oa.post(media_xml(msg_type)))["Content"] == TEXTS.unsupported_media
    assert conversation.calls == []


async def test_empty_emoji_and_too_long_messages(standin):
    conversation = ScriptedConversation()
    async with official_account(standin, conversation, max_message_chars=50) as oa:
        assert oa.reply_of(await oa.post(text_xml("  ", msg_id=1)))["Content"] == TEXTS.empty_message
        assert oa.reply_of(await oa.post(text_xml("😀[微笑]", msg_id=2)))["Content"] == TEXTS.empty_message
        too_long = oa.reply_of(await oa.post(text_xml("工资" * 40, msg_id=3)))["Content"]
        assert too_long == TEXTS.too_long_for(50) and "50" in too_long
    assert conversation.calls == []


async def test_subscribe_gets_the_welcome_and_unsubscribe_nothing(standin):
    conversation = ScriptedConversation()
    async with official_account(standin, conversation) as oa:
        welcome = oa.reply_of(await oa.post(event_xml("subscribe")))["Content"]
        assert welcome == TEXTS.welcome
        for topic in ("工资", "赡养费", "抚养费", "土地承包", "法律援助", "法律顾问", "12348"):
            assert topic in welcome
        scanned = oa.reply_of(await oa.post(event_xml("subscribe", "qrscene_123", openid="o-2")))["Content"]
        assert scanned == TEXTS.welcome
        assert (await oa.post(event_xml("unsubscribe", create_time=1))).text == "success"
        assert (await oa.post(event_xml("TEMPLATESENDJOBFINISH", create_time=2))).text == "success"
    assert conversation.calls == []


async def test_menu_clicks_map_to_texts_or_to_the_conversation(standin):
    conversation = ScriptedConversation()
    texts = ChannelTexts(menu_prompts={MENU_CONSULT: "我想咨询法律问题"})
    async with official_account(standin, conversation, texts=texts) as oa:
        hotline = oa.reply_of(await oa.post(event_xml("CLICK", MENU_HOTLINE, create_time=10)))["Content"]
        assert hotline == TEXTS.menu_replies[MENU_HOTLINE] and "12348" in hotline
        consult = oa.reply_of(await oa.post(event_xml("CLICK", MENU_CONSULT, create_time=11)))["Content"]
        assert consult == "答复：我想咨询法律问题"
        unknown = oa.reply_of(await oa.post(event_xml("CLICK", "OLD_KEY", create_time=12)))["Content"]
        assert unknown == TEXTS.empty_message
        # The same click delivered twice (same FromUserName + CreateTime) is handled once.
        again = oa.reply_of(await oa.post(event_xml("CLICK", MENU_CONSULT, create_time=11)))["Content"]
        assert again == consult
    assert [text for _, text in conversation.calls] == ["我想咨询法律问题"]


async def test_logs_carry_hashed_openids_never_text(standin, caplog):
    with caplog.at_level(logging.DEBUG, logger="channels"):
        async with official_account(standin, ScriptedConversation(delay=0.3), passive_reply_seconds=0.1) as oa:
            await oa.post(text_xml("我叫张三，电话13800138000", openid="o-secret-openid"))
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "张三" not in logged and "13800138000" not in logged and "o-secret-openid" not in logged
    assert "custom-service text sent" in logged


@pytest.mark.parametrize(
    ("settings", "name"),
    [
        ({"aes_key": "too-short"}, "aes_key"),
        ({"aes_key": "!" * 43}, "aes_key"),
        ({"passive_reply_seconds": 5.5}, "passive_reply_seconds"),
        ({"max_body_bytes": 0}, "max_body_bytes"),
        ({"token": ""}, "token"),
    ],
)
def test_bad_settings_fail_at_start_with_their_name(settings, name):
    with pytest.raises(ChannelConfigError) as caught:
        OfficialAccountConfig(**{"token": TOKEN, "appid": OA_APPID, **settings})
    assert caught.value.name == name


def test_reprs_keep_secrets_and_ids_out_of_logs():
    config = OfficialAccountConfig(token=TOKEN, appid=OA_APPID, aes_key=AES_KEY)
    assert TOKEN not in repr(config) and AES_KEY not in repr(config)
    user = ChannelUser("official_account", "o-secret", "u-secret")
    assert "o-secret" not in repr(user) and "u-secret" not in repr(user)


# -- a crash while answering ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_messages_in_flight_when_a_process_is_killed_are_answered_after_it(standin, tmp_path):
    """``kill -9`` while six answers are prepared: WeChat's retries and the sweeper answer every one, once."""
    db = tmp_path / "shared.sqlite3"
    database(db)[0].dispose()
    port = _free_port()
    env = {**os.environ, "OA_TEST_DB": str(db), "OA_TEST_WECHAT": standin.base_url, "OA_TEST_DELAY": "60"}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.channels.oa_process:app", "--host", "127.0.0.1", "--port",
         str(port), "--log-level", "warning"], cwd=ROOT, env=env)
    signer = CallbackSigner(TOKEN, OA_APPID)
    texts = [f"第{n}个问题：工钱怎么要" for n in range(6)]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            for _ in range(200):
                try:
                    await http.get("/wechat")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)

            async def first_delivery(n: int) -> str:
                query, body = signer.post(text_xml(texts[n], msg_id=5000 + n))
                return (await http.post("/wechat", params=query, content=body)).text

            assert await asyncio.gather(*(first_delivery(n) for n in range(6))) == ["success"] * 6
    finally:
        process.kill()  # SIGKILL: no shutdown, no cleanup
        process.wait(10)
    conversation = ScriptedConversation()
    shared = SqlStore(database(db)[0])
    async with official_account(standin, conversation, store=shared, db=db, retries_end_seconds=3.0) as oa:
        # WeChat's retry of the first two: answered by the process that is alive now, passively.
        for n in range(2):
            assert oa.reply_of(await oa.post(text_xml(texts[n], msg_id=5000 + n)))["Content"] == f"答复：{texts[n]}"
        await oa.settle()
        deadline = time.monotonic() + 10
        while len(standin.sent) < 4:  # the four that WeChat gave up on: found by the sweeper, pushed
            assert time.monotonic() < deadline, standin.sent
            await asyncio.sleep(0.05)
        await oa.settle()
    assert sorted(sent.content for sent in standin.sent) == sorted(f"答复：{t}" for t in texts[2:])
    assert sorted(text for _, text in conversation.calls) == sorted(texts)
