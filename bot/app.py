"""The web app: channels, the web chat, the Rasa action webhook and health, wired in one lifespan.

Nothing heavy happens at import: the index, the encoder and the database are opened when the app starts.
Errors never echo a request body or a stack trace: a resident gets a calm Chinese message and 12348.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.actions import build_executor
from bot.answers import AnswerComposer
from bot.conversation import ConversationService
from bot.eligibility.service import EligibilityService
from channels.ports import ChannelUser
from channels.storage import KeyValueStore
from channels.texts import ChannelTexts

__all__ = ["Services", "app_from_environment", "create_app"]

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).resolve().parent / "templates"
MAX_CHAT_BODY = 64 * 1024
MAX_CHAT_TEXT = 5000
CALM_ERROR = "出了点问题，请稍后再试，或直接拨打 12348 公共法律服务热线。"
# The web chat is public (the menu links to it): messages per minute per chat session and per client
# address. The address limit is generous because residents behind one mobile carrier NAT share an address,
# and it counts public addresses only: behind a reverse proxy that does not pass X-Forwarded-For (uvicorn
# trusts it from 127.0.0.1 by default), every resident would seem to come from the proxy's private address.
WEB_CHAT_PER_SESSION = 20
WEB_CHAT_PER_ADDRESS = 60


@dataclass
class Services:
    """What the routes use; built by ``bot.services.build_services`` (or by tests)."""

    composer: AnswerComposer
    conversation: ConversationService
    extra_routes: list[BaseRoute]
    health: Callable[[], Awaitable[dict[str, Any]]]
    close: Callable[[], Awaitable[None]] | None = None
    eligibility: EligibilityService | None = None  # the legal-aid self-check (issue #4)
    store: KeyValueStore | None = None  # shared by the workers; the web chat's rate limits count in it


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _is_public(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_global
    except ValueError:
        return False


async def _web_chat_too_fast(store: KeyValueStore, session: str, address: str | None) -> bool:
    """Count this message in fixed one-minute windows; True when the session or the address is over."""
    window = int(time.time() // 60)
    too_fast = await store.incr(f"web:rate:session:{session}:{window}", ttl=120) > WEB_CHAT_PER_SESSION
    if address and _is_public(address):  # kept only as a hash, for two minutes; refused messages count too
        hashed = hashlib.sha256(address.encode("utf-8")).hexdigest()[:24]
        too_fast |= await store.incr(f"web:rate:address:{hashed}:{window}", ttl=120) > WEB_CHAT_PER_ADDRESS
    return too_fast


def create_app(build: Callable[[], Services]) -> Starlette:
    """The app; ``build`` runs in the lifespan and returns the services the routes use."""
    state: dict[str, Any] = {}
    chat_page = (TEMPLATES / "chat.html").read_text(encoding="utf-8")

    async def webhook(request: Request) -> Response:
        """Rasa's action server protocol (rasa-sdk executor)."""
        from rasa_sdk.interfaces import ActionExecutionRejection, ActionNotFoundException

        try:
            call = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return _error("invalid body", 400)
        try:
            result = await state["executor"].run(call)
        except ActionExecutionRejection as exc:
            return JSONResponse({"error": exc.message, "action_name": exc.action_name}, status_code=400)
        except ActionNotFoundException as exc:
            return JSONResponse({"error": exc.message, "action_name": exc.action_name}, status_code=404)
        if result is None:
            return JSONResponse({"events": [], "responses": []})
        return JSONResponse(result.model_dump(by_alias=True))

    async def chat_page_view(_request: Request) -> Response:
        return HTMLResponse(chat_page)

    async def chat_message(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_CHAT_BODY:
            return _error("消息太长了，请分几次发送。", 413)
        try:
            payload = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return _error("消息格式不对，请刷新页面后再试。", 400)
        if not isinstance(payload, dict) or not isinstance(payload.get("text", ""), str):
            return _error("消息格式不对，请刷新页面后再试。", 400)
        session = payload.get("session")
        if not (isinstance(session, str) and len(session) == 32 and session.isalnum()):
            session = secrets.token_hex(16)
        text = payload.get("text", "")[:MAX_CHAT_TEXT]
        services: Services = state["services"]
        address = request.client.host if request.client else None
        if services.store is not None and await _web_chat_too_fast(services.store, session, address):
            log.warning("web chat rate-limited")
            return _error(ChannelTexts().rate_limited, 429)
        replies = await services.conversation.respond(ChannelUser(channel="web", openid=session, unionid=None), text)
        return JSONResponse({"session": session, "replies": replies})

    async def health(_request: Request) -> Response:
        services: Services = state["services"]
        return JSONResponse(await services.health())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = build()
        state["services"] = services
        state["executor"] = build_executor(services.composer, services.eligibility)
        app.router.routes.extend(services.extra_routes)
        try:
            yield
        finally:
            if services.close is not None:
                await services.close()

    async def server_error(_request: Request, exc: Exception) -> Response:
        log.error("unhandled error: %s", type(exc).__name__)
        return _error(CALM_ERROR, 500)

    routes = [
        Route("/healthz", health),
        Route("/webhook", webhook, methods=["POST"]),
        Route("/chat", chat_page_view),
        Route("/api/chat/messages", chat_message, methods=["POST"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan, exception_handlers={500: server_error})


def app_from_environment() -> Starlette:
    """The app of one worker process when ``LAWLINE_WORKERS`` > 1 (uvicorn calls this in each worker).

    Settings come from the environment ``lawline serve`` passed on.
    """
    from bot.services import build_services
    from bot.settings import load_settings

    settings = load_settings()
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    return create_app(lambda: build_services(settings))
