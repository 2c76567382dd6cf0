"""Sign-in and sign-out, the home page, account administration (with unlock and sign-in alerts), the audit log."""

from __future__ import annotations

from urllib.parse import urlparse

from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.console import throttle
from bot.console.access import chosen_places, place_choices, place_label
from bot.console.accounts import (
    AccountError,
    create_account,
    find_account,
    list_accounts,
    set_password,
    sign_in,
    unlock_account,
)
from bot.console.accounts import update_account as change_account
from bot.console.audit_names import action_name, describe
from bot.console.auth import (
    LOGIN_COOKIE,
    ROLES,
    SESSION_COOKIE,
    FormError,
    audit,
    check_csrf,
    console_state,
    current_account,
    end_session,
    form_data,
    form_text,
    load_account,
    parse_form,
    require_role,
    set_session_cookie,
    start_session,
    transaction,
    utcnow,
)
from bot.console.context import directory_now
from bot.console.models import AuditEntry, CorpusDraft
from bot.console.passwords import PasswordPolicyError
from bot.console.templating import error_page, render
from channels.client_address import client_address

__all__ = ["account_routes"]


def _safe_next(value: str) -> str:
    """Only a path inside the console (no other host, no scheme) is a place to go after signing in."""
    parsed = urlparse(value or "")
    if parsed.scheme or parsed.netloc or not parsed.path.startswith("/console") or value.startswith("//"):
        return "/console/"
    return value


def _login_page(request: Request, *, error: str = "", username: str = "", status: int = 200) -> Response:
    response = render(request, "console/login.html", {"title": "登录", "error": error, "username": username,
                                                      "next": _safe_next(request.query_params.get("next", ""))},
                      status_code=status)
    nonce = request.scope.get("console_login_nonce")
    if isinstance(nonce, str) and nonce != request.cookies.get(LOGIN_COOKIE):
        response.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, path="/console", httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
    return response


async def login(request: Request) -> Response:
    if request.method == "GET":
        if await load_account(request) is not None:
            return RedirectResponse("/console/", status_code=303)
        return _login_page(request)
    request.scope["console_account"] = None
    try:
        form = await parse_form(request)
    except FormError as exc:
        return error_page(request, exc.status, exc.message)
    if not check_csrf(request, form):
        return _login_page(request, error="页面已过期，请重新输入。", status=403)
    username, password = form_text(request, "username", limit=60), form_data(request).get("password", "")
    if not isinstance(password, str) or not username or not password:
        return _login_page(request, error="请输入用户名和密码。", username=username, status=400)
    state = console_state(request)
    address = client_address(request.scope, state.trusted_proxies) or "-"

    def attempt() -> tuple[str | None, int]:
        with state.sessions.begin() as session:
            result = sign_in(session, username, password, address, key=state.secret)
            if result.account is None:
                return None, result.retry_minutes
            return start_session(session, state, result.account.id), 0

    token, wait_minutes = await run_in_threadpool(attempt)
    if token is None and wait_minutes:
        # The same words whether the name exists or not: a wait tells nothing about accounts.
        response = _login_page(request, error=f"登录尝试过多，请 {wait_minutes} 分钟后再试。", username=username,
                               status=429)
        response.headers["Retry-After"] = str(wait_minutes * 60)
        return response
    if token is None:
        return _login_page(request, error="用户名或密码不对。", username=username, status=401)
    response = RedirectResponse(_safe_next(str(form.get("next") or "")), status_code=303)
    set_session_cookie(request, response, token, state.session_hours)
    response.delete_cookie(LOGIN_COOKIE, path="/console")
    return response


@require_role()
def logout(request: Request) -> Response:
    state = console_state(request)
    with transaction(request) as session:
        end_session(session, state, request.cookies.get(SESSION_COOKIE, ""))
        audit(session, current_account(request), "logout", f"account:{current_account(request).username}")
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response


@require_role()
def home(request: Request) -> Response:
    account = current_account(request)
    directory = directory_now(request)
    places = [place_label(entry, directory) for entry in account.villages]
    with console_state(request).sessions() as session:
        waiting = session.scalar(select(func.count()).select_from(CorpusDraft)
                                 .where(CorpusDraft.status == "submitted")) or 0
        mine = session.scalar(select(func.count()).select_from(CorpusDraft)
                              .where(CorpusDraft.author_id == account.id,
                                     CorpusDraft.status.in_(("draft", "rejected", "failed")))) or 0
        alerts = len(throttle.recent_alerts(session, utcnow())) if account.has_role("admin") else 0
    return render(request, "console/home.html", {"title": "首页", "waiting": waiting, "mine": mine,
                                                 "alerts": alerts, "places": places})


@require_role("admin")
def accounts(request: Request) -> Response:
    flash = ""
    error = ""
    if request.method == "POST":
        try:
            flash = _change_accounts(request)
        except (AccountError, PasswordPolicyError) as exc:
            error = str(exc)
    now = utcnow()
    directory = directory_now(request)
    with console_state(request).sessions() as session:
        rows = list(list_accounts(session))
        throttled = throttle.throttled_names(session, now)
        alerts = list(throttle.recent_alerts(session, now))
    choices = place_choices(directory)
    # Each account's places by name, and its entries the directory does not know, ticked, so saving keeps them.
    places = {row.username: [(entry, place_label(entry, directory)) for entry in row.villages or ()] for row in rows}
    return render(request, "console/accounts.html", {"title": "账号", "rows": rows, "roles": ROLES, "flash": flash,
                                                     "error": error, "throttled": throttled, "alerts": alerts,
                                                     "choices": choices, "places": places},
                  status_code=400 if error else 200)


def _villages(request: Request, kept: tuple[str, ...]) -> list[str]:
    """The places ticked on the form (directory codes); anything else is refused with its name."""
    ticked = form_data(request).get("villages[]") or []
    codes, refused = chosen_places([str(v)[:60] for v in ticked], kept, directory_now(request))
    if refused:
        raise AccountError(f"服务目录里没有：{'、'.join(refused[:5])}。请从列表里选村（社区）或乡镇。")
    return codes


def _change_accounts(request: Request) -> str:
    actor = current_account(request)
    action = form_text(request, "action", limit=20)
    with transaction(request) as session:
        if action == "create":
            villages = _villages(request, ())
            password = form_data(request).get("password", "")
            account = create_account(session, form_text(request, "username", limit=60),
                                     password if isinstance(password, str) else "",
                                     form_text(request, "role", limit=20), display_name=form_text(request, "name"),
                                     villages=villages, actor=actor)
            return f"已开设账号 {account.username}。"
        row = find_account(session, form_text(request, "username", limit=60))
        if row is None:
            raise AccountError("找不到这个账号。")
        if action == "update":
            villages = _villages(request, tuple(row.villages or ()))
            change_account(session, row, role=form_text(request, "role", limit=20) or None,
                           active=form_text(request, "active", limit=5) == "1", villages=villages,
                           display_name=form_text(request, "name"), actor=actor)
            return f"已更新账号 {row.username}。"
        if action == "password":
            password = form_data(request).get("password", "")
            set_password(session, row, password if isinstance(password, str) else "", actor=actor)
            return f"已为 {row.username} 设置新密码，请当面或电话告知本人。"
        if action == "unlock":
            cleared = unlock_account(session, row, actor=actor)
            return f"已解除 {row.username} 的登录限制（清除 {cleared} 次失败记录）。"
    raise AccountError("未知的操作。")


@require_role("admin")
def audit_log(request: Request) -> Response:
    action = request.query_params.get("action", "")[:60]
    with console_state(request).sessions() as session:
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(300)
        if action:
            query = query.where(AuditEntry.action == action)
        rows = list(session.scalars(query))
        actions = sorted(session.scalars(select(AuditEntry.action).distinct()))
    lines = [(row, describe(row.action, row.target, row.detail)) for row in rows]
    return render(request, "console/audit.html", {"title": "操作记录", "lines": lines, "action": action,
                                                  "actions": [(a, action_name(a)) for a in actions]})


def account_routes() -> list[BaseRoute]:
    """Routes relative to the console's mount (``/console``)."""
    return [
        Route("/", home, name="console_home"),
        Route("/login", login, methods=["GET", "POST"], name="console_login"),
        Route("/logout", logout, methods=["POST"], name="console_logout"),
        Route("/accounts", accounts, methods=["GET", "POST"], name="console_accounts"),
        Route("/audit", audit_log, name="console_audit"),
    ]

