"""What every response goes through: security headers, and a calm 500 that keeps the connection open.

``SecurityHeaders`` adds a Content-Security-Policy, ``X-Content-Type-Options: nosniff``, a Referrer-Policy
and ``X-Frame-Options`` to every response that has not set its own. Pages may run only the scripts they
carry with the request's nonce (``csp_nonce``): the web chat and the console's progress page put it on
their one inline ``<script>``; injected markup gets no script. The policy's other allowances are what the
pages use: inline styles (``<style>`` blocks and ``style=""``), and the pre-application page's print
button (``onclick="window.print()"``, allowed by its hash alone). Everything loads from this origin.

``CalmErrors`` turns an unhandled exception into the calm Chinese 500 itself. Starlette's own
``ServerErrorMiddleware`` answers through the app's 500 handler but then re-raises, and uvicorn closes a
connection whose application raised: the resident's next request (keep-alive, or the page's next message)
would fail too. Here the exception ends with the response; only a response already half sent is left to
the server to cut, since nothing truthful can follow it.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CALM_ERROR", "CalmErrors", "SecurityHeaders", "content_security_policy", "csp_nonce"]

log = logging.getLogger(__name__)

CALM_ERROR = "出了点问题，请稍后再试，或直接拨打 12348 公共法律服务热线。"
_NONCE_KEY = "csp_nonce"
# bot/eligibility/templates/pre_application.html: the print button's handler, allowed by its hash only.
_HANDLERS = ("window.print()",)


def _hash(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def content_security_policy(nonce: str) -> str:
    """The policy of a response whose own inline scripts carry ``nonce``."""
    handlers = " ".join(_hash(source) for source in _HANDLERS)
    return "; ".join((
        "default-src 'self'",
        f"script-src 'nonce-{nonce}' 'unsafe-hashes' {handlers}",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ))


def csp_nonce(request: Request) -> str:
    """The request's script nonce, for ``<script nonce="...">`` in the page it answers with."""
    state: dict[str, Any] = request.scope.setdefault("state", {})
    nonce = state.get(_NONCE_KEY)
    if not isinstance(nonce, str):
        nonce = state[_NONCE_KEY] = secrets.token_urlsafe(18)
    return nonce


class SecurityHeaders:
    """Pure ASGI middleware adding the security headers (a response's own values win)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = csp_nonce(Request(scope))
        defaults = {
            b"content-security-policy": content_security_policy(nonce).encode("ascii"),
            b"x-content-type-options": b"nosniff",
            b"referrer-policy": b"same-origin",
            b"x-frame-options": b"DENY",
        }

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend((name, value) for name, value in defaults.items() if name not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class CalmErrors:
    """Pure ASGI middleware: an unhandled exception becomes the calm 500, and the connection stays usable."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = finished = False

        async def tracking_send(message: Message) -> None:
            nonlocal started, finished
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                finished = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            # The type and the path's first segment only: an exception's text may quote a resident's
            # message, and later segments may be keys (the pre-application page's token).
            head = "/" + str(scope.get("path", "")).lstrip("/").split("/", 1)[0]
            log.error("unhandled %s on %s %s", type(exc).__name__, scope.get("method"), head)
            log.debug("unhandled error", exc_info=True)
            if started and not finished:
                raise  # half a response is out: only closing the connection tells the client
            if not started:
                await JSONResponse({"error": CALM_ERROR}, status_code=500)(scope, receive, send)
