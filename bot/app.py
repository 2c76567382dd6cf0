"""The web app: channels, the web chat, the Rasa action webhook and health, wired in one lifespan.

Nothing heavy happens at import: the index, the encoder and the database are opened when the app starts.
Errors never echo a request body or a stack trace: a resident gets a calm Chinese message and 12348.
JSON bodies are read by ``channels.json_body`` (bounded while streaming, strict; ``bot.http_input`` words
the refusals); every response carries the security headers and a failure never drops the connection
(``bot.middleware``). ``/webhook`` answers only the Rasa server: it must show the action secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.actions import build_executor
from bot.answers import AnswerComposer
from bot.conversation import ConversationService
from bot.eligibility.service import EligibilityService
from bot.http_input import check_action_call, resident_refusal
from bot.middleware import CALM_ERROR, CalmErrors, SecurityHeaders, csp_nonce
from bot.places import Places
from bot.web_chat import ChatPage, describe_turn
from channels.client_address import TrustedProxies, client_address
from channels.json_body import BodyRejected, optional, read_json_object
from channels.ports import ChannelUser
from channels.storage import KeyValueStore
from channels.texts import ChannelTexts

if TYPE_CHECKING:
    from bot.settings import Settings

__all__ = ["Services", "app_from_environment", "create_app", "webhook_secret"]

log = logging.getLogger(__name__)
MAX_CHAT_BODY = 64 * 1024
MAX_CHAT_TEXT = 5000
# Rasa sends the whole tracker (every event of the conversation) with each call: bounded, but generously.
MAX_ACTION_BODY = 16 * 1024 * 1024
# The web chat is public (the menu links to it): messages per minute per chat session and per client
# address. The address limit is generous because residents behind one mobile carrier NAT share an address,
# and it counts public addresses only. The address is the socket peer, unless LAWLINE_TRUSTED_PROXIES names
# the proxy in front (then its X-Forwarded-For, channels.client_address); behind a proxy not named there,
# every resident would seem to come from the proxy's private address and only the session limit applies.
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
    places: Places | None = None  # where to go: the directory's service points near a resident
    store: KeyValueStore | None = None  # shared by the workers; the web chat's rate limits count in it
    trusted_proxies: TrustedProxies = ()  # LAWLINE_TRUSTED_PROXIES: whose X-Forwarded-For names the client


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


def webhook_secret(settings: Settings) -> str:
    """``LAWLINE_ACTION_SECRET``, or the one kept in ``<var>/action.secret`` (the file Rasa's side reads too)."""
    from nlu import action_secret as generated_secret

    return settings.action_secret or generated_secret(settings.var_dir)


def _shows_secret(request: Request, expected: bytes | None) -> bool:
    """Whether the request carries ``Authorization: Bearer <secret>`` (compared in constant time)."""
    if expected is None:
        return False
    given = next((value for name, value in request.headers.raw if name == b"authorization"), b"")
    return hmac.compare_digest(given, expected)


def create_app(build: Callable[[], Services], *, action_secret: str | None = None) -> Starlette:
    """The app; ``build`` runs in the lifespan and returns the services the routes use.

    ``action_secret`` is what the Rasa server must show ``/webhook`` (``endpoints.yml`` sends it); without
    one, every action call is refused.
    """
    state: dict[str, Any] = {}
    chat_page = ChatPage()  # the page of the web chat; its history and live messages are bot.web_chat's routes
    expected = f"Bearer {action_secret}".encode() if action_secret else None
    if expected is None:
        log.warning("no action secret: /webhook refuses every call")

    async def webhook(request: Request) -> Response:
        """Rasa's action server protocol (rasa-sdk executor); a 400 names the action, as Rasa expects."""
        from rasa_sdk.interfaces import ActionExecutionRejection, ActionNotFoundException

        if not _shows_secret(request, expected):
            return _error("forbidden", 403)
        try:
            call = await read_json_object(request, max_bytes=MAX_ACTION_BODY)
            name = check_action_call(call)
        except BodyRejected as rejected:
            return JSONResponse({"error": rejected.reason, "action_name": None}, status_code=rejected.status)
        try:
            result = await state["executor"].run(call)
        except ActionExecutionRejection as exc:
            return JSONResponse({"error": exc.message, "action_name": exc.action_name}, status_code=400)
        except ActionNotFoundException as exc:
            return JSONResponse({"error": exc.message, "action_name": exc.action_name}, status_code=404)
        except (TypeError, AttributeError, KeyError, IndexError, ValueError) as exc:
            # A slot or message of a shape the action does not expect (the call passed the checks above).
            log.error("action %s could not run on its call: %s", name, type(exc).__name__)
            return JSONResponse({"error": "the action cannot run on this call", "action_name": name}, status_code=400)
        if result is None:
            return JSONResponse({"events": [], "responses": []})
        return JSONResponse(result.model_dump(by_alias=True))

    async def chat_page_view(request: Request) -> Response:
        return chat_page.render(csp_nonce(request))

    async def chat_message(request: Request) -> Response:
        try:
            payload = await read_json_object(request, max_bytes=MAX_CHAT_BODY)
            text = (optional(payload, "text", str) or "")[:MAX_CHAT_TEXT]
            session = optional(payload, "session", str)
        except BodyRejected as rejected:
            return resident_refusal(rejected)
        if not (session is not None and len(session) == 32 and session.isalnum()):
            session = secrets.token_hex(16)
        services: Services = state["services"]
        address = client_address(request.scope, services.trusted_proxies)
        if services.store is not None and await _web_chat_too_fast(services.store, session, address):
            log.warning("web chat rate-limited")
            return _error(ChannelTexts().rate_limited, 429)
        replies = await services.conversation.respond(ChannelUser(channel="web", openid=session, unionid=None), text)
        # Beside the two fields outside checks read: what each reply is and the options offered (the page's).
        shown = await asyncio.to_thread(describe_turn, services.conversation.sessions, f"web:{session}", replies)
        return JSONResponse({"session": session, "replies": replies, **shown})

    async def health(_request: Request) -> Response:
        services: Services = state["services"]
        return JSONResponse(await services.health())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = build()
        state["services"] = services
        state["executor"] = build_executor(services.composer, services.eligibility, services.places)
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
    # SecurityHeaders outside CalmErrors: the calm 500 carries the headers too. Starlette's own 500 handler
    # stays as the last resort (it would drop the connection, see bot.middleware).
    middleware = [Middleware(SecurityHeaders), Middleware(CalmErrors)]
    return Starlette(routes=routes, lifespan=lifespan, middleware=middleware, exception_handlers={500: server_error})


def app_from_environment() -> Starlette:
    """The app of one worker process when ``LAWLINE_WORKERS`` > 1 (uvicorn calls this in each worker).

    Settings come from the environment ``lawline serve`` passed on.
    """
    from bot.services import build_services
    from bot.settings import load_settings

    settings = load_settings()
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    return create_app(lambda: build_services(settings), action_secret=webhook_secret(settings))
