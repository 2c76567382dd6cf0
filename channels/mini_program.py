"""The mini-program ("小程序") backend: login, messages, and what the client shows beside them.

Login ("小程序登录": ``wx.login`` → code → ``code2Session``) gives us the resident's openid and, when the
mini-program is bound to the Open Platform account, the UnionID. The ``session_key`` never leaves the
WeChat client (it is not even kept): the front end gets our own opaque session token, random, stored
(hashed) in shared storage with a TTL, mapping to openid + UnionID.

Messages: ``Authorization: Bearer <token>`` and ``{"text": "..."}``. The text is checked with
"内容安全 / msgSecCheck" (v2) first; a ``risky`` verdict gets a calm refusal and nothing else happens.
Otherwise the ``Conversation`` answers and the route returns ``{"replies": [...]}``. The
``ChannelUser`` carries the UnionID so the same person keeps one conversation across the official
account and the mini-program.

With ``records`` (``channels.ports.ResidentRecords``, the bot's) the reply also says what each reply is and
which options it offers, as the web chat's does (``kinds``, ``options``: typing an option's number means
choosing it), and three reads serve the client's pages, with the same Bearer token:
``GET /api/mp/history`` (the conversation so far, shared with the official account when WeChat gives a
UnionID), ``GET /api/mp/cases`` (the resident's cases and their state) and ``GET /api/mp/service-points``
(the directory's service points; coordinates only where the directory has them).

Each session token may send ``max_messages_per_minute`` messages per minute (a fixed window counted in
the shared storage, so it holds across workers); beyond that, 429 ``rate_limited`` with a calm reply and
nothing is processed. A person typing never comes near it; a broken client looping or a script does. The
reads are counted apart (``max_reads_per_minute``): opening pages never uses up a resident's messages.

Bodies are read by ``channels.json_body`` (bounded while streaming, strict UTF-8, no lone surrogates, shallow).
JSON errors: 400 ``bad_request`` / ``invalid_code``, 401 ``unauthorized``, 413 ``too_large``, 429
``rate_limited``, 502/503 ``wechat_unavailable`` (with a calm ``replies`` text where the resident is
waiting for an answer).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from channels.errors import ChannelConfigError, WeChatError
from channels.json_body import BodyRejected, read_json_object, required
from channels.ports import ChannelUser, Conversation, ResidentRecords
from channels.privacy import hash_openid
from channels.storage import KeyValueStore
from channels.texts import ChannelTexts, is_blank
from channels.wechat_api import MiniProgramSession, WeChatClient

__all__ = ["MiniProgram", "MiniProgramConfig", "mini_program_routes"]

logger = logging.getLogger(__name__)

# "code2Session" errors that mean the front end sent a bad or used code (not a WeChat outage).
_BAD_CODE = frozenset({40029, 40163, 40226})
_NO_STORE = {"Cache-Control": "no-store"}


@dataclass(frozen=True, slots=True)
class MiniProgramConfig:
    """Settings of the mini-program backend."""

    prefix: str = "/api/mp"
    session_ttl_seconds: int = 7 * 24 * 3600
    max_body_bytes: int = 16 * 1024
    max_message_chars: int = 1000
    answer_timeout_seconds: float = 60.0
    max_messages_per_minute: int = 20
    max_reads_per_minute: int = 60

    def __post_init__(self) -> None:
        for name in ("session_ttl_seconds", "max_body_bytes", "max_message_chars", "answer_timeout_seconds",
                     "max_messages_per_minute", "max_reads_per_minute"):
            if getattr(self, name) <= 0:
                raise ChannelConfigError(name, "must be positive")


class _Refused(Exception):
    def __init__(self, status: int, error: str, replies: list[str] | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.replies = replies

    def response(self) -> Response:
        body: dict[str, Any] = {"error": self.error}
        if self.replies is not None:
            body["replies"] = self.replies
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else None
        return JSONResponse(body, status_code=self.status, headers=headers)


def _text(payload: dict[str, Any], name: str) -> str:
    try:
        return required(payload, name, str)
    except BodyRejected:
        raise _Refused(400, "bad_request") from None


def _session_key(token: str) -> str:
    # Only a hash of the token is stored: a copy of the storage does not yield usable tokens.
    return "mp:session:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


class MiniProgram:
    """The mini-program backend for one mini-program, with its injected dependencies."""

    def __init__(
        self,
        config: MiniProgramConfig,
        *,
        conversation: Conversation,
        store: KeyValueStore,
        client: WeChatClient,
        texts: ChannelTexts | None = None,
        records: ResidentRecords | None = None,
    ) -> None:
        self.config = config
        self._conversation = conversation
        self._store = store
        self._client = client
        self._texts = texts if texts is not None else ChannelTexts()
        self._records = records

    def routes(self) -> list[BaseRoute]:
        prefix = self.config.prefix.rstrip("/")
        routes: list[BaseRoute] = [
            Route(f"{prefix}/login", self.login, methods=["POST"], name="mini_program_login"),
            Route(f"{prefix}/messages", self.messages, methods=["POST"], name="mini_program_messages"),
        ]
        if self._records is not None:
            records = self._records

            async def cases(user: ChannelUser) -> Mapping[str, Any]:
                return {"cases": await records.cases(user)}

            routes += [Route(f"{prefix}/history", self._reader(records.history), name="mini_program_history"),
                       Route(f"{prefix}/cases", self._reader(cases), name="mini_program_cases"),
                       Route(f"{prefix}/service-points", self._reader(records.service_points),
                             name="mini_program_service_points")]
        return routes

    def _reader(self, fetch: Callable[[ChannelUser], Awaitable[Mapping[str, Any]]]) -> Callable[
            [Request], Awaitable[Response]]:
        """A ``GET`` endpoint answering ``fetch(resident)`` as JSON, for a valid token (counted as a read)."""
        async def read(request: Request) -> Response:
            try:
                user = await self._user(request, reading=True)
            except _Refused as refused:
                return refused.response()
            return JSONResponse(dict(await fetch(user)), headers=_NO_STORE)

        return read

    async def login(self, request: Request) -> Response:
        """``{"code": "<wx.login code>"}`` → ``{"token": "...", "expires_in": seconds}``."""
        try:
            code = _text(await self._json(request), "code")
            if not 0 < len(code) <= 128:
                raise _Refused(400, "bad_request")
            session = await self._code_to_session(code)
        except _Refused as refused:
            return refused.response()
        token = secrets.token_urlsafe(32)
        record = json.dumps({"openid": session.openid, "unionid": session.unionid})
        await self._store.set(_session_key(token), record, ttl=self.config.session_ttl_seconds)
        logger.info("mini-program login for %s", hash_openid(session.openid))
        return JSONResponse({"token": token, "expires_in": self.config.session_ttl_seconds})

    async def messages(self, request: Request) -> Response:
        """``{"text": "..."}`` with a Bearer token → ``{"replies": [...]}`` (with records: ``kinds``, ``options``)."""
        try:
            user = await self._user(request)
            text = _text(await self._json(request), "text")
            replies, answered = await self._answer(user, text.strip())
        except _Refused as refused:
            return refused.response()
        body: dict[str, Any] = {"replies": replies}
        if self._records is not None:
            # A reply the channel made itself (blank, too long, refused) is no turn of the conversation.
            body.update(await self._records.describe_turn(user, replies) if answered
                        else {"kinds": ["bot"] * len(replies), "options": []})
        return JSONResponse(body)

    async def _code_to_session(self, code: str) -> MiniProgramSession:
        try:
            return await self._client.code_to_session(code)
        except WeChatError as exc:
            if exc.errcode in _BAD_CODE:
                logger.info("mini-program login refused by WeChat: %s", exc.errcode)
                raise _Refused(400, "invalid_code") from None
            logger.error("mini-program login failed: %r", exc)
            raise _Refused(502, "wechat_unavailable") from None

    async def _user(self, request: Request, *, reading: bool = False) -> ChannelUser:
        """The resident behind the Bearer token, counted against the messages' (or the reads') minute."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > 256:
            raise _Refused(401, "unauthorized")
        session_key = _session_key(token)
        raw = await self._store.get(session_key)
        try:
            record = json.loads(raw) if raw else None
        except ValueError:
            record = None
        if not isinstance(record, dict) or not isinstance(record.get("openid"), str):
            raise _Refused(401, "unauthorized")
        window = int(time.time() // 60)
        counter, limit = (("reads", self.config.max_reads_per_minute) if reading
                          else ("rate", self.config.max_messages_per_minute))
        if await self._store.incr(f"mp:{counter}:{session_key[len('mp:session:'):]}:{window}", ttl=120) > limit:
            logger.warning("mini-program %s from %s rate-limited", "reads" if reading else "messages",
                           hash_openid(record["openid"]))
            raise _Refused(429, "rate_limited", [self._texts.rate_limited])
        unionid = record.get("unionid")
        return ChannelUser("mini_program", record["openid"], unionid if isinstance(unionid, str) else None)

    async def _json(self, request: Request) -> dict[str, Any]:
        """The body as a JSON object, read the one careful way (``channels.json_body``)."""
        try:
            return await read_json_object(request, max_bytes=self.config.max_body_bytes)
        except BodyRejected as rejected:
            raise _Refused(rejected.status, "too_large" if rejected.status == 413 else "bad_request") from None

    async def _answer(self, user: ChannelUser, text: str) -> tuple[list[str], bool]:
        """The replies, and whether the conversation gave them (not the channel on its own)."""
        texts = self._texts
        if is_blank(text):
            return [texts.empty_message], False
        if len(text) > self.config.max_message_chars:
            return [texts.too_long_for(self.config.max_message_chars)], False
        openid = user.openid or ""
        try:
            check = await self._client.check_text(openid, text)
        except WeChatError as exc:
            logger.error("msgSecCheck failed for %s: %r", hash_openid(openid), exc)
            raise _Refused(503, "wechat_unavailable", [texts.service_error]) from None
        if check.risky:
            logger.info("mini-program text from %s refused by msgSecCheck (label %d)", hash_openid(openid), check.label)
            return [texts.risky_text], False
        logger.info("mini-program message from %s", hash_openid(openid))
        try:
            replies = await asyncio.wait_for(
                self._conversation.respond(user, text), timeout=self.config.answer_timeout_seconds
            )
        except Exception as exc:
            logger.error("conversation failed for %s: %s", hash_openid(openid), type(exc).__name__)
            logger.debug("conversation failure", exc_info=True)
            return [texts.service_error], False
        return [reply for reply in replies if reply.strip()], True


def mini_program_routes(
    config: MiniProgramConfig,
    *,
    conversation: Conversation,
    store: KeyValueStore,
    client: WeChatClient,
    texts: ChannelTexts | None = None,
    records: ResidentRecords | None = None,
) -> list[BaseRoute]:
    """Routes of the mini-program backend (``client`` is the mini-program's own AppID/AppSecret).

    With ``records`` the replies say what they are and the client's reads are served (see the module).
    """
    return MiniProgram(config, conversation=conversation, store=store, client=client, texts=texts,
                       records=records).routes()
