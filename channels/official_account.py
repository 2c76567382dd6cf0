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
- Outages (a PostgreSQL restart, Redis killed): every step that touches the inbox or the outbox is tried
  again for ``outage_seconds`` (``channels._outage``). A delivery that cannot be recorded in that time gets an
  error, which WeChat answers with its own retry; once recorded, a message is never dropped: if its work
  fails all the same, this process's sweeper (or WeChat's next retry) takes it up again, since a row that
  this process owns but works on no longer (``_busy``) counts as left by a dead process.
- Voice uses ``Recognition``; menu clicks map to texts or conversation prompts; subscribe gets the
  welcome; unsubscribe and other events get nothing. Logs carry hashed openids, never message text.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from channels._callback import CallbackCodec, CallbackRejected, Inbound, check_aes_key
from channels._outage import patiently, unavailable
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

T = TypeVar("T")
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
    outage_seconds: float = 10.0
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
        for name in ("answer_timeout_seconds", "max_body_bytes", "max_message_chars", "sweep_seconds",
                     "outage_seconds"):
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
        # The messages this process works on now; its other unfinished rows are recovered like a dead one's.
        self._busy: set[str] = set()

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
        """Answer by push the unfinished messages nobody works on; how many.

        A dead process's, or this one's whose work failed in an outage.
        """
        taken = 0
        # WeChat retries a message for about 15 s: until then a retry may still take it and answer passively.
        for row in await self.inbox.orphans(dt.timedelta(seconds=self.config.retries_end_seconds), busy=self._busy):
            if await self._adopt(row):
                taken += 1
                logger.info("answering %s's message left unfinished", hash_openid(row.openid))
                self.background.spawn(self._finish(row.key, row.openid, row.kind, row.text), "wechat-recover")
        return taken

    async def _adopt(self, row: InboxRow) -> bool:
        """Make ``row`` this process's work (marked busy) unless it is already; exactly one taker wins."""
        if row.key in self._busy:
            return False
        self._busy.add(row.key)  # before any await: a second retry of the same message sees it busy
        try:
            taken = await self.inbox.take_over(row)
        except Exception as exc:
            logger.warning("inbox row not taken over: %s", type(exc).__name__)
            taken = False
        if not taken:
            self._busy.discard(row.key)
        return taken

    async def _alive(self, row: InboxRow) -> bool:
        """Whether someone works on ``row``: this process if it is busy with it, else its owner's heartbeat."""
        if row.owner == self.inbox.owner:
            return row.key in self._busy
        try:
            return await self.inbox.heartbeat.alive(row.owner)
        except Exception as exc:  # the store is down: unsure, so leave it to its owner (or the sweeper, later)
            logger.warning("heartbeat not read: %s", type(exc).__name__)
            return True

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
        # Not recorded within the patience (longer than WeChat waits): WeChat's retry came meanwhile; nothing
        # is lost yet.
        earlier = await patiently(lambda: self.inbox.claim(key, "official_account", inbound.openid, what, text),
                                  self.config.outage_seconds)
        if earlier is not None:
            logger.info("official account %s from %s: repeated delivery", kind, hash_openid(inbound.openid))
            return await self._recorded(self._again(earlier))
        self._busy.add(key)  # no await since the row went in: nobody saw it without its worker
        logger.info("official account %s from %s", kind, hash_openid(inbound.openid))
        return await self._recorded(self._work(key, inbound.openid, what, text))

    async def _recorded(self, work: Awaitable[str | None]) -> str | None:
        """A recorded message's work; its failure is logged and answered ``success``: the row stays for recovery."""
        try:
            return await work
        except Exception as exc:
            logger.error("message left for recovery: %s", type(exc).__name__)
            return None

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
            if not await self._alive(row):
                if await self._adopt(row):
                    logger.info("taking over %s's message left unfinished", hash_openid(row.openid))
                    return await self._work(row.key, row.openid, row.kind, row.text)
            elif row.state == "pushing":
                return None  # its owner pushes the answer when ready
            if loop.time() >= deadline:
                return None
            await asyncio.sleep(0.1)
            try:
                found = await self.inbox.get(row.key)
            except Exception as exc:
                if not unavailable(exc):
                    raise
                continue  # the database is restarting: look again until the deadline
            if found is None:
                return None
            row = found

    async def _work(self, key: str, openid: str, what: str, text: str) -> str | None:
        """Prepare the answer; within the passive window its first part is the reply, the rest is pushed.

        ``key`` is marked busy by the caller; the mark ends here, or with the push this hands the answer to.
        """
        receipt = Receipt(key, self.config.hold_seconds)
        task = asyncio.get_running_loop().create_task(self._prepare(openid, what, text, receipt))
        pushed = False
        try:
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout=self.config.passive_reply_seconds)
            except asyncio.CancelledError:
                # The request went away (shutdown): the answer is still owed to the resident.
                pushed = True
                self.background.spawn(self._push_when_done(task, key, receipt), "wechat-push")
                raise
            except TimeoutError:
                pushed = True
                try:
                    await self._attempt(lambda: self.inbox.mark(key, "pushing"))
                finally:
                    self.background.spawn(self._push_when_done(task, key, receipt), "wechat-push")
                logger.info("answer for %s misses the passive window; it will be pushed", hash_openid(openid))
                return None
            first = await self._step(lambda: self._outbox.take_first(receipt))
            if not await self._attempt(lambda: self.inbox.mark(key, "replied", first or "")):
                return first  # still unfinished in the inbox: the sweeper releases the rest later
            # Not released in an outage: the outbox's worker pushes the rest once the hold ends.
            await self._attempt(lambda: self._outbox.release(receipt, self.config.followup_delay_seconds))
            return first
        finally:
            if not pushed:
                self._busy.discard(key)

    async def _step(self, call: Callable[[], Awaitable[T]]) -> T:
        """One inbox or outbox call, ridden through an outage of up to ``outage_seconds``."""
        return await patiently(call, self.config.outage_seconds)

    async def _attempt(self, call: Callable[[], Awaitable[None]]) -> bool:
        """A step that may fail (a later one makes up for it): logged, and False."""
        try:
            await self._step(call)
            return True
        except Exception as exc:
            logger.warning("inbox or outbox step skipped: %s", type(exc).__name__)
            return False

    async def _prepare(self, openid: str, what: str, text: str, receipt: Receipt) -> None:
        """Have the answer's parts in the outbox (once: an answer stored before a crash is not asked again).

        A fixed text is held as it is; the conversation stores its own answer; any failure of the
        conversation becomes the calm service-error text (logged by type only).
        """
        if await self._step(lambda: self._outbox.held(receipt)):
            return
        user = ChannelUser("official_account", openid, await self._unionid(openid))
        if what == "reply":
            await self._step(lambda: self._outbox.hold(user, receipt, [text]))
            return
        try:
            # The answer is stored in the conversation's own transaction: asked again after an outage, it is
            # stored once (and Rasa may have seen the message twice).
            await patiently(lambda: asyncio.wait_for(self._conversation.respond(user, text, receipt),
                                                     timeout=self.config.answer_timeout_seconds),
                            self.config.outage_seconds)
        except Exception as exc:
            logger.error("conversation failed for %s: %s", hash_openid(openid), type(exc).__name__)
            logger.debug("conversation failure", exc_info=True)
            if not await self._step(lambda: self._outbox.held(receipt)):
                await self._step(lambda: self._outbox.hold(user, receipt, [self._texts.service_error]))

    async def _push_when_done(self, task: asyncio.Task[None], key: str, receipt: Receipt) -> None:
        try:
            await task
            await self._step(lambda: self._outbox.release(receipt))
            await self._step(lambda: self.inbox.mark(key, "done"))
        finally:  # failed: the row stays unfinished, and this process's sweeper takes it up again
            self._busy.discard(key)

    async def _finish(self, key: str, openid: str, what: str, text: str) -> None:
        """A message taken over (marked busy): answered by push, since its passive window has passed."""
        try:
            receipt = Receipt(key, self.config.hold_seconds)
            await self._prepare(openid, what, text, receipt)
            await self._step(lambda: self._outbox.release(receipt))
            await self._step(lambda: self.inbox.mark(key, "done"))
        finally:
            self._busy.discard(key)

    async def _unionid(self, openid: str) -> str | None:
        """The resident's UnionID, cached; None when unbound, disabled or unavailable (never fatal)."""
        if not self.config.resolve_unionid:
            return None
        key = f"wechat:unionid:{self.config.appid}:{hashlib.sha256(openid.encode('utf-8')).hexdigest()[:32]}"
        try:
            cached = await patiently(lambda: self._store.get(key), min(2.0, self.config.outage_seconds))
            if cached is not None:
                return cached or None
            unionid = await self._client.get_unionid(openid)
        except WeChatError as exc:
            # Not asked again for a while: an outage or a missing permission (48001) would otherwise cost a
            # failing call and a log line on every message.
            logger.warning("UnionID lookup failed for %s: %s", hash_openid(openid), exc)
            await self._remember(key, "", self.config.unionid_retry_seconds)
            return None
        except Exception as exc:  # the store is down (the access token lives there too): answer without it
            if not unavailable(exc):
                raise
            logger.warning("UnionID not resolved for %s: %s", hash_openid(openid), type(exc).__name__)
            return None
        await self._remember(key, unionid or "", self.config.unionid_cache_seconds)
        return unionid

    async def _remember(self, key: str, value: str, ttl: float) -> None:
        try:
            await self._store.set(key, value, ttl=ttl)
        except Exception as exc:
            if not unavailable(exc):
                raise
            logger.warning("UnionID not cached: %s", type(exc).__name__)
