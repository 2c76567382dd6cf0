"""Jinja2 pages of the console: ``render`` fills in the account, the CSRF field and the menu.

Other route modules keep their templates in their own folder, extend ``console/base.html`` and pass the
folder as ``template_dirs``. The app's own folder (``bot/templates``) comes last, for the partials the console
shares with the web chat (``live.js``, the live-updates listener). Autoescaping is on for every template.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from bot.console.auth import EDITORS, EVERYONE, ROLE_NAMES, STAFF, csrf_token, optional_account
from bot.console.drafts import KIND_NAMES, STATUS_NAMES
from bot.console.links import article_link, document_link, law_link
from bot.console.times import beijing
from bot.middleware import csp_nonce

__all__ = ["NAV_ITEMS", "TEMPLATES", "error_page", "render"]

TEMPLATES = Path(__file__).resolve().parent / "templates"
_SHARED = TEMPLATES.parents[1] / "templates"  # bot/templates, the web chat's: the partials both use

# (label, path, roles) — the menu; an item shows only to its roles.
NAV_ITEMS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("首页", "/console/", EVERYONE),
    ("知识库", "/console/corpus", STAFF),
    ("草稿与审核", "/console/drafts", STAFF),
    ("上传法规", "/console/corpus/upload", EDITORS),
    ("援助条件与服务目录", "/console/data", STAFF),
    ("案件", "/console/cases", ("adviser", "admin")),  # the adviser console (bot.console.advisers, issue #5)
    ("命中测试", "/console/hit", EVERYONE),
    ("反馈队列", "/console/feedback", EDITORS),
    ("数据分析", "/console/analytics", EVERYONE),
    ("账号", "/console/accounts", ("admin",)),
    ("操作记录", "/console/audit", ("admin",)),
)


@functools.lru_cache(maxsize=16)
def _environment(extra: tuple[str, ...]) -> Environment:
    env = Environment(
        loader=FileSystemLoader([str(TEMPLATES), *extra, str(_SHARED)]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["ROLE_NAMES"] = ROLE_NAMES
    env.globals["STATUS_NAMES"] = STATUS_NAMES
    env.globals["KIND_NAMES"] = KIND_NAMES
    env.globals["article_link"] = article_link  # stable addresses, by title and label (bot.console.links)
    env.globals["law_link"] = law_link
    env.globals["document_link"] = document_link
    env.filters["unquote"] = unquote  # a stable address as editors read it (Chinese, not %E4…)
    env.filters["beijing"] = beijing  # {{ row.created_at | beijing }}: every time on a page (bot.console.times)
    return env


def render(request: Request, template: str, context: dict[str, Any] | None = None, *, status_code: int = 200,
           template_dirs: Sequence[Path] = ()) -> HTMLResponse:
    """Render ``template`` with ``context`` plus ``account``, ``csrf_field()``, ``nav``, ``path`` and ``csp_nonce``."""
    env = _environment(tuple(str(d) for d in template_dirs))
    account = optional_account(request)
    token = csrf_token(request)
    values: dict[str, Any] = {
        "account": account,
        "csrf_token": token,
        "csrf_field": lambda: Markup('<input type="hidden" name="csrf_token" value="{}">').format(token),
        "nav": [(label, path) for label, path, roles in NAV_ITEMS if account is not None and account.role in roles],
        "path": request.url.path,
        "title": "",
        "csp_nonce": csp_nonce(request),  # <script nonce="{{ csp_nonce }}">: the only scripts the policy runs
    }
    values.update(context or {})
    response = HTMLResponse(env.get_template(template).render(values), status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """A calm error page with a way back; never echoes the request."""
    return render(request, "console/error.html", {"status": status, "message": message, "title": "出错了"},
                  status_code=status)
