"""A local stand-in for WeChat: its API server (a real HTTP server on loopback) and its callback signer.

``WeChatStandIn`` serves the endpoints the channels call — ``/cgi-bin/stable_token``,
``/cgi-bin/message/custom/send``, ``/cgi-bin/user/info``, ``/sns/jscode2session``, ``/wxa/msg_sec_check``
— with WeChat's request and answer shapes, records every call and every customer-service message, and
can be told to answer errors (``fail_next``) or to revoke the current token. It runs a Starlette app
under uvicorn in a background thread.

``CallbackSigner`` plays WeChat's servers calling our callback: signed queries, plain or encrypted
bodies (wechatpy's ``WeChatCrypto``, the same algorithm WeChat uses), and reply decryption.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from wechatpy.crypto import WeChatCrypto

TOKEN_LIFETIME = 7200

# The test apps' credentials, which the session's stand-in (tests/conftest.py ``standin_server``) knows.
OA_APPID = "wx-official-account"
OA_SECRET = "oa-secret"
MP_APPID = "wx-mini-program"
MP_SECRET = "mp-secret"
TOKEN = "lawline-callback-token"
# An EncodingAESKey: 43 Base64 characters (32 bytes), as the official account's settings page issues.
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@dataclass
class SentText:
    appid: str
    openid: str
    content: str


@dataclass
class _Token:
    value: str
    expires_at: float
    revoked: bool = False


@dataclass
class _State:
    tokens: dict[str, _Token] = field(default_factory=dict)
    token_serial: int = 0
    stable_token_calls: list[tuple[str, bool]] = field(default_factory=list)
    sent: list[SentText] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    failures: dict[str, list[int]] = field(default_factory=dict)
    codes: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    used_codes: set[str] = field(default_factory=set)
    unionids: dict[str, str] = field(default_factory=dict)
    risky_words: set[str] = field(default_factory=set)
    token_delay: float = 0.0
    send_delay: float = 0.0
    slow_ok: list[float] = field(default_factory=list)  # delivered, then "ok" only after this many seconds
    http_failures: list[int] = field(default_factory=list)  # HTTP statuses for the next sends
    templates: list[dict[str, Any]] = field(default_factory=list)
    followers: set[str] | None = None  # None: everyone follows


class WeChatStandIn:
    """The WeChat API on ``127.0.0.1``; thread-safe; ``reset()`` between tests."""

    def __init__(self, apps: dict[str, str]) -> None:
        self.apps = dict(apps)
        self._lock = threading.Lock()
        self._state = _State()
        self.menus: dict[str, dict[str, Any]] = {}
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""
        self.app = Starlette(
            routes=[
                Route("/cgi-bin/stable_token", self._stable_token, methods=["POST"]),
                Route("/cgi-bin/message/custom/send", self._custom_send, methods=["POST"]),
                Route("/cgi-bin/user/info", self._user_info, methods=["GET"]),
                Route("/sns/jscode2session", self._jscode2session, methods=["GET"]),
                Route("/wxa/msg_sec_check", self._msg_sec_check, methods=["POST"]),
                Route("/cgi-bin/menu/create", self._menu_create, methods=["POST"]),
                Route("/cgi-bin/message/template/send", self._template_send, methods=["POST"]),
            ]
        )

    # -- control from the tests -------------------------------------------------------------------------

    def start(self) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", ws="none", http="h11")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("WeChat stand-in did not start")
            time.sleep(0.01)
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)

    def reset(self) -> None:
        with self._lock:
            self._state = _State()
            self.menus.clear()

    def fail_next(self, path: str, *errcodes: int) -> None:
        """Answer the next calls to ``path`` (e.g. ``/cgi-bin/message/custom/send``) with these errcodes.

        ``0`` lets that call through as usual (so a failure can be placed after some successes).
        """
        with self._lock:
            self._state.failures.setdefault(path, []).extend(errcodes)

    def slow_ok_next(self, *seconds: float) -> None:
        """Deliver the next sends, but answer "ok" only after ``seconds`` each (a client may time out first)."""
        with self._lock:
            self._state.slow_ok.extend(seconds)

    def fail_http_next(self, *statuses: int) -> None:
        """Answer the next sends with these HTTP statuses (e.g. 500), delivering nothing."""
        with self._lock:
            self._state.http_failures.extend(statuses)

    def revoke_tokens(self) -> None:
        """Invalidate every current token (as after a secret reset): APIs answer 40001 until a refresh."""
        with self._lock:
            for token in self._state.tokens.values():
                token.revoked = True

    def add_code(self, code: str, openid: str, unionid: str | None = None) -> None:
        with self._lock:
            self._state.codes[code] = (openid, unionid)

    def set_unionid(self, openid: str, unionid: str) -> None:
        with self._lock:
            self._state.unionids[openid] = unionid

    def set_risky_words(self, *words: str) -> None:
        with self._lock:
            self._state.risky_words = set(words)

    def set_delays(self, *, token: float = 0.0, send: float = 0.0) -> None:
        with self._lock:
            self._state.token_delay = token
            self._state.send_delay = send

    @property
    def sent(self) -> list[SentText]:
        with self._lock:
            return list(self._state.sent)

    @property
    def stable_token_calls(self) -> list[tuple[str, bool]]:
        with self._lock:
            return list(self._state.stable_token_calls)

    @property
    def checked(self) -> list[str]:
        with self._lock:
            return list(self._state.checked)

    def calls(self, path: str) -> int:
        with self._lock:
            return self._state.calls[path]

    def current_token(self, appid: str) -> str | None:
        with self._lock:
            token = self._state.tokens.get(appid)
            return None if token is None or token.revoked else token.value

    # -- the API ---------------------------------------------------------------------------------------

    def _enter(self, path: str) -> int | None:
        """Count the call; the injected errcode to answer, if any."""
        with self._lock:
            self._state.calls[path] += 1
            queue = self._state.failures.get(path)
            injected = queue.pop(0) if queue else None
            return injected or None

    @staticmethod
    def _error(errcode: int, errmsg: str = "stand-in error") -> JSONResponse:
        return JSONResponse({"errcode": errcode, "errmsg": errmsg})

    def _app_for_token(self, token: str | None) -> str | None:
        with self._lock:
            for appid, current in self._state.tokens.items():
                if current.value == token and not current.revoked and current.expires_at > time.time():
                    return appid
        return None

    async def _stable_token(self, request: Request) -> JSONResponse:
        injected = self._enter("/cgi-bin/stable_token")
        body = await request.json()
        appid, force = body.get("appid"), bool(body.get("force_refresh", False))
        with self._lock:
            self._state.stable_token_calls.append((appid, force))
            delay = self._state.token_delay
        await asyncio.sleep(delay)
        if injected is not None:
            return self._error(injected)
        if body.get("grant_type") != "client_credential" or appid not in self.apps:
            return self._error(40013, "invalid appid")
        if body.get("secret") != self.apps[appid]:
            return self._error(40125, "invalid appsecret")
        with self._lock:
            current = self._state.tokens.get(appid)
            now = time.time()
            # Normal mode: the current token while it has more than 5 minutes left ("获取稳定版接口调用凭据").
            if force or current is None or current.revoked or current.expires_at - now <= 300:
                self._state.token_serial += 1
                current = _Token(f"token-{appid}-{self._state.token_serial}", now + TOKEN_LIFETIME)
                self._state.tokens[appid] = current
            return JSONResponse({"access_token": current.value, "expires_in": int(current.expires_at - now)})

    async def _custom_send(self, request: Request) -> JSONResponse:
        injected = self._enter("/cgi-bin/message/custom/send")
        with self._lock:
            status = self._state.http_failures.pop(0) if self._state.http_failures else None
        if status is not None:
            return JSONResponse({"error": "stand-in HTTP failure"}, status_code=status)
        if injected is not None:
            return self._error(injected)
        appid = self._app_for_token(request.query_params.get("access_token"))
        if appid is None:
            return self._error(40001, "invalid credential, access_token is invalid or not latest")
        body = json.loads(await request.body())
        content = body.get("text", {}).get("content")
        if body.get("msgtype") != "text" or not isinstance(content, str) or not body.get("touser"):
            return self._error(40008, "invalid message type")
        if len(content.encode("utf-8")) > 2048:
            return self._error(45002, "content size out of limit")
        with self._lock:
            delay = self._state.send_delay
            slow = self._state.slow_ok.pop(0) if self._state.slow_ok else 0.0
        await asyncio.sleep(delay)
        with self._lock:
            self._state.sent.append(SentText(appid, body["touser"], content))
        await asyncio.sleep(slow)
        return self._error(0, "ok")

    def set_followers(self, *openids: str) -> None:
        """Only these users follow the account; template messages to others answer 43004."""
        with self._lock:
            self._state.followers = set(openids)

    @property
    def templates(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._state.templates)

    async def _template_send(self, request: Request) -> JSONResponse:
        injected = self._enter("/cgi-bin/message/template/send")
        if injected is not None:
            return self._error(injected)
        appid = self._app_for_token(request.query_params.get("access_token"))
        if appid is None:
            return self._error(40001, "invalid credential, access_token is invalid or not latest")
        body = json.loads(await request.body())
        data = body.get("data")
        if not body.get("touser") or not body.get("template_id") or not isinstance(data, dict):
            return self._error(47001, "data format error")
        for name, field_ in data.items():  # "模板消息": thing.DATA at most 20 characters, time a date/time
            value = field_.get("value") if isinstance(field_, dict) else None
            if not isinstance(value, str) or (name.startswith("thing") and len(value) > 20):
                return self._error(47003, f"argument invalid! data.{name}.value invalid")
        with self._lock:
            if self._state.followers is not None and body["touser"] not in self._state.followers:
                return self._error(43004, "require subscribe")
            self._state.templates.append({"appid": appid, **body})
        return self._error(0, "ok")

    async def _menu_create(self, request: Request) -> JSONResponse:
        injected = self._enter("/cgi-bin/menu/create")
        if injected is not None:
            return self._error(injected)
        appid = self._app_for_token(request.query_params.get("access_token"))
        if appid is None:
            return self._error(40001, "invalid credential, access_token is invalid or not latest")
        body = json.loads(await request.body())
        if not isinstance(body.get("button"), list):
            return self._error(40016, "invalid button size")
        with self._lock:
            self.menus[appid] = body
        return self._error(0, "ok")

    async def _user_info(self, request: Request) -> JSONResponse:
        injected = self._enter("/cgi-bin/user/info")
        if injected is not None:
            return self._error(injected)
        if self._app_for_token(request.query_params.get("access_token")) is None:
            return self._error(40001, "invalid credential")
        openid = request.query_params.get("openid", "")
        answer: dict[str, Any] = {"subscribe": 1, "openid": openid, "language": "zh_CN"}
        with self._lock:
            if openid in self._state.unionids:
                answer["unionid"] = self._state.unionids[openid]
        return JSONResponse(answer)

    async def _jscode2session(self, request: Request) -> JSONResponse:
        injected = self._enter("/sns/jscode2session")
        if injected is not None:
            return self._error(injected)
        query = request.query_params
        appid = query.get("appid", "")
        if appid not in self.apps or query.get("secret") != self.apps[appid]:
            return self._error(40125, "invalid appsecret")
        if query.get("grant_type") != "authorization_code":
            return self._error(40002, "invalid grant_type")
        code = query.get("js_code", "")
        with self._lock:
            if code in self._state.used_codes:
                return self._error(40163, "code been used")
            if code not in self._state.codes:
                return self._error(40029, "invalid code")
            self._state.used_codes.add(code)
            openid, unionid = self._state.codes[code]
        answer = {"openid": openid, "session_key": "c2Vzc2lvbi1rZXktc2VjcmV0"}
        if unionid:
            answer["unionid"] = unionid
        return JSONResponse(answer)

    async def _msg_sec_check(self, request: Request) -> JSONResponse:
        injected = self._enter("/wxa/msg_sec_check")
        if injected is not None:
            return self._error(injected)
        if self._app_for_token(request.query_params.get("access_token")) is None:
            return self._error(40001, "invalid credential")
        body = json.loads(await request.body())
        if body.get("version") != 2 or not body.get("openid") or body.get("scene") not in (1, 2, 3, 4):
            return self._error(40003, "invalid openid or parameters")
        content = str(body.get("content", ""))
        with self._lock:
            self._state.checked.append(content)
            risky = any(word in content for word in self._state.risky_words)
        result = {"suggest": "risky", "label": 20001} if risky else {"suggest": "pass", "label": 100}
        return JSONResponse({"errcode": 0, "errmsg": "ok", "result": result, "detail": [], "trace_id": "t"})


class CallbackSigner:
    """What WeChat's servers send to our callback URL, for one account (plain, or safe mode with ``aes_key``)."""

    def __init__(self, token: str, appid: str, aes_key: str | None = None) -> None:
        self.token = token
        self.appid = appid
        self.crypto = WeChatCrypto(token, aes_key, appid) if aes_key else None

    @staticmethod
    def sha1(*parts: str) -> str:
        return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()

    def query(self, *, timestamp: int | None = None, nonce: str | None = None) -> dict[str, str]:
        timestamp_text = str(int(time.time()) if timestamp is None else timestamp)
        nonce = nonce or secrets.token_hex(5)
        return {"signature": self.sha1(self.token, timestamp_text, nonce), "timestamp": timestamp_text, "nonce": nonce}

    def post(self, xml: str, *, timestamp: int | None = None) -> tuple[dict[str, str], bytes]:
        """Query and body of one delivery, encrypted in safe mode."""
        query = self.query(timestamp=timestamp)
        if self.crypto is None:
            return query, xml.encode("utf-8")
        envelope = self.crypto.encrypt_message(xml, query["nonce"], query["timestamp"])
        msg_signature = envelope.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
        query.update({"encrypt_type": "aes", "msg_signature": msg_signature, "openid": "ignored"})
        return query, envelope.encode("utf-8")

    def open_reply(self, body: str) -> str:
        """The plain XML of a passive reply (decrypted and signature-checked in safe mode)."""
        if self.crypto is None:
            return body
        fields = {
            tag: body.split(f"<{tag}>")[1].split(f"</{tag}>")[0] for tag in ("MsgSignature", "TimeStamp", "Nonce")
        }
        signature = fields["MsgSignature"].removeprefix("<![CDATA[").removesuffix("]]>")
        nonce = fields["Nonce"].removeprefix("<![CDATA[").removesuffix("]]>")
        return str(self.crypto.decrypt_message(body, signature, fields["TimeStamp"], nonce))


def text_xml(content: str, *, openid: str = "o-resident-1", msg_id: int = 1001, create_time: int | None = None) -> str:
    created = int(time.time()) if create_time is None else create_time
    return (
        f"<xml><ToUserName><![CDATA[gh_lawline]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


def voice_xml(recognition: str, *, openid: str = "o-resident-1", msg_id: int = 2001) -> str:
    return (
        f"<xml><ToUserName><![CDATA[gh_lawline]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[voice]]></MsgType>"
        f"<MediaId><![CDATA[media-1]]></MediaId><Format><![CDATA[amr]]></Format>"
        f"<Recognition><![CDATA[{recognition}]]></Recognition><MsgId>{msg_id}</MsgId></xml>"
    )


def media_xml(msg_type: str, *, openid: str = "o-resident-1", msg_id: int = 3001) -> str:
    return (
        f"<xml><ToUserName><![CDATA[gh_lawline]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>"
        f"<PicUrl><![CDATA[http://example.invalid/p.jpg]]></PicUrl><MediaId><![CDATA[m]]></MediaId>"
        f"<MsgId>{msg_id}</MsgId></xml>"
    )


def event_xml(event: str, key: str = "", *, openid: str = "o-resident-1", create_time: int | None = None) -> str:
    created = int(time.time()) if create_time is None else create_time
    return (
        f"<xml><ToUserName><![CDATA[gh_lawline]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{key}]]></EventKey></xml>"
    )
