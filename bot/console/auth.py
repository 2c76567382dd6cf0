"""The console's sign-in, sessions, roles, CSRF protection and audit log: the API other route modules use.

Typical use in a route module (e.g. the adviser console)::

    from bot.console.auth import audit, current_account, form_data, require_role, transaction
    from bot.console.templating import render

    @require_role("adviser", "admin")
    async def my_cases(request: Request) -> Response:
        account = current_account(request)            # the signed-in Account (never None here)
        ...
        return render(request, "handoff/cases.html", {"cases": cases}, template_dirs=(MY_TEMPLATES,))

    @require_role("adviser")
    async def close_case(request: Request) -> Response:  # POST: the CSRF token was checked already
        form = form_data(request)                     # the parsed form fields (str) and files
        with transaction(request) as session:
            ...
            audit(session, current_account(request), "case.close", f"ticket:{ticket_id}", {"reason": ...})
        return RedirectResponse(..., status_code=303)

``require_role`` redirects anonymous visitors to the sign-in page, answers 403 to the wrong role, and for
POST parses the form (bounded size) and refuses a missing or wrong ``csrf_token`` field (or
``X-CSRF-Token`` header) with 403. Forms put ``{{ csrf_field() }}`` inside; templates extending
``console/base.html`` get it (and ``account``) automatically. The routes must live under the console's
``Mount`` (``build_console(..., extra_routes=...)``), whose middleware hands the state to these functions.

Sessions are server-side (``console_sessions``; the cookie carries a random token and only its keyed hash
is stored), expire after ``LAWLINE_CONSOLE_SESSION_HOURS`` and end at sign-out or when the account is
disabled. Every state-changing action writes an ``AuditEntry`` in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import inspect
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.console.models import AuditEntry, ConsoleAccount, ConsoleSession
from channels.client_address import TrustedProxies

__all__ = [
    "EDITORS",
    "EVERYONE",
    "REVIEWERS",
    "ROLES",
    "ROLE_NAMES",
    "STAFF",
    "Account",
    "ConsoleMiddleware",
    "ConsoleState",
    "audit",
    "check_csrf",
    "console_state",
    "csrf_token",
    "current_account",
    "form_data",
    "form_file",
    "require_role",
    "transaction",
    "utcnow",
]

log = logging.getLogger(__name__)

ROLES = ("editor", "reviewer", "adviser", "admin")
ROLE_NAMES = {"editor": "编辑", "reviewer": "审核员", "adviser": "村（居）法律顾问", "admin": "管理员"}
EVERYONE = ROLES
STAFF = ("editor", "reviewer", "admin")  # read the corpus, drafts and county-wide analytics
EDITORS = ("editor", "reviewer")  # write drafts and work the feedback queue
REVIEWERS = ("reviewer",)  # approve and publish other people's drafts

SESSION_COOKIE = "lawline_console"
LOGIN_COOKIE = "lawline_console_login"
MAX_FORM_BYTES = 4 * 1024 * 1024
SCOPE_KEY = "lawline.console"

Endpoint = Callable[[Request], Awaitable[Response]] | Callable[[Request], Response]


def utcnow() -> dt.datetime:
    """Now, timezone-aware (UTC)."""
    return dt.datetime.now(dt.UTC)


def aware(value: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; they are UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Account:
    """The signed-in person, as route code sees it (a snapshot, not a database row)."""

    id: int
    username: str
    display_name: str
    role: str
    villages: tuple[str, ...] = ()

    @property
    def role_name(self) -> str:
        return ROLE_NAMES.get(self.role, self.role)

    def has_role(self, *roles: str) -> bool:
        return self.role in roles

    @classmethod
    def of(cls, row: ConsoleAccount) -> Account:
        return cls(row.id, row.username, row.display_name, row.role, tuple(row.villages or ()))


@dataclass
class ConsoleState:
    """What the console's routes share: the database, the signing key, the session lifetime, services.

    ``trusted_proxies`` (``LAWLINE_TRUSTED_PROXIES``) decides whose ``X-Forwarded-For`` names the client.
    """

    sessions: sessionmaker[Session]
    secret: bytes
    session_hours: int = 8
    services: dict[str, Any] = field(default_factory=dict)
    trusted_proxies: TrustedProxies = ()

    def token_hash(self, token: str) -> str:
        return hmac.new(self.secret, b"session:" + token.encode("ascii", "replace"), hashlib.sha256).hexdigest()

    def login_token(self, nonce: str) -> str:
        return hmac.new(self.secret, b"login:" + nonce.encode("ascii", "replace"), hashlib.sha256).hexdigest()


class ConsoleMiddleware:
    """Pure ASGI middleware of the console's ``Mount``: hands ``ConsoleState`` to the functions here."""

    def __init__(self, app: ASGIApp, state: ConsoleState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope[SCOPE_KEY] = self.state
        await self.app(scope, receive, send)


def console_state(request: Request) -> ConsoleState:
    """The console's shared state, handed over by ``ConsoleMiddleware``."""
    state = request.scope.get(SCOPE_KEY)
    if not isinstance(state, ConsoleState):
        raise RuntimeError("console routes must be mounted by bot.console.build_console")
    return state


@contextmanager
def transaction(request: Request) -> Iterator[Session]:
    """One database transaction (committed on success, rolled back on any error)."""
    with console_state(request).sessions.begin() as session:
        yield session


# ---- sessions -------------------------------------------------------------------------------------
def _load_account(state: ConsoleState, token: str) -> tuple[Account, str] | None:
    with state.sessions() as session:
        row = session.execute(
            select(ConsoleSession, ConsoleAccount)
            .join(ConsoleAccount, ConsoleAccount.id == ConsoleSession.account_id)
            .where(ConsoleSession.token_hash == state.token_hash(token))
        ).first()
        if row is None:
            return None
        stored, account = row
        if not account.active or aware(stored.expires_at) <= utcnow():
            return None
        return Account.of(account), stored.csrf_token


async def load_account(request: Request) -> Account | None:
    """Read the session cookie once per request; ``current_account`` returns the result afterwards."""
    if "console_account" in request.scope:
        return request.scope["console_account"]  # type: ignore[no-any-return]
    token = request.cookies.get(SESSION_COOKIE, "")
    found = None
    if 20 <= len(token) <= 100:
        found = await run_in_threadpool(_load_account, console_state(request), token)
    request.scope["console_account"] = found[0] if found else None
    request.scope["console_csrf"] = found[1] if found else None
    return found[0] if found else None


def current_account(request: Request) -> Account:
    """The signed-in account of a request that passed ``require_role`` (raises otherwise)."""
    account = request.scope.get("console_account")
    if not isinstance(account, Account):
        raise RuntimeError("current_account() outside a route guarded by require_role()")
    return account


def optional_account(request: Request) -> Account | None:
    account = request.scope.get("console_account")
    return account if isinstance(account, Account) else None


def start_session(session: Session, state: ConsoleState, account_id: int) -> str:
    """Create a server-side session for ``account_id``; returns the cookie token."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(ConsoleSession(token_hash=state.token_hash(token), account_id=account_id,
                               csrf_token=secrets.token_urlsafe(32), created_at=now,
                               expires_at=now + dt.timedelta(hours=state.session_hours)))
    return token


def end_session(session: Session, state: ConsoleState, token: str) -> None:
    row = session.get(ConsoleSession, state.token_hash(token))
    if row is not None:
        session.delete(row)


def set_session_cookie(request: Request, response: Response, token: str, hours: int) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=hours * 3600, path="/console", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")


# ---- CSRF -----------------------------------------------------------------------------------------
def csrf_token(request: Request) -> str:
    """The token forms must send back (``csrf_token`` field or ``X-CSRF-Token`` header)."""
    token = request.scope.get("console_csrf")
    if isinstance(token, str):
        return token
    # Not signed in (the sign-in form): a token bound to the sign-in cookie's nonce.
    nonce = request.scope.get("console_login_nonce") or request.cookies.get(LOGIN_COOKIE, "")
    if not nonce or len(nonce) > 100:
        nonce = secrets.token_urlsafe(24)
    request.scope["console_login_nonce"] = nonce
    return console_state(request).login_token(nonce)


def check_csrf(request: Request, form: dict[str, Any]) -> bool:
    """True if the request carries this session's (or this sign-in form's) token."""
    sent = request.headers.get("x-csrf-token") or form.get("csrf_token") or ""
    if not isinstance(sent, str) or not sent:
        return False
    expected = request.scope.get("console_csrf")
    if not isinstance(expected, str):
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        if not nonce or len(nonce) > 100:
            return False
        expected = console_state(request).login_token(nonce)
    return hmac.compare_digest(sent.encode("utf-8", "replace"), expected.encode("utf-8"))


# ---- forms ----------------------------------------------------------------------------------------
class FormError(Exception):
    """The request body is not a usable form (too large, malformed)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def parse_form(request: Request) -> dict[str, Any]:
    """Parse a urlencoded or multipart body (at most ``MAX_FORM_BYTES``) into str fields and UploadFiles."""
    if "console_form" in request.scope:
        return request.scope["console_form"]  # type: ignore[no-any-return]
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise FormError(411, "请求缺少长度信息。")
    if int(length) > MAX_FORM_BYTES:
        raise FormError(413, f"提交的内容太大了（上限 {MAX_FORM_BYTES // 1024 // 1024} MB）。")
    content_type = request.headers.get("content-type", "")
    fields: dict[str, Any] = {}
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        try:
            # Fields: an amendment's review ticks one box per changed article (bot.console.amendments).
            form = await request.form(max_files=4, max_fields=3000)
        except Exception as exc:  # python-multipart and Starlette raise several kinds
            log.info("unreadable console form: %s", type(exc).__name__)
            raise FormError(400, "表单格式不对，请刷新页面后重试。") from None
        for key, value in form.multi_items():
            fields.setdefault(key, value)
            if not isinstance(value, UploadFile):
                fields.setdefault(f"{key}[]", []).append(value)
    elif int(length) > 0 and not content_type.startswith("application/json"):
        raise FormError(415, "不支持的提交格式。")
    request.scope["console_form"] = fields
    return fields


def form_data(request: Request) -> dict[str, Any]:
    """The form parsed by ``require_role`` for a POST: ``field`` → first value, ``field[]`` → all values."""
    form = request.scope.get("console_form")
    return form if isinstance(form, dict) else {}


def form_text(request: Request, name: str, *, limit: int = 20000) -> str:
    """One text field, stripped, at most ``limit`` characters (longer input is refused by the caller)."""
    value = form_data(request).get(name, "")
    return value.replace("\r\n", "\n").strip()[: limit + 1] if isinstance(value, str) else ""


def form_file(request: Request, name: str) -> UploadFile | None:
    """An uploaded file of the parsed form, if one was chosen."""
    value = form_data(request).get(name)
    return value if isinstance(value, UploadFile) and value.filename else None


# ---- guard ----------------------------------------------------------------------------------------
def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/console/login?next={quote(target, safe='')}", status_code=303)


def require_role(*roles: str) -> Callable[[Endpoint], Callable[[Request], Awaitable[Response]]]:
    """Guard an endpoint: signed in, one of ``roles`` (any role when none given), CSRF-checked POSTs.

    The endpoint may be async or a plain function (then it runs in the thread pool, so it may use the
    database directly).
    """
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    def decorate(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            from bot.console.templating import error_page

            account = await load_account(request)
            if account is None:
                return login_redirect(request)
            if roles and account.role not in roles:
                return error_page(request, 403, "您的账号没有权限打开这个页面。")
            if request.method == "POST":
                try:
                    form = await parse_form(request)
                except FormError as exc:
                    return error_page(request, exc.status, exc.message)
                if not check_csrf(request, form):
                    return error_page(request, 403, "页面已过期或来源不明，请刷新页面后重试。")
            try:
                if inspect.iscoroutinefunction(endpoint):
                    return await endpoint(request)  # type: ignore[no-any-return]
                return await run_in_threadpool(endpoint, request)  # type: ignore[arg-type]
            finally:
                for value in form_data(request).values():
                    if isinstance(value, UploadFile):
                        await value.close()

        guarded.console_roles = roles or ROLES  # type: ignore[attr-defined]
        return guarded

    return decorate


# ---- audit ----------------------------------------------------------------------------------------
def audit(session: Session, account: Account | None, action: str, target: str = "",
          detail: dict[str, Any] | None = None, *, username: str | None = None,
          at: dt.datetime | None = None) -> None:
    """Record an action in the caller's transaction (so it commits or rolls back with the action).

    ``detail`` must not carry a resident's personal data: mask it first (``bot.console.masking``).
    ``at`` is the caller's clock when it has one (sign-in throttling), so entries and counts agree.
    """
    session.add(AuditEntry(
        account_id=account.id if account else None,
        username=account.username if account else (username or "-")[:60],
        action=action[:60],
        target=target[:400],
        detail=detail or {},
        created_at=at or utcnow(),
    ))
