"""The adviser and hotline-lawyer console (issue #5): the queue, a case, claim, reply, transfer, close.

Served under the console's mount (``/console/cases…``) with the console's sign-in, roles, CSRF and audit
(``bot.console.auth``, issue #6): advisers (role ``adviser``) and supervisors (``admin``). A console
account is linked to a person of the service directory by its username (``p-adviser-1`` …); replies are
signed with that person's role and name. Every action is a ``TicketService`` call (its own transaction and
ticket history) followed by an audit entry. Mobile first: one column, big buttons, no script needed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.console.auth import Account, audit, current_account, form_data, require_role, transaction
from bot.console.templating import error_page, render
from handoff.cards import REASONS
from handoff.directory import SPECIALTIES, TOPIC_SPECIALTY
from handoff.errors import TicketError, TicketNotFound
from handoff.models import Ticket
from handoff.service import HandoffService
from handoff.texts import load_canned_replies
from handoff.tickets import OUTCOMES, TARGETS

__all__ = ["adviser_routes"]

TEMPLATES = Path(__file__).resolve().parent / "templates" / "advisers"
ROLES = ("adviser", "admin")
STATE_NAMES = {"open": "待认领", "claimed": "处理中", "callback": "预约回电", "closed": "已办结"}
EVENT_NAMES = {
    "opened": "转入人工", "card_queued": "推送到工作群", "claimed": "认领", "staff_reply": "回复居民",
    "resident_message": "居民留言", "transferred": "转办", "closed": "办结", "reminded": "超时提醒",
    "escalated": "上报负责人", "resolution_overdue": "办理超期", "timed_out": "等待超时，改为回电",
    "callback_booked": "预约回电", "asked_again": "居民再次要求", "marked_urgent": "标为紧急", "rated": "居民评分",
    "template_queued": "公众号提醒顾问",
}


def _actor(account: Account, handoff: HandoffService) -> str:
    """The directory person behind a console account (its username), else the account itself."""
    person = handoff.directory.person(account.username)
    return person.id if person is not None else f"account:{account.username}"


def _local(handoff: HandoffService, value: dt.datetime | None) -> str:
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(handoff.directory.calendar.tz).strftime("%m-%d %H:%M")


def _name(handoff: HandoffService, person_id: str | None, default: str = "—") -> str:
    person = handoff.directory.person(person_id)
    return person.name if person is not None else (person_id or default)


def _view(handoff: HandoffService, ticket: Ticket) -> dict[str, Any]:
    d = handoff.directory
    return {
        "ticket": ticket,
        "state": STATE_NAMES.get(ticket.state, ticket.state),
        "topic": SPECIALTIES.get(TOPIC_SPECIALTY.get(ticket.topic or "", ""), "未分类"),
        "place": d.full_name(ticket.village) or "未说明",
        "reason": REASONS.get(ticket.reason, ticket.reason),
        "owner": _name(handoff, ticket.owner),
        "assignee": _name(handoff, ticket.assignee),
        "due": _local(handoff, ticket.first_response_due),
        "created": _local(handoff, ticket.created_at),
        "callback": _local(handoff, ticket.callback_at) if ticket.callback_at else None,
        "outcome": OUTCOMES.get(ticket.outcome or "", ticket.outcome),
    }


def adviser_routes(handoff: HandoffService) -> list[BaseRoute]:
    """Routes relative to the console's mount (``/console``); pass them as ``build_console(extra_routes=…)``."""
    canned = load_canned_replies()
    tickets = handoff.tickets

    def page(request: Request, template: str, values: dict[str, Any], status: int = 200) -> Response:
        values.setdefault("sample", handoff.directory.sample)
        return render(request, template, values, status_code=status, template_dirs=(TEMPLATES,))

    @require_role(*ROLES)
    async def queue(request: Request) -> Response:
        account = current_account(request)
        view = request.query_params.get("view", "open")
        actor = _actor(account, handoff)
        if view == "mine":
            rows = await asyncio.to_thread(tickets.queue, states=("claimed",), owner=actor)
        elif view == "closed":
            rows = await asyncio.to_thread(tickets.queue, states=("closed",), limit=100)
            rows = sorted(rows, key=lambda t: t.id, reverse=True)
        else:
            view = "open"
            rows = await asyncio.to_thread(tickets.queue, states=("open", "callback", "claimed"))
        return page(request, "cases.html", {"title": "案件", "view": view, "rows": [_view(handoff, t) for t in rows],
                                            "notes": handoff.directory.notes()})

    @require_role(*ROLES)
    async def case(request: Request) -> Response:
        ticket_id = int(request.path_params["ticket_id"])
        try:
            ticket = await asyncio.to_thread(tickets.get, ticket_id)
        except TicketNotFound:
            return error_page(request, 404, "没有这个案件。")
        transcript = []
        source = handoff.desk.transcript
        if source is not None:
            transcript = await asyncio.to_thread(source.recent, ticket.conversation_key, 60)
        d = handoff.directory
        who = {"resident": "居民", "bot": "机器人", "system": "系统"}
        events = [(_local(handoff, e.at), EVENT_NAMES.get(e.kind, e.kind), who.get(e.actor) or _name(handoff, e.actor),
                   e.text) for e in ticket.events if e.kind not in ("card_queued", "template_queued")]
        mine = ticket.state == "claimed" and ticket.owner == _actor(current_account(request), handoff)
        advisers = [p for p in d.people.values() if p.role == "village_adviser"]
        return page(request, "case.html", {
            "title": f"案件 #{ticket.id}", **_view(handoff, ticket), "events": events, "mine": mine,
            "transcript": [(line, _local(handoff, line.at)) for line in transcript], "canned": canned,
            "outcomes": OUTCOMES, "targets": {t: handoff.texts.targets.get(t, t) for t in TARGETS},
            "advisers": advisers, "flash": request.query_params.get("flash", "")[:100],
        })

    @require_role(*ROLES)
    async def act(request: Request) -> Response:
        ticket_id = int(request.path_params["ticket_id"])
        action = request.path_params["action"]
        account = current_account(request)
        actor = _actor(account, handoff)
        form = form_data(request)

        def field(name: str, limit: int = 2000) -> str:
            value = form.get(name)
            return value.strip()[:limit] if isinstance(value, str) else ""

        data: dict[str, Any]
        try:
            if action == "claim":
                await asyncio.to_thread(tickets.claim, ticket_id, actor)
                flash, data = "已认领", {}
            elif action == "reply":
                text = field("text", 5000) or _canned(canned, field("canned"))
                await asyncio.to_thread(tickets.reply, ticket_id, actor, text)
                flash, data = "已发送给居民", {"chars": len(text)}
            elif action == "transfer":
                target = field("target", 20)
                to_person = field("to_person", 60) or None
                await asyncio.to_thread(tickets.transfer, ticket_id, actor, target, to_person=to_person,
                                        note=field("note"))
                flash, data = "已转办", {"target": target, "to": to_person}
            elif action == "close":
                outcome = field("outcome", 40)
                await asyncio.to_thread(tickets.close, ticket_id, actor, outcome, field("note"))
                flash, data = "已办结", {"outcome": outcome}
            else:
                return error_page(request, 404, "没有这个操作。")
        except TicketNotFound:
            return error_page(request, 404, "没有这个案件。")
        except TicketError as exc:
            return error_page(request, 409, _calm(exc.reason))
        with transaction(request) as session:
            audit(session, account, f"case.{action}", f"ticket:{ticket_id}", data)
        return RedirectResponse(f"/console/cases/{ticket_id}?flash={flash}", status_code=303)

    return [
        Route("/cases", queue, name="console_cases"),
        Route("/cases/{ticket_id:int}", case, name="console_case_ticket"),
        Route("/cases/{ticket_id:int}/{action}", act, methods=["POST"], name="console_case_action"),
    ]


def _canned(canned: list[Any], index: str) -> str:
    if index.isdigit() and int(index) < len(canned):
        return str(canned[int(index)].text)
    return ""


def _calm(reason: str) -> str:
    """A ticket error as a short Chinese sentence for the page."""
    if "claim the case first" in reason:
        return "请先认领这个案件，再回复、转办或办结。"
    if "already" in reason or "someone else" in reason:
        return "这个案件已经有人在处理，或者已经办结了。请回到案件列表刷新。"
    if "empty reply" in reason:
        return "回复不能是空的：请写几句话，或选一条常用回复。"
    if "longer than" in reason:
        return "回复太长了，请分几次发送（每次不超过 600 字）。"
    return "这个操作做不了，请检查填写的内容后再试。"
