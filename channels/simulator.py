"""WeChat's side of the wire, for load benchmarks.

Signed (and AES-encrypted) callback deliveries, and a minimal stand-in of the WeChat API that issues stable
tokens and records customer-service messages — or, on request, answers them as a bad day would: 45015,
-1, HTTP 500, or an "ok" that comes only after the sender has given up (``fail_next``).

Follows the same WeChat pages as ``channels._callback`` ("消息加解密说明", "接收普通消息", "获取稳定版接口
调用凭据", "客服消息"). Used by ``lawline bench load``, ``faults`` and ``multinode``; never by the serving app.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from xml.etree import ElementTree

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from wechatpy.crypto import WeChatCrypto

__all__ = ["CallbackSimulator", "WeChatApiStandIn"]


class CallbackSimulator:
    """Builds what WeChat's servers POST to ``/wechat`` for one official account, and opens the replies."""

    def __init__(self, token: str, appid: str, aes_key: str | None = None) -> None:
        self.token = token
        self._crypto = WeChatCrypto(token, aes_key, appid) if aes_key else None

    def _signature(self, *parts: str) -> str:
        return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()

    def delivery(self, openid: str, text: str, msg_id: int) -> tuple[dict[str, str], bytes]:
        """Query parameters and body of one text-message delivery."""
        timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
        xml = (
            f"<xml><ToUserName><![CDATA[gh_lawline]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{timestamp}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId></xml>"
        )
        query = {"signature": self._signature(self.token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
        if self._crypto is None:
            return query, xml.encode()
        envelope = str(self._crypto.encrypt_message(xml, nonce, timestamp))
        root = ElementTree.fromstring(envelope)
        query.update({"encrypt_type": "aes", "msg_signature": root.findtext("MsgSignature") or "", "openid": openid})
        return query, envelope.encode()

    def reply_text(self, body: str) -> str | None:
        """The text of a passive reply (decrypted in safe mode), or None for ``success``."""
        if body == "success" or not body:
            return None
        xml = body
        if self._crypto is not None:
            root = ElementTree.fromstring(body)
            xml = str(self._crypto.decrypt_message(body, root.findtext("MsgSignature") or "",
                                                   root.findtext("TimeStamp") or "", root.findtext("Nonce") or ""))
        return ElementTree.fromstring(xml).findtext("Content")


@dataclass
class _Pushed:
    openid: str
    text: str
    at: float


@dataclass
class WeChatApiStandIn:
    """A local WeChat API for the load bench: token, customer-service messages (recorded) and user info.

    ``/cgi-bin/user/info`` answers for every openid as an account not bound to an open platform does
    (a follower, no UnionID).
    """

    pushed: list[_Pushed] = field(default_factory=list)
    base_url: str = ""
    slow_seconds: float = 12.0  # longer than the app's 10 s client timeout
    _faults: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    async def _token(self, _request: Request) -> JSONResponse:
        return JSONResponse({"access_token": "stand-in-" + secrets.token_hex(8), "expires_in": 7200})

    def fail_next(self, fault: str, count: int = 1) -> None:
        """The next ``count`` sends fail.

        ``45015`` or ``-1``: those errcodes; ``500``: HTTP 500; ``slow``: delivered, answered late.
        """
        if fault not in ("45015", "-1", "500", "slow"):
            raise ValueError(f"unknown fault {fault!r}")
        with self._lock:
            self._faults.extend([fault] * count)

    def clear_faults(self) -> None:
        """Forget the failures not yet used (a bench phase leaves none to the next)."""
        with self._lock:
            self._faults.clear()

    async def _send(self, request: Request) -> JSONResponse:
        body = await request.json()
        with self._lock:
            fault = self._faults.pop(0) if self._faults else None
        if fault == "500":
            return JSONResponse({"error": "stand-in failure"}, status_code=500)
        if fault in ("45015", "-1"):
            return JSONResponse({"errcode": int(fault), "errmsg": "stand-in fault"})
        with self._lock:
            self.pushed.append(_Pushed(str(body.get("touser")), str((body.get("text") or {}).get("content")),
                                       time.monotonic()))
        if fault == "slow":
            await asyncio.sleep(self.slow_seconds)
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    async def _user_info(self, request: Request) -> JSONResponse:
        return JSONResponse({"subscribe": 1, "openid": request.query_params.get("openid", ""), "language": "zh_CN"})

    def start(self, host: str = "127.0.0.1") -> str:
        """Serve on a free port of ``host`` (loopback; the multi-node bench gives its test host's address)."""
        sock = socket.socket()
        sock.bind((host, 0))
        app = Starlette(routes=[Route("/cgi-bin/stable_token", self._token, methods=["POST"]),
                                Route("/cgi-bin/message/custom/send", self._send, methods=["POST"]),
                                Route("/cgi-bin/user/info", self._user_info, methods=["GET"])])
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("WeChat API stand-in did not start")
            time.sleep(0.02)
        self.base_url = f"http://{host}:{sock.getsockname()[1]}"
        return self.base_url

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)

    def pushed_to(self, openid: str) -> list[str]:
        with self._lock:
            return [p.text for p in self.pushed if p.openid == openid]

    def pushed_with_times(self, openid: str) -> list[tuple[str, float]]:
        """What was pushed to ``openid`` and when (``time.monotonic()``)."""
        with self._lock:
            return [(p.text, p.at) for p in self.pushed if p.openid == openid]
