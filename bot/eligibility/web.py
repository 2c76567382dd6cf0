"""The pre-application page: what the resident keeps, shows and prints (opens in WeChat's own browser).

``GET /eligibility/{token}`` shows it; ``POST /eligibility/{token}/submit`` sends it to the legal-aid centre
(the same as "发给法律援助中心" in the chat). The token is the only key (unguessable, 128 bits); the page
carries no name, phone or ID number, is not cached by proxies and asks search engines to stay away.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import logging
from pathlib import Path
from string import Template
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.eligibility.service import EligibilityService

__all__ = ["eligibility_routes", "render_page"]

log = logging.getLogger(__name__)
TEMPLATE = Path(__file__).resolve().parent / "templates" / "pre_application.html"
_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex", "Referrer-Policy": "no-referrer"}
_CHINA = dt.timezone(dt.timedelta(hours=8))


def _e(value: object) -> str:
    return html.escape(str(value))


def _when(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(_CHINA).strftime("%Y-%m-%d %H:%M")


def _list(items: list[str], ordered: bool = False) -> str:
    tag = "ol" if ordered else "ul"
    return f"<{tag}>" + "".join(f"<li>{_e(item)}</li>" for item in items) + f"</{tag}>"


def _body(service: EligibilityService, record: dict[str, Any]) -> str:
    labels = service.flow.result["labels"]
    result = record["result"]
    parts = [
        f'<p class="verdict {_e(result["decision"])}">{_e(labels["decision"])}：{_e(result["decision_label"])}</p>',
        f"<p>{_e(labels['means_test'])}：{_e(result['means_label'])}</p>",
        f"<h2>{_e(labels['basis'])}</h2>{_list(list(result['basis']))}",
        f"<h2>{_e(labels['reasons'])}</h2><p>{_e(result['explanation'])}</p>",
        f"<h2>{_e(labels['answers'])}</h2><table>"
        + "".join(f"<tr><th>{_e(q)}</th><td>{_e(a)}</td></tr>" for q, a in record["answers"]) + "</table>",
    ]
    if result["materials"]:
        parts.append(f"<h2>{_e(labels['materials'])}</h2>{_list(list(result['materials']), ordered=True)}")
    if result["where"]:
        parts.append(f"<h2>{_e(labels['where'])}</h2><p>{_e(result['where_intro'])}</p>{_list(list(result['where']))}")
    if result["next"]:
        parts.append(f"<h2>{_e(labels['next'])}</h2>{_list(list(result['next']))}")
    if result["alternatives"]:
        parts.append(f"<h2>{_e(labels['alternatives'])}</h2>{_list(list(result['alternatives']))}")
    return "\n".join(parts)


def render_page(service: EligibilityService, record: dict[str, Any]) -> str:
    """The page's HTML for a stored pre-application (every value escaped)."""
    page = service.flow.page
    if record["submitted_at"] is not None:
        submit = f'<p class="sent">{_e(str(page["submitted"]).format(when=_when(record["submitted_at"])))}</p>'
    else:
        submit = (f'<form method="post" action="/eligibility/{_e(record["token"])}/submit" style="display:inline">'
                  f'<button class="primary" type="submit">{_e(page["submit"])}</button></form>')
    return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(
        title=_e(page["title"]), code_label=_e(page["code"]), code=_e(record["code"]),
        created_label=_e(page["created"]), created=_e(_when(record["created_at"])), notice=_e(page["notice"]),
        body=_body(service, record), rules_label=_e(page["rules_version"]), rules_version=_e(record["rules_version"]),
        print_label=_e(page["print"]), submit=submit,
    )


def _not_found(service: EligibilityService) -> Response:
    text = _e(service.flow.page["not_found"])
    body = (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>{_e(service.flow.page["title"])}</title></head>'
            f'<body style="font-size:17px;padding:16px"><p>{text}</p></body></html>')
    return HTMLResponse(body, status_code=404, headers=_HEADERS)


def eligibility_routes(service: EligibilityService) -> list[BaseRoute]:
    """The page routes, mounted by ``bot.services`` through ``Services.extra_routes``."""
    async def page(request: Request) -> Response:
        record = await asyncio.to_thread(service.find, request.path_params["token"])
        if record is None:
            return _not_found(service)
        return HTMLResponse(render_page(service, record), headers=_HEADERS)

    async def submit(request: Request) -> Response:
        token = request.path_params["token"]
        outcome = await service.submit(token)
        if outcome.status == "not_found":
            return _not_found(service)
        log.info("pre-application %s submitted from its page (%s)", outcome.code, outcome.status)
        return RedirectResponse(f"/eligibility/{token}", status_code=303, headers=_HEADERS)

    return [
        Route("/eligibility/{token:str}", page, methods=["GET"]),
        Route("/eligibility/{token:str}/submit", submit, methods=["POST"]),
    ]
