"""The official account ("公众号") channel: ``GET/POST /wechat``.

verify → parse → handle → render/push:

- GET is URL verification ("接入概述"); POST carries messages and events, plain or in safe mode
  ("消息加解密说明"). Forged, missing or stale (> 5 min) signatures get 403 and nothing is processed;
  oversized bodies 413; malformed or DTD/entity-bearing XML 400 (``channels._callback``).
- Crash-safe de-duplication ("接收普通消息": WeChat retries three times when it has no answer within 5 s;
  use MsgId, and FromUserName + CreateTime for events): every delivery is recorded in ``channels.inbox``
  before it is worked on, owned by this process. A retry never starts a second run while the owner is
  alive — it returns the passive reply if that is ready within ``retry_wait_seconds``, else ``success``;
  a retry takes over the work of a dead owner and answers it; once WeChat's retries are over
  (``retries_end_seconds``), the sweeper (every ``sweep_seconds``) does, by push.
- Timing ("被动回复用户消息": reply within 5 s or answer ``success``): the conversation runs as a task
  and stores its answer in the ``Outbox`` (``channels.ports``), packed into as few 2,048-byte parts as fit
  (``channels.splitting.pack_replies``). If it answers within ``passive_reply_seconds`` the first part is
  the passive reply; the rest, or everything when the window has passed, is pushed by the outbox's
  worker ("客服消息"), which retries, keeps the order and counts WeChat's 5 messages per resident message
  once. Nothing here calls the customer-service API itself.
- Voice uses ``Recognition``; menu clicks map to texts or conversation prompts; subscribe gets the
  welcome; unsubscribe and other events get nothing. Logs carry hashed openids, never message text.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from channels._callback import CallbackCodec, CallbackRejected, Inbound, check_aes_key
from channels.background import BackgroundTasks
from channels.errors import ChannelConfigError, WeChatError
from channels.inbox import Inbox, InboxRow
from channels.ports import ChannelUser, Conversation, Outbox, Receipt
from channels.privacy import hash_openid
from channels.storage import KeyValueStore
from channels.texts import ChannelTexts, is_blank
from channels.wechat_api import WeChatClient

__all__ = ["OfficialAccount", "OfficialAccountConfig"]

logger = logging.getLogger(__name__)

_SUCCESS = "success"
_REFUSALS = {400: "bad request", 403: "forbidden", 413: "request too large"}


@dataclass(frozen=True, slots=True)
class OfficialAccountConfig:
    """Settings of the official account callback; ``token`` and ``aes_key`` are secrets (kept out of repr)."""

    token: str = field(repr=False)
    appid: str
    aes_key: str | None = field(default=None, repr=False)
    path: str = "/wechat"
    passive_reply_seconds: float = 4.0
    answer_timeout_seconds: float = 120.0
    max_body_bytes: int = 64 * 1024
    timestamp_tolerance_seconds: int = 300
    max_message_chars: int = 1000
    retry_wait_seconds: float = 3.0
    followup_delay_seconds: float = 0.5
    hold_seconds: float = 20.0
    sweep_seconds: float = 5.0
    retries_end_seconds: float = 20.0
    resolve_unionid: bool = True
    unionid_cache_seconds: int = 24 * 3600
    unionid_retry_seconds: int = 300

    def __post_init__(self) -> None:
        if not self.token:
            raise ChannelConfigError("token", "required")
        if not self.appid:
            raise ChannelConfigError("appid", "required")
        if self.aes_key:
            check_aes_key(self.aes_key)
        if not 0 < self.passive_reply_seconds < 5:
            raise ChannelConfigError("passive_reply_seconds", "WeChat waits 5 s: must be between 0 and 5")
        for name in ("answer_timeout_seconds", "max_body_bytes", "max_message_chars", "sweep_seconds"):
            if getattr(self, name) <= 0:
                raise ChannelConfigError(name, "must be positive")
        if self.hold_seconds <= self.passive_reply_seconds:
            raise ChannelConfigError("hold_seconds", "must be longer than passive_reply_seconds")


@dataclass(frozen=True, slots=True)
class _Reply:
    text: str


@dataclass(frozen=True, slots=True)
class _Ask:
    text: str


_Action = _Reply | _Ask | None


class OfficialAccount:
    """The official account channel for one account, with its injected dependencies.

    ``start()`` (on the app's loop) begins the inbox heartbeat and the sweeper; ``aclose()`` stops them.
    """

    def __init__(
        self,
        config: OfficialAccountConfig,
        *,
        conversation: Conversation,
        outbox: Outbox,
        inbox: Inbox,
        store: KeyValueStore,
        client: WeChatClient,
        texts: ChannelTexts | None = None,
        background: BackgroundTasks | None = None,
    ) -> None:
        self.config = config
        self._codec = CallbackCodec(
            config.token,
            config.appid,
            config.aes_key,
            max_body_bytes=config.max_body_bytes,
            tolerance_seconds=config.timestamp_tolerance_seconds,
        )
        self._conversation = conversation
        self._outbox = outbox
        self.inbox = inbox
        self._store = store
        self._client = client
        self._texts = texts if texts is not None else ChannelTexts()
        self.background = background if background is not None else BackgroundTasks()
        self._sweeper: asyncio.Task[None] | None = None

    def routes(self) -> list[BaseRoute]:
        """``GET`` and ``POST`` on ``config.path``."""
        return [Route(self.config.path, self.endpoint, methods=["GET", "POST"], name="wechat_official_account")]

    async def endpoint(self, request: Request) -> Response:
        """The callback URL configured in the official account's "基本配置 / 服务器配置"."""
        query = request.query_params
        try:
            self._codec.check_signature(query)
            if request.method == "GET":
                return PlainTextResponse(self._codec.echo(query))
            inbound = self._codec.open(await self._codec.read_body(request), query)
        except CallbackRejected as exc:
            logger.warning("official account request refused with %d: %s", exc.status, exc.reason)
            return PlainTextResponse(_REFUSALS.get(exc.status, "refused"), status_code=exc.status)
        reply = await self.handle(inbound)
        if reply is None:
            return PlainTextResponse(_SUCCESS)
        return Response(self._codec.render_text(inbound, reply), media_type="application/xml")

    # -- start and stop --------------------------------------------------------------------------------

    def start(self) -> None:
        """Beat, answer what dead processes left unfinished, and keep doing so every ``sweep_seconds``."""
        self.inbox.heartbeat.start()
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever(), name="wechat-inbox-sweep")

    async def aclose(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None
        await self.background.aclose()
        await self.inbox.heartbeat.aclose()

    async def _sweep_forever(self) -> None:
        rounds = 0
        while True:
            try:
                await self.sweep()
                if rounds % 720 == 0:  # about hourly: finished rows older than a day
                    await self.inbox.purge()
            except Exception as exc:  # the database is down: the next round tries again
                logger.error("inbox sweep failed: %s", type(exc).__name__)
            rounds += 1
            await asyncio.sleep(self.config.sweep_seconds)

    async def sweep(self) -> int:
        """Take over the unfinished messages of dead processes and answer them by push; how many."""
        taken = 0
        # WeChat retries a message for about 15 s: until then a retry may still take it and answer passively.
        for row in await self.inbox.orphans(dt.timedelta(seconds=self.config.retries_end_seconds)):
            if await self.inbox.take_over(row):
                taken += 1
                logger.info("answering %s's message left by a stopped process", hash_openid(row.openid))
                self.background.spawn(self._finish(row.key, row.openid, row.kind, row.text), "wechat-recover")
        return taken

    # -- handling --------------------------------------------------------------------------------------

    async def handle(self, inbound: Inbound) -> str | None:
        """The passive reply text for ``inbound`` (None: answer ``success``), processing it at most once."""
        kind = f"{inbound.msg_type}/{inbound.event}" if inbound.event else inbound.msg_type
        action = self._decide(inbound)
        if action is None:
            logger.info("official account %s from %s: nothing to answer", kind, hash_openid(inbound.openid))
            return None
        key = self._dedup_key(inbound)
        what, text = ("reply", action.text) if isinstance(action, _Reply) else ("ask", action.text)
        earlier = await self.inbox.claim(key, "official_account", inbound.openid, what, text)
        if earlier is not None:
            logger.info("official account %s from %s: repeated delivery", kind, hash_openid(inbound.openid))
            return await self._again(earlier)
        logger.info("official account %s from %s", kind, hash_openid(inbound.openid))
        return await self._work(key, inbound.openid, what, text)

    def _dedup_key(self, inbound: Inbound) -> str:
        prefix = f"wechat:oa:{self.config.appid}"
        if inbound.msg_type != "event" and inbound.msg_id is not None:
            return f"{prefix}:msg:{inbound.msg_id}"
        who = hashlib.sha256(inbound.openid.encode("utf-8")).hexdigest()[:32]
        return f"{prefix}:event:{who}:{inbound.create_time}:{inbound.event}"

    def _decide(self, inbound: Inbound) -> _Action:
        texts = self._texts
        if inbound.msg_type == "text":
            return self._judge(inbound.text)
        if inbound.msg_type == "voice":
            return _Reply(texts.voice_unrecognized) if is_blank(inbound.text) else self._judge(inbound.text)
        if inbound.msg_type != "event":
            return _Reply(texts.unsupported_media)  # image, video, location, link, file, and anything newer
        if inbound.event in ("subscribe", "subscribe_scan"):
            return _Reply(texts.welcome)
        if inbound.event == "click":
            prompt = texts.menu_prompts.get(inbound.event_key)
            if prompt:
                return _Ask(prompt)
            return _Reply(texts.menu_replies.get(inbound.event_key, texts.empty_message))
        return None  # unsubscribe, view, scan, location reports, template results…

    def _judge(self, text: str) -> _Action:
        text = text.strip()
        if is_blank(text):
            return _Reply(self._texts.empty_message)
        if len(text) > self.config.max_message_chars:
            return _Reply(self._texts.too_long_for(self.config.max_message_chars))
        return _Ask(text)

    async def _again(self, row: InboxRow) -> str | None:
        """A retry: the passive reply once it is ready; the work itself when its owner has died."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.retry_wait_seconds
        while True:
            if row.state == "replied":
                return row.reply or None
            if row.state == "done":
                return None
            if not await self.inbox.heartbeat.alive(row.owner):
                if await self.inbox.take_over(row):
                    logger.info("taking over %s's message from a stopped process", hash_openid(row.openid))
                    return await self._work(row.key, row.openid, row.kind, row.text)
            elif row.state == "pushing":
                return None  # its owner pushes the answer when ready
            if loop.time() >= deadline:
                return None
            await asyncio.sleep(0.1)
            found = await self.inbox.get(row.key)
            if found is None:
                return None
            row = found

    async def _work(self, key: str, openid: str, what: str, text: str) -> str | None:
        """Prepare the answer; within the passive window its first part is the reply, the rest is pushed."""
        receipt = Receipt(key, self.config.hold_seconds)
        task = asyncio.get_running_loop().create_task(self._prepare(openid, what, text, receipt))
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=self.config.passive_reply_seconds)
        except asyncio.CancelledError:
            # The request went away (shutdown): the answer is still owed to the resident.
            self.background.spawn(self._push_when_done(task, key, receipt), "wechat-push")
            raise
        except TimeoutError:
            await self.inbox.mark(key, "pushing")
            self.background.spawn(self._push_when_done(task, key, receipt), "wechat-push")
            logger.info("answer for %s misses the passive window; it will be pushed", hash_openid(openid))
            return None
        first = await self._outbox.take_first(receipt)
        await self.inbox.mark(key, "replied", first or "")
        await self._outbox.release(receipt, self.config.followup_delay_seconds)
        return first

    async def _prepare(self, openid: str, what: str, text: str, receipt: Receipt) -> None:
        """Have the answer's parts in the outbox (once: an answer stored before a crash is not asked again).

        A fixed text is held as it is; the conversation stores its own answer; any failure of the
        conversation becomes the calm service-error text (logged by type only).
        """
        if await self._outbox.held(receipt):
            return
        user = ChannelUser("official_account", openid, await self._unionid(openid))
        if what == "reply":
            await self._outbox.hold(user, receipt, [text])
            return
        try:
            await asyncio.wait_for(self._conversation.respond(user, text, receipt),
                                   timeout=self.config.answer_timeout_seconds)
        except Exception as exc:
            logger.error("conversation failed for %s: %s", hash_openid(openid), type(exc).__name__)
            logger.debug("conversation failure", exc_info=True)
            if not await self._outbox.held(receipt):
                await self._outbox.hold(user, receipt, [self._texts.service_error])

    async def _push_when_done(self, task: asyncio.Task[None], key: str, receipt: Receipt) -> None:
        await task
        await self._outbox.release(receipt)
        await self.inbox.mark(key, "done")

    async def _finish(self, key: str, openid: str, what: str, text: str) -> None:
        """A message taken over from a dead process: answered by push (its passive window has passed)."""
        receipt = Receipt(key, self.config.hold_seconds)
        await self._prepare(openid, what, text, receipt)
        await self._outbox.release(receipt)
        await self.inbox.mark(key, "done")

    async def _unionid(self, openid: str) -> str | None:
        """The resident's UnionID, cached; None when unbound, disabled or unavailable (never fatal)."""
        if not self.config.resolve_unionid:
            return None
        key = f"wechat:unionid:{self.config.appid}:{hashlib.sha256(openid.encode('utf-8')).hexdigest()[:32]}"
        cached = await self._store.get(key)
        if cached is not None:
            return cached or None
        try:
            unionid = await self._client.get_unionid(openid)
        except WeChatError as exc:
            # Not asked again for a while: an outage or a missing permission (48001) would otherwise cost a
            # failing call and a log line on every message.
            logger.warning("UnionID lookup failed for %s: %s", hash_openid(openid), exc)
            await self._store.set(key, "", ttl=self.config.unionid_retry_seconds)
            return None
        await self._store.set(key, unionid or "", ttl=self.config.unionid_cache_seconds)
        return unionid
