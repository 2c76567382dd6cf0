"""The official account channel as a process of its own, for the crash test (``kill -9`` while it answers).

``uvicorn tests.channels.oa_process:app`` with ``OA_TEST_DB`` (a SQLite file), ``OA_TEST_WECHAT`` (the
stand-in's URL) and ``OA_TEST_DELAY`` (how long its conversation takes to answer).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from bot.db import make_engine, make_sessions, upgrade_schema
from bot.handoff_adapters import WeChatMessenger
from bot.outbox import AnswerOutbox
from channels.inbox import Heartbeat, Inbox
from channels.official_account import OfficialAccount, OfficialAccountConfig
from channels.ports import ChannelUser, Receipt
from channels.storage import SqlStore
from channels.wechat_api import WeChatClient
from handoff.delivery import DeliveryWorker
from tests.channels.conftest import OA_APPID, OA_SECRET, TOKEN


class SlowConversation:
    def __init__(self, outbox: AnswerOutbox, delay: float) -> None:
        self.outbox, self.delay = outbox, delay

    async def respond(self, user: ChannelUser, text: str, receipt: Receipt | None = None) -> list[str]:
        await asyncio.sleep(self.delay)
        if receipt is not None:
            await self.outbox.hold(user, receipt, [f"答复：{text}"])
        return [f"答复：{text}"]


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    engine = make_engine(f"sqlite:///{os.environ['OA_TEST_DB']}")
    upgrade_schema(engine)
    sessions = make_sessions(engine)
    store = SqlStore(engine)
    client = WeChatClient(OA_APPID, OA_SECRET, store, api_base=os.environ["OA_TEST_WECHAT"])
    worker = DeliveryWorker(sessions, WeChatMessenger({"official_account": client}), "请回复任意文字。")
    outbox = AnswerOutbox(sessions, worker.wake)
    channel = OfficialAccount(OfficialAccountConfig(token=TOKEN, appid=OA_APPID, passive_reply_seconds=1.0),
                              conversation=SlowConversation(outbox, float(os.environ["OA_TEST_DELAY"])),
                              outbox=outbox, inbox=Inbox(engine, Heartbeat(store)), store=store, client=client)
    app.router.routes.extend(channel.routes())
    worker.start()
    channel.start()
    yield
    await channel.aclose()
    await worker.aclose()
    await client.aclose()


app = Starlette(lifespan=lifespan)
