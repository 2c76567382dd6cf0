"""Async client of the WeChat server API (official account and mini-program), over httpx.

One ``WeChatClient`` per app (AppID + AppSecret): the official account uses ``send_text`` and
``get_unionid``; the mini-program uses ``code_to_session`` and ``check_text``. Request shapes follow
wechatpy's ``client/api`` (``message.send_text``, ``wxa.code_to_session``) and the WeChat pages named
on each method; wechatpy itself is synchronous, so the HTTP calls are made here with httpx.

Access token ("获取稳定版接口调用凭据", ``POST /cgi-bin/stable_token``): cached in the shared
``KeyValueStore`` with its expiry, so every worker uses the same one; one worker refreshes at a time (a
lock key claimed with ``set_if_absent``), the others wait and re-read; it is refreshed ahead of expiry.

Errors ("全局返回码说明"): 40001/40014/42001 → one refresh and one retry; 45015 →
``ResponseWindowClosed`` (never retried); 45047 → ``QuotaExceeded``; -1/45009, HTTP 5xx and failures
before the request went out (connect, pool) → bounded retries with exponential backoff, then
``WeChatBusy``. A message sent without an answer back (read timeout, connection cut after sending) is
``OutcomeUnknown`` and is not retried here: WeChat may have delivered it, and a retry loop sent the same
message four to six times. Look-ups (user/info, code2Session, tokens) are retried as busy instead.
URLs carry the AppSecret or the access token, so this module never logs a URL; keep httpx's own logger
at WARNING.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

import httpx

from channels.errors import (
    AccessTokenInvalid,
    OutcomeUnknown,
    QuotaExceeded,
    ResponseWindowClosed,
    WeChatBusy,
    WeChatError,
)
from channels.privacy import hash_openid
from channels.splitting import WECHAT_TEXT_LIMIT_BYTES, utf8_size
from channels.storage import KeyValueStore

__all__ = ["DEFAULT_API_BASE", "MiniProgramSession", "TextCheck", "WeChatClient"]

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.weixin.qq.com"
TOKEN_INVALID_CODES = frozenset({40001, 40014, 42001})
BUSY_CODES = frozenset({-1, 45009})


@dataclass(frozen=True, slots=True)
class MiniProgramSession:
    """Who logged in to the mini-program ("小程序登录 / code2Session"); the session_key is deliberately dropped."""

    openid: str
    unionid: str | None


@dataclass(frozen=True, slots=True)
class TextCheck:
    """Result of "内容安全 / msgSecCheck" (version 2): ``suggest`` is ``pass``, ``review`` or ``risky``."""

    suggest: Literal["pass", "review", "risky"]
    label: int

    @property
    def risky(self) -> bool:
        return self.suggest == "risky"


@dataclass(frozen=True, slots=True)
class _CachedToken:
    token: str
    expires_at: float
    fetched_at: float


def _raise_for(errcode: int, errmsg: str) -> NoReturn:
    if errcode == 45015:
        raise ResponseWindowClosed(errcode, errmsg)
    if errcode == 45047:
        raise QuotaExceeded(errcode, errmsg)
    if errcode in BUSY_CODES:
        raise WeChatBusy(errcode, errmsg)
    if errcode in TOKEN_INVALID_CODES:
        raise AccessTokenInvalid(errcode, errmsg)
    raise WeChatError(errcode, errmsg)


class WeChatClient:
    """The WeChat API for one app, sharing its access token with every worker through ``store``.

    ``http`` may be the app's shared ``httpx.AsyncClient`` (the caller closes it); without one the client
    makes its own, closed by ``aclose``. ``api_base`` points at WeChat, or at a local stand-in in tests.
    """

    def __init__(
        self,
        appid: str,
        secret: str,
        store: KeyValueStore,
        *,
        api_base: str = DEFAULT_API_BASE,
        http: httpx.AsyncClient | None = None,
        timeout_seconds: float = 10.0,
        max_retries: int = 3,
        backoff_seconds: float = 0.5,
        refresh_ahead_seconds: float = 240.0,
        token_lock_seconds: float = 15.0,
        token_wait_seconds: float = 20.0,
    ) -> None:
        self.appid = appid
        self._secret = secret
        self._store = store
        self._base = api_base.rstrip("/")
        self._own_http = http is None
        self._http = http if http is not None else httpx.AsyncClient(timeout=timeout_seconds)
        self._timeout = timeout_seconds
        self._max_retries = max_retries
        self._backoff = backoff_seconds
        self._refresh_ahead = refresh_ahead_seconds
        self._lock_ttl = token_lock_seconds
        self._token_wait = token_wait_seconds
        self._token_key = f"wechat:token:{appid}"
        self._lock_key = f"wechat:token-lock:{appid}"

    def __repr__(self) -> str:
        return f"WeChatClient(appid={self.appid!r}, api_base={self._base!r})"

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._own_http:
            await self._http.aclose()

    # -- API methods -----------------------------------------------------------------------------------

    async def send_text(self, openid: str, text: str) -> None:
        """Send a customer-service text message ("客服消息 / 发送客服消息", ``message/custom/send``).

        Allowed within 48 hours of the resident's last message (else ``ResponseWindowClosed``). ``text``
        must fit WeChat's 2,048-byte limit; split longer answers with ``channels.splitting.split_text``.
        """
        if utf8_size(text) > WECHAT_TEXT_LIMIT_BYTES:
            raise ValueError(f"text is {utf8_size(text)} bytes; WeChat accepts {WECHAT_TEXT_LIMIT_BYTES}")
        payload = {"touser": openid, "msgtype": "text", "text": {"content": text}}
        await self._call("POST", "/cgi-bin/message/custom/send", json_body=payload, sends=True)
        logger.info("custom-service text sent to %s (%d bytes)", hash_openid(openid), utf8_size(text))

    async def send_template(self, openid: str, template_id: str, data: dict[str, str], url: str | None = None) -> None:
        """Send a template message ("模板消息 / 发送模板消息", ``message/template/send``) to a follower.

        ``data`` maps the template's field names to their values; WeChat checks each value against the
        field's type (thing: 20 characters …) and refuses the message otherwise.
        """
        payload: dict[str, Any] = {"touser": openid, "template_id": template_id,
                                   "data": {name: {"value": value} for name, value in data.items()}}
        if url:
            payload["url"] = url
        await self._call("POST", "/cgi-bin/message/template/send", json_body=payload, sends=True)
        logger.info("template message sent to %s", hash_openid(openid))

    async def create_menu(self, menu: dict[str, Any]) -> None:
        """Replace the official account's custom menu ("自定义菜单 / 创建接口", ``menu/create``)."""
        await self._call("POST", "/cgi-bin/menu/create", json_body=menu)
        logger.info("custom menu created (%d top-level buttons)", len(menu.get("button") or []))

    async def get_unionid(self, openid: str) -> str | None:
        """The resident's UnionID ("用户管理 / 获取用户基本信息", ``user/info``); None when the app is unbound."""
        data = await self._call("GET", "/cgi-bin/user/info", params={"openid": openid, "lang": "zh_CN"})
        unionid = data.get("unionid")
        return unionid if isinstance(unionid, str) and unionid else None

    async def code_to_session(self, js_code: str) -> MiniProgramSession:
        """Exchange a ``wx.login`` code ("小程序登录 / code2Session", ``GET /sns/jscode2session``)."""
        params = {"appid": self.appid, "secret": self._secret, "js_code": js_code, "grant_type": "authorization_code"}
        data = await self._call("GET", "/sns/jscode2session", params=params, with_token=False)
        openid = data.get("openid")
        if not isinstance(openid, str) or not openid:
            raise WeChatError(-2, "jscode2session answered without an openid")
        unionid = data.get("unionid")
        return MiniProgramSession(openid=openid, unionid=unionid if isinstance(unionid, str) and unionid else None)

    async def check_text(self, openid: str, text: str) -> TextCheck:
        """Check a resident's text ("内容安全 / msgSecCheck" v2, ``POST /wxa/msg_sec_check``, scene 1: 资料)."""
        payload = {"content": text, "version": 2, "scene": 1, "openid": openid}
        data = await self._call("POST", "/wxa/msg_sec_check", json_body=payload)
        result = data.get("result")
        if not isinstance(result, dict):
            result = {}
        suggest = result.get("suggest")
        if suggest not in ("pass", "review", "risky"):
            raise WeChatError(-2, "msg_sec_check answered without a suggestion")
        label = result.get("label")
        return TextCheck(suggest=suggest, label=label if isinstance(label, int) else 0)

    # -- access token ----------------------------------------------------------------------------------

    async def access_token(self, *, stale: str | None = None) -> str:
        """A valid access token from the shared cache, refreshed by one worker when needed.

        ``stale`` is a token WeChat has just refused: it is never returned again.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._token_wait
        while True:
            cached = await self._read_token()
            usable = cached is not None and cached.token != stale and cached.expires_at > time.time() + 5
            if cached is not None and usable and not self._due(cached):
                return cached.token
            owner = secrets.token_hex(8)
            if await self._store.set_if_absent(self._lock_key, owner, ttl=self._lock_ttl):
                try:
                    return await self._refresh_locked(stale)
                finally:
                    await self._store.delete(self._lock_key)
            if cached is not None and usable:
                return cached.token  # another worker refreshes ahead of expiry; this one is still good
            if loop.time() > deadline:
                raise WeChatBusy(-1, "timed out waiting for another worker to refresh the access token")
            await asyncio.sleep(0.05)

    def _due(self, cached: _CachedToken) -> bool:
        """Refresh ahead of expiry, but not again right after a refresh (WeChat may hand back the same one)."""
        now = time.time()
        return cached.expires_at - now <= self._refresh_ahead and now - cached.fetched_at > 30

    async def _read_token(self) -> _CachedToken | None:
        raw = await self._store.get(self._token_key)
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return _CachedToken(str(data["token"]), float(data["expires_at"]), float(data["fetched_at"]))
        except (ValueError, KeyError, TypeError):
            return None

    async def _refresh_locked(self, stale: str | None) -> str:
        cached = await self._read_token()  # another worker may have refreshed while this one waited
        if cached is not None and cached.token != stale and cached.expires_at > time.time() + 5:
            if not self._due(cached):
                return cached.token
        token, expires_in = await self._fetch_stable_token(force_refresh=False)
        if stale is not None and token == stale:
            token, expires_in = await self._fetch_stable_token(force_refresh=True)
        now = time.time()
        record = {"token": token, "expires_at": now + expires_in, "fetched_at": now}
        await self._store.set(self._token_key, json.dumps(record), ttl=max(1, expires_in))
        logger.info("access token refreshed for app %s (expires in %d s)", self.appid, expires_in)
        return token

    async def _fetch_stable_token(self, *, force_refresh: bool) -> tuple[str, int]:
        """Stable token ("获取稳定版接口调用凭据"): normal mode returns the current one; force mode a new one."""
        payload = {
            "grant_type": "client_credential",
            "appid": self.appid,
            "secret": self._secret,
            "force_refresh": force_refresh,
        }
        data = await self._call("POST", "/cgi-bin/stable_token", json_body=payload, with_token=False)
        token, expires_in = data.get("access_token"), data.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(expires_in, int):
            raise WeChatError(-2, "stable_token answered without a token")
        return token, expires_in

    # -- transport -------------------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json_body: dict[str, Any] | None = None,
        with_token: bool = True,
        sends: bool = False,
    ) -> dict[str, Any]:
        """One API call: token attached, one retry after a refused token, bounded retries when busy.

        ``sends``: the call delivers a message, so a lost answer is ``OutcomeUnknown``, not busy.
        """
        token = await self.access_token() if with_token else None
        refreshed = False
        attempt = 0
        while True:
            try:
                return await self._request(method, path, params, json_body, token, sends)
            except AccessTokenInvalid:
                if not with_token or refreshed:
                    raise
                refreshed = True
                logger.info("access token refused by %s; refreshing once", path)
                token = await self.access_token(stale=token)
            except WeChatBusy as exc:
                attempt += 1
                if attempt > self._max_retries:
                    raise
                delay = self._backoff * 2 ** (attempt - 1)
                logger.warning("%s busy (%s); retry %d in %.2f s", path, exc.errcode, attempt, delay)
                await asyncio.sleep(delay)

    async def _request(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None,
        json_body: dict[str, Any] | None,
        token: str | None,
        sends: bool = False,
    ) -> dict[str, Any]:
        query = dict(params or {})
        if token is not None:
            query["access_token"] = token
        content = None
        headers = {}
        if json_body is not None:
            # As wechatpy does: UTF-8 JSON, not \u escapes, so Chinese arrives as sent.
            content = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json; charset=utf-8"
        try:
            response = await self._http.request(
                method, self._base + path, params=query, content=content, headers=headers, timeout=self._timeout
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise WeChatBusy(-1, f"network error: {type(exc).__name__}") from None  # nothing went out
        except httpx.HTTPError as exc:
            if sends:
                raise OutcomeUnknown(-1, f"no answer after sending: {type(exc).__name__}") from None
            raise WeChatBusy(-1, f"network error: {type(exc).__name__}") from None
        if response.status_code >= 500:
            raise WeChatBusy(-1, f"HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise WeChatError(-2, f"HTTP {response.status_code} without JSON") from None
        if not isinstance(data, dict):
            raise WeChatError(-2, "JSON answer is not an object")
        errcode = data.get("errcode", 0)
        if errcode in (0, None):
            return data
        if not isinstance(errcode, int):
            raise WeChatError(-2, "errcode is not an integer")
        _raise_for(errcode, str(data.get("errmsg", "")))
