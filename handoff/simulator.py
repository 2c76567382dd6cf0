"""A local stand-in for WeChat Work group-robot webhooks, for tests and ``lawline bench handoff``.

It serves ``POST /cgi-bin/webhook/send?key=…`` on loopback (uvicorn in a thread), records every accepted
message with its robot key and time, enforces the robot limit itself (more than 20 messages a minute per
key → errcode 45009, as WeChat Work does, counted in ``refused``), and can be told to answer the next calls
with an errcode or an HTTP status (``fail_next``) or to be slow (``delay``).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["RobotMessage", "WeComStandIn"]


@dataclass
class RobotMessage:
    """One message a robot accepted: its key, the JSON body and when it arrived (``time.time()``)."""

    key: str
    payload: dict[str, Any]
    at: float

    @property
    def content(self) -> str:
        """The markdown (or text) content."""
        return str(self.payload.get("markdown", {}).get("content") or self.payload.get("text", {}).get("content"))


class WeComStandIn:
    """The webhook endpoint on ``127.0.0.1``; thread-safe; ``reset()`` between tests."""

    def __init__(self, per_minute: int = 20) -> None:
        self.per_minute = per_minute
        self._lock = threading.Lock()
        self._messages: list[RobotMessage] = []
        self._failures: list[int] = []
        self._recent: dict[str, list[float]] = defaultdict(list)
        self.refused = 0
        self.delay = 0.0
        self.clock: Callable[[], float] = time.monotonic
        self.reset()
        self.app = Starlette(routes=[Route("/cgi-bin/webhook/send", self._send, methods=["POST"])])
        self.base_url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def reset(self) -> None:
        """Forget everything received and every injected failure."""
        with self._lock:
            self._messages = []
            self._failures = []
            self._recent = defaultdict(list)
            self.refused = 0
            self.delay = 0.0
            self.clock = time.monotonic  # tests driving a fake clock replace it

    def start(self) -> str:
        """Serve on a free loopback port (a thread); the base URL."""
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="off", ws="none",
                                                     http="h11"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("WeCom stand-in did not start")
            time.sleep(0.01)
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)

    def fail_next(self, *codes: int) -> None:
        """Answer the next calls with these errcodes (>= 500 and < 600: that HTTP status instead)."""
        with self._lock:
            self._failures.extend(codes)

    @property
    def messages(self) -> list[RobotMessage]:
        """Everything accepted, in order."""
        with self._lock:
            return list(self._messages)

    def for_key(self, key: str) -> list[RobotMessage]:
        """What the robot with ``key`` accepted."""
        return [m for m in self.messages if m.key == key]

    async def _send(self, request: Request) -> Response:
        key = request.query_params.get("key", "")
        body = await request.json()
        await asyncio.sleep(self.delay)
        with self._lock:
            if self._failures:
                code = self._failures.pop(0)
                if 500 <= code < 600:
                    return Response("busy", status_code=code)
                return JSONResponse({"errcode": code, "errmsg": "stand-in error"})
            if not key:
                return JSONResponse({"errcode": 93000, "errmsg": "invalid webhook url"})
            now = self.clock()
            recent = [t for t in self._recent[key] if now - t < 60]
            if len(recent) >= self.per_minute:
                self.refused += 1
                return JSONResponse({"errcode": 45009, "errmsg": "api freq out of limit"})
            content = (body.get("markdown") or {}).get("content", "")
            if body.get("msgtype") != "markdown" or not content or len(content.encode("utf-8")) > 4096:
                return JSONResponse({"errcode": 40058, "errmsg": "invalid markdown"})
            recent.append(now)
            self._recent[key] = recent
            self._messages.append(RobotMessage(key, body, time.time()))
        return JSONResponse({"errcode": 0, "errmsg": "ok"})
