"""The official account ("公众号") channel: ``GET/POST /wechat``.

verify → parse → handle → render/push:

- GET is URL verification ("接入概述"); POST carries messages and events, plain or in safe mode
  ("消息加解密说明"). Forged, missing or stale (> 5 min) signatures get 403 and nothing is processed;
  oversized bodies 413; malformed or DTD/entity-bearing XML 400 (``channels._callback``).
- De-duplication ("接收普通消息": WeChat retries three times when it has no answer within 5 s; use
  MsgId, and FromUserName + CreateTime for events): the first delivery claims a key in shared storage
  with ``set_if_absent``; a retry never starts a second run — it returns the first delivery's passive
  reply if that is ready within ``retry_wait_seconds``, else ``success``.
- Timing ("被动回复用户消息": reply within 5 s or answer ``success``): the conversation runs as a task;
  if it answers within ``passive_reply_seconds`` the first part is the passive reply and the rest is
  pushed, otherwise the request answers ``success`` and every part is pushed through the
  customer-service API ("客服消息") when ready.
- Parts: the replies of one turn (an answer, a question that follows it, a person's replies that waited)
  are packed into as few WeChat messages of at most 2,048 bytes as they fit in, in order, paragraph
  breaks kept. WeChat allows 5 customer-service messages per message the resident sends ("客服消息下发规则":
  用户发送消息, 5 条, 48 小时); sent one reply per message (and Rasa's REST channel used to split an answer
  at every blank line), a cited answer was a passive reply and up to seven pushes, the last refused with
  45047. Packed, a cited answer is the passive reply and at most one push. The pushes sent after a
  resident's message are reported to the ``PushLedger`` (the conversation service), which counts them
  against the quota the handoff's deliveries share.
- Voice uses ``Recognition``; menu clicks map to texts or conversation prompts; subscribe gets the
  welcome; unsubscribe and other events get nothing. Logs carry hashed openids, never message text.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Literal

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from channels._callback import CallbackCodec, CallbackRejected, Inbound, check_aes_key
from channels.background import BackgroundTasks
from channels.errors import ChannelConfigError, QuotaExceeded, ResponseWindowClosed, WeChatError
from channels.ports import ChannelUser, Conversation, PushLedger
from channels.privacy import hash_openid
from channels.splitting import split_text
from channels.storage import KeyValueStore
from channels.texts import ChannelTexts, is_blank
from channels.wechat_api import WeChatClient

__all__ = ["OfficialAccount", "OfficialAccountConfig", "official_account_routes"]

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
    dedup_seconds: int = 300
    retry_wait_seconds: float = 3.0
    followup_delay_seconds: float = 0.5
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
        for name in ("answer_timeout_seconds", "max_body_bytes", "max_message_chars", "dedup_seconds"):
            if getattr(self, name) <= 0:
                raise ChannelConfigError(name, "must be positive")


@dataclass(frozen=True, slots=True)
class _Reply:
    text: str


@dataclass(frozen=True, slots=True)
class _Ask:
    text: str


_Action = _Reply | _Ask | None
_State = Literal["working", "replied", "pushing", "done"]


def _state(state: _State, reply: str | None = None) -> str:
    return json.dumps({"state": state, "reply": reply}, ensure_ascii=False)


def _read_state(raw: str | None) -> dict[str, object]:
    try:
        state = json.loads(raw) if raw else None
    except ValueError:
        state = None
    return state if isinstance(state, dict) else {"state": "done"}


class OfficialAccount:
    """The official account channel for one account, with its injected dependencies."""

    def __init__(
        self,
        config: OfficialAccountConfig,
        *,
        conversation: Conversation,
        store: KeyValueStore,
        client: WeChatClient,
        texts: ChannelTexts | None = None,
        background: BackgroundTasks | None = None,
        ledger: PushLedger | None = None,
    ) -> None:
        self.config = config
        self._ledger = ledger
        self._codec = CallbackCodec(
            config.token,
            config.appid,
            config.aes_key,
            max_body_bytes=config.max_body_bytes,
            tolerance_seconds=config.timestamp_tolerance_seconds,
        )
        self._conversation = conversation
        self._store = store
        self._client = client
        self._texts = texts if texts is not None else ChannelTexts()
        self.background = background if background is not None else BackgroundTasks()

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

    # -- handling --------------------------------------------------------------------------------------

    async def handle(self, inbound: Inbound) -> str | None:
        """The passive reply text for ``inbound`` (None: answer ``success``), processing it at most once."""
        kind = f"{inbound.msg_type}/{inbound.event}" if inbound.event else inbound.msg_type
        key = self._dedup_key(inbound)
        if not await self._store.set_if_absent(key, _state("working"), ttl=self.config.dedup_seconds):
            logger.info("official account %s from %s: repeated delivery", kind, hash_openid(inbound.openid))
            return await self._replay(key)
        logger.info("official account %s from %s", kind, hash_openid(inbound.openid))
        action = self._decide(inbound)
        if action is None:
            await self._store.set(key, _state("done"), ttl=self.config.dedup_seconds)
            return None
        if isinstance(action, _Reply):
            return await self._deliver(key, inbound.openid, split_text(action.text))
        return await self._answer(key, inbound.openid, action.text)

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

    async def _replay(self, key: str) -> str | None:
        """A retry: the first delivery's passive reply if it is (or becomes) ready, else ``success``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.retry_wait_seconds
        while True:
            state = _read_state(await self._store.get(key))
            if state.get("state") == "replied":
                reply = state.get("reply")
                return reply if isinstance(reply, str) else None
            if state.get("state") != "working" or loop.time() >= deadline:
                return None
            await asyncio.sleep(0.1)

    async def _deliver(self, key: str, openid: str, parts: list[str], user: ChannelUser | None = None) -> str | None:
        """Answer with the first part now; push the others after a short delay (so they arrive after it).

        ``user``: the resident whose message this answers (its pushes are reported to the ledger); None for
        menu and event replies, which WeChat counts apart.
        """
        if not parts:
            await self._store.set(key, _state("done"), ttl=self.config.dedup_seconds)
            return None
        await self._store.set(key, _state("replied", parts[0]), ttl=self.config.dedup_seconds)
        if len(parts) > 1:
            self.background.spawn(self._push(openid, parts[1:], self.config.followup_delay_seconds, user),
                                  "wechat-push")
        return parts[0]

    async def _answer(self, key: str, openid: str, text: str) -> str | None:
        task = asyncio.get_running_loop().create_task(self._respond(openid, text))
        try:
            user, parts = await asyncio.wait_for(asyncio.shield(task), timeout=self.config.passive_reply_seconds)
        except asyncio.CancelledError:
            # The request went away (shutdown): the answer is still owed to the resident.
            self.background.spawn(self._push_when_done(task, openid), "wechat-push")
            raise
        except TimeoutError:
            self.background.spawn(self._push_when_done(task, openid), "wechat-push")
            await self._store.set(key, _state("pushing"), ttl=self.config.dedup_seconds)
            logger.info("answer for %s misses the passive window; it will be pushed", hash_openid(openid))
            return None
        return await self._deliver(key, openid, parts, user)

    async def _respond(self, openid: str, text: str) -> tuple[ChannelUser, list[str]]:
        """Ask the conversation; its replies packed into WeChat-sized parts (see the module docstring).

        Any failure becomes the calm service-error text (logged by type only).
        """
        user = ChannelUser("official_account", openid)
        try:
            user = ChannelUser("official_account", openid, await self._unionid(openid))
            replies = await asyncio.wait_for(
                self._conversation.respond(user, text), timeout=self.config.answer_timeout_seconds
            )
        except Exception as exc:
            logger.error("conversation failed for %s: %s", hash_openid(openid), type(exc).__name__)
            logger.debug("conversation failure", exc_info=True)
            replies = [self._texts.service_error]
        return user, split_text("\n\n".join(reply.strip() for reply in replies if reply.strip()))

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

    async def _push_when_done(self, task: asyncio.Task[tuple[ChannelUser, list[str]]], openid: str) -> None:
        user, parts = await task
        await self._push(openid, parts, 0.0, user)

    async def _push(self, openid: str, parts: list[str], delay: float = 0.0, user: ChannelUser | None = None) -> None:
        """Send ``parts`` in order through the customer-service API; stop at the first refusal.

        What was sent for ``user``'s message is reported to the ledger (WeChat's quota is shared).
        """
        if delay > 0:
            await asyncio.sleep(delay)
        sent = 0
        try:
            for index, part in enumerate(parts):
                try:
                    await self._client.send_text(openid, part)
                except (ResponseWindowClosed, QuotaExceeded) as exc:
                    logger.warning("push to %s stopped at part %d: %r", hash_openid(openid), index + 1, exc)
                    return
                except WeChatError as exc:
                    logger.error("push to %s failed at part %d: %r", hash_openid(openid), index + 1, exc)
                    return
                sent += 1
        finally:
            if sent and user is not None and self._ledger is not None:
                await self._report(user, sent)

    async def _report(self, user: ChannelUser, sent: int) -> None:
        assert self._ledger is not None
        try:
            await self._ledger.pushed(user, sent)
        except Exception as exc:  # the messages went out; a failed count must not turn into an error
            logger.error("could not count %d pushes to %s: %s", sent, hash_openid(user.openid),
                         type(exc).__name__)


def official_account_routes(
    config: OfficialAccountConfig,
    *,
    conversation: Conversation,
    store: KeyValueStore,
    client: WeChatClient,
    texts: ChannelTexts | None = None,
    background: BackgroundTasks | None = None,
    ledger: PushLedger | None = None,
) -> list[BaseRoute]:
    """Routes of the official account channel; pass ``background`` to drain pending pushes at shutdown."""
    channel = OfficialAccount(
        config, conversation=conversation, store=store, client=client, texts=texts, background=background,
        ledger=ledger,
    )
    return channel.routes()
