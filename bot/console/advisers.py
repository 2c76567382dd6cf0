"""The adviser and hotline-lawyer console (issue #5): the queue, a case, claim, reply, transfer, close.

Served under the console's mount (``/console/cases…``) with the console's sign-in, roles, CSRF and audit
(``bot.console.auth``, issue #6): advisers (role ``adviser``) and supervisors (``admin``). A console
account is linked to a person of the service directory by its username (``p-adviser-1`` …); replies are
signed with that person's role and name. Which cases an account sees and acts on is ``bot.console.access``
(issue #16): every route here reads tickets through its filter, so a case outside it is 404 and never listed,
and a case page shows the resident's numbers masked (``access.disclosure``) unless the person handling it
presses 显示完整号码 (``POST …/reveal``, audited as ``case.reveal``).
Every action is a ``TicketService`` call (its own transaction and ticket history) followed by an audit
entry. Mobile first: one column, big buttons, the reply box at the top and the transcript folded to its last
lines; everything works without script, and with it the queue and a case page update live
(``bot.console.live_cases``). A case is closed only once claimed; a legal-aid pre-application shows its matter,
district and decision in words (``bot.console.legal_aid_cases``) and the name and phone the resident agreed to
leave (the phone masked like every number until the person handling the case reveals it).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.console.access import CASE_ROLES, actor, case_filter, case_scope, disclosure, handles, unknown_places
from bot.console.auth import audit, current_account, form_data, require_role, transaction
from bot.console.context import context
from bot.console.danger_reports import report_missed_danger
from bot.console.drafts import DraftError
from bot.console.legal_aid_cases import REASON, codes_of, legal_aid_codes, legal_aid_view
from bot.console.live_cases import events_after, last_alerts, last_event_id
from bot.console.masking import mask_personal_data
from bot.console.templating import error_page, render
from bot.live import Event, cursor, live_response
from handoff.cards import REASONS
from handoff.directory import SPECIALTIES, TOPIC_SPECIALTY
from handoff.errors import TicketError, TicketNotFound
from handoff.models import Ticket
from handoff.service import HandoffService
from handoff.signals import DANGER_KINDS
from handoff.texts import load_canned_replies
from handoff.tickets import OUTCOMES, TARGETS

if TYPE_CHECKING:
    from bot.eligibility.service import EligibilityService

__all__ = ["adviser_routes"]

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates" / "advisers"
POLL_SECONDS = 2.0  # how often an open queue or case page looks for new events
LATEST_LINES = 4  # the transcript lines a case page shows before 展开全部
STATE_NAMES = {"open": "待认领", "claimed": "处理中", "callback": "预约回电", "closed": "已办结"}
EVENT_NAMES = {
    "opened": "转入人工", "card_queued": "推送到工作群", "claimed": "认领", "staff_reply": "回复居民",
    "resident_message": "居民留言", "transferred": "转办", "closed": "办结", "reminded": "超时提醒",
    "escalated": "上报负责人", "resolution_overdue": "办理超期", "timed_out": "等待超时，改为回电",
    "callback_booked": "预约回电", "asked_again": "居民再次要求", "marked_urgent": "标为紧急", "rated": "居民评分",
    "template_queued": "公众号提醒顾问", "danger_again": "居民又发来危险信息",
}


def _local(handoff: HandoffService, value: dt.datetime | None) -> str:
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(handoff.directory.calendar.tz).strftime("%m-%d %H:%M")


def _name(handoff: HandoffService, person_id: str | None, default: str = "—") -> str:
    person = handoff.directory.person(person_id)
    return person.name if person is not None else (person_id or default)


def _view(handoff: HandoffService, ticket: Ticket, aid: dict[str, str]) -> dict[str, Any]:
    d = handoff.directory
    return {
        "ticket": ticket,
        "state": STATE_NAMES.get(ticket.state, ticket.state),
        "topic": aid.get("matter") or SPECIALTIES.get(TOPIC_SPECIALTY.get(ticket.topic or "", ""), "未分类"),
        "place": d.full_name(ticket.village) or aid.get("district") or "未说明",
        "legal_aid": aid,
        "reason": REASONS.get(ticket.reason, ticket.reason),
        "owner": _name(handoff, ticket.owner),
        "assignee": _name(handoff, ticket.assignee),
        "due": _local(handoff, ticket.first_response_due),
        "created": _local(handoff, ticket.created_at),
        "callback": _local(handoff, ticket.callback_at) if ticket.callback_at else None,
        "outcome": OUTCOMES.get(ticket.outcome or "", ticket.outcome),
    }


def adviser_routes(handoff: HandoffService, eligibility: EligibilityService | None = None) -> list[BaseRoute]:
    """Routes relative to the console's mount (``/console``); pass them as ``build_console(extra_routes=…)``.

    ``eligibility`` names a legal-aid pre-application's matter, district and decision (its rules as loaded now).
    """
    canned = load_canned_replies()
    tickets = handoff.tickets
    sessions = tickets.sessions

    def page(request: Request, template: str, values: dict[str, Any], status: int = 200) -> Response:
        values.setdefault("sample", handoff.directory.sample)
        return render(request, template, values, status_code=status, template_dirs=(TEMPLATES,))

    def visible(request: Request) -> ColumnElement[bool]:
        """The signed-in account's access rule as a filter on tickets (the directory as loaded now)."""
        return case_filter(case_scope(current_account(request), handoff.directory))

    async def visible_ticket(request: Request, ticket_id: int) -> Ticket | None:
        """The case if the account may see it; None (answer 404) whether it is someone else's or not there."""
        try:
            return await asyncio.to_thread(tickets.get, ticket_id, where=visible(request))
        except TicketNotFound:
            log.info("console account %d: case %d not found or not theirs", current_account(request).id, ticket_id)
            return None

    @require_role(*CASE_ROLES)
    async def queue(request: Request) -> Response:
        account = current_account(request)
        view = request.query_params.get("view", "open")
        where = visible(request)
        if view == "mine":
            rows = await asyncio.to_thread(tickets.queue, states=("claimed",), owner=actor(account, handoff.directory),
                                           where=where)
        elif view == "closed":
            rows = await asyncio.to_thread(tickets.queue, states=("closed",), limit=100, where=where)
            rows = sorted(rows, key=lambda t: t.id, reverse=True)
        else:
            view = "open"
            rows = await asyncio.to_thread(tickets.queue, states=("open", "callback", "claimed"), where=where)
        unknown = unknown_places(account, handoff.directory) if account.role == "adviser" else []
        notes = [*handoff.directory.notes(),
                 *([f"服务目录里找不到您负责的：{'、'.join(unknown)}（请管理员改成目录里的村、乡镇名称或代码）"]
                   if unknown else [])]
        alerts = await asyncio.to_thread(last_alerts, sessions, [t.id for t in rows])
        aid = await asyncio.to_thread(legal_aid_codes, sessions, [t.id for t in rows])
        views = [_view(handoff, t, legal_aid_view(aid.get(t.id), eligibility)) for t in rows]
        return page(request, "cases.html", {"title": "案件", "view": view, "notes": notes, "rows": views,
                                            "alerts": alerts,
                                            "after": await asyncio.to_thread(last_event_id, sessions),
                                            "flash": request.query_params.get("flash", "")[:100]})

    async def case_page(request: Request, ticket: Ticket, *, reveal: bool = False) -> Response:
        """The case as this account may read it (``bot.console.access.disclosure``: masked unless revealed)."""
        account = current_account(request)
        d = handoff.directory
        level = disclosure(account, ticket, d, reveal=reveal)

        def shown(text: str | None) -> str:
            return mask_personal_data(text, level)

        said = []
        source = handoff.desk.transcript
        if source is not None:
            said = [line for line in await asyncio.to_thread(source.recent, ticket.conversation_key, 60) if line.text]
        transcript = [replace(line, text=shown(line.text)) for line in said]
        who = {"resident": "居民", "bot": "机器人", "system": "系统"}
        events = [(_local(handoff, e.at), EVENT_NAMES.get(e.kind, e.kind), who.get(e.actor) or _name(handoff, e.actor),
                   shown(e.text)) for e in ticket.events if e.kind not in ("card_queued", "template_queued")]
        mine = handles(account, ticket, d)
        advisers = [p for p in d.people.values() if p.role == "village_adviser"]
        triage = next((e.data.get("triage") for e in reversed(ticket.events)
                       if isinstance(e.data, dict) and isinstance(e.data.get("triage"), dict)), None)
        lines = [(line, _local(handoff, line.at)) for line in transcript]
        aid = legal_aid_view(codes_of(ticket), eligibility)
        given = await asyncio.to_thread(eligibility.contact, aid["code"]) if eligibility and aid.get("code") else None
        contact = {"name": given.name, "phone": shown(given.phone)} if given is not None else None
        alerts = await asyncio.to_thread(last_alerts, sessions, [ticket.id])
        return page(request, "case.html", {
            "triage": _triage_view(triage, handoff), "said": _short_lines(said, shown),
            "danger_kinds": handoff.desk.triage.signals.labels(),
            "title": f"案件 #{ticket.id}", **_view(handoff, ticket, aid), "events": events, "mine": mine,
            "earlier": lines[:-LATEST_LINES], "latest": lines[-LATEST_LINES:], "canned": canned,
            "after": await asyncio.to_thread(last_event_id, sessions), "alert": alerts.get(ticket.id, 0),
            "outcomes": OUTCOMES, "targets": {t: handoff.texts.targets.get(t, t) for t in TARGETS},
            "advisers": advisers, "flash": request.query_params.get("flash", "")[:100],
            "summary": shown(ticket.summary), "outcome_note": shown(ticket.outcome_note),
            "callback_phone": shown(ticket.callback_phone), "revealed": level == "whole", "contact": contact,
        })

    @require_role(*CASE_ROLES)
    async def case(request: Request) -> Response:
        ticket = await visible_ticket(request, int(request.path_params["ticket_id"]))
        if ticket is None:
            return error_page(request, 404, "没有这个案件。")
        return await case_page(request, ticket)

    @require_role(*CASE_ROLES)
    async def reveal(request: Request) -> Response:
        """显示完整号码: the page with whole numbers, for the person handling the case only; audited."""
        ticket_id = int(request.path_params["ticket_id"])
        account = current_account(request)
        ticket = await visible_ticket(request, ticket_id)
        if ticket is None:
            return error_page(request, 404, "没有这个案件。")
        if not handles(account, ticket, handoff.directory):
            return error_page(request, 403, "只有正在办理这个案件的人才能查看完整号码：请先认领。")
        with transaction(request) as session:
            audit(session, account, "case.reveal", f"ticket:{ticket_id}",
                  {"callback_phone": bool(ticket.callback_phone), "legal_aid_contact": ticket.reason == REASON})
        return await case_page(request, ticket, reveal=True)

    @require_role(*CASE_ROLES)
    async def act(request: Request) -> Response:
        ticket_id = int(request.path_params["ticket_id"])
        action = request.path_params["action"]
        account = current_account(request)
        person = actor(account, handoff.directory)
        form = form_data(request)
        ticket = await visible_ticket(request, ticket_id)  # before anything else: not theirs is not there
        if ticket is None:
            return error_page(request, 404, "没有这个案件。")

        def field(name: str, limit: int = 2000) -> str:
            value = form.get(name)
            return value.strip()[:limit] if isinstance(value, str) else ""

        data: dict[str, Any]
        try:
            if action == "claim":
                await asyncio.to_thread(tickets.claim, ticket_id, person)
                flash, data = "已认领", {}
            elif action == "reply":
                text = field("text", 5000) or _canned(canned, field("canned"))
                await asyncio.to_thread(tickets.reply, ticket_id, person, text)
                flash, data = "已发送给居民", {"chars": len(text)}
            elif action == "transfer":
                target = field("target", 20)
                to_person = field("to_person", 60) or None
                await asyncio.to_thread(tickets.transfer, ticket_id, person, target, to_person=to_person,
                                        note=field("note"))
                flash, data = "已转办", {"target": target, "to": to_person}
            elif action == "close":
                if ticket.state in ("open", "callback"):  # nobody has taken it up: nobody may close it yet
                    return error_page(request, 409, _calm("claim before closing"))
                outcome = field("outcome", 40)
                await asyncio.to_thread(tickets.close, ticket_id, person, outcome, field("note"))
                flash, data = "已办结", {"outcome": outcome}
            elif action == "report_danger":
                said = await asyncio.to_thread(_resident_lines, handoff, ticket.conversation_key)
                chosen, kind = field("message", 20), field("kind", 40)
                found = [text for text in said if _line_key(text) == chosen]
                if not found or kind not in DANGER_KINDS:
                    return error_page(request, 400, "请选出居民的那句话和危险的种类。")
                with transaction(request) as session:
                    draft = report_missed_danger(session, account, context(request).settings.danger_dir, found[0],
                                                 kind, ticket_id)
                flash, data = "已提交审核：审核员通过后，这句话会成为危险识别的训练例句", {"kind": kind,
                                                                                 "draft": draft.id}
            else:
                return error_page(request, 404, "没有这个操作。")
        except TicketNotFound:
            return error_page(request, 404, "没有这个案件。")
        except TicketError as exc:
            return error_page(request, 409, _calm(exc.reason))
        except DraftError as exc:
            return error_page(request, 409, str(exc))
        with transaction(request) as session:
            audit(session, account, f"case.{action}", f"ticket:{ticket_id}", data)
        if action == "transfer" and await visible_ticket(request, ticket_id) is None:  # handed out of their reach
            return RedirectResponse(f"/console/cases?flash={flash}", status_code=303)
        return RedirectResponse(f"/console/cases/{ticket_id}?flash={flash}", status_code=303)

    @require_role(*CASE_ROLES)
    async def queue_events(request: Request) -> Response:
        """New cases and changes of the cases this account may see, live (``bot.live``, ``live_cases``)."""
        return await listen(request, None)

    @require_role(*CASE_ROLES)
    async def case_events(request: Request) -> Response:
        """What happens to one case while its page is open; 404 like the page when it is not theirs."""
        ticket = await visible_ticket(request, int(request.path_params["ticket_id"]))
        if ticket is None:
            return error_page(request, 404, "没有这个案件。")
        return await listen(request, ticket.id)

    async def listen(request: Request, ticket_id: int | None) -> Response:
        after = cursor(request)
        if after is None:
            return error_page(request, 400, "页面的刷新位置不对，请重新打开页面。")
        where = visible(request)

        async def take(since: int) -> list[Event]:
            return await asyncio.to_thread(events_after, sessions, where, since, ticket_id)

        return await live_response(request, take, after, poll=POLL_SECONDS)

    return [
        Route("/cases", queue, name="console_cases"),
        Route("/cases/events", queue_events, name="console_cases_events"),
        Route("/cases/{ticket_id:int}/events", case_events, name="console_case_events"),
        Route("/cases/{ticket_id:int}", case, name="console_case_ticket"),
        Route("/cases/{ticket_id:int}/reveal", reveal, methods=["POST"], name="console_case_reveal"),
        Route("/cases/{ticket_id:int}/{action}", act, methods=["POST"], name="console_case_action"),
    ]


def _resident_lines(handoff: HandoffService, key: str) -> list[str]:
    """What the resident wrote, oldest first (the same lines the case page lists for a report)."""
    source = handoff.desk.transcript
    lines = source.recent(key, 60) if source is not None else []
    return [line.text for line in lines if line.direction == "in"]


def _line_key(text: str) -> str:
    """A resident's line as a form value that stays the same when newer messages arrive."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _short_lines(transcript: list[Any], shown: Callable[[str], str]) -> list[tuple[str, str]]:
    """The resident's lines to choose from: keyed by the whole line, shown as the page may show it."""
    return [(_line_key(line.text), shown(line.text)[:40] + ("…" if len(shown(line.text)) > 40 else ""))
            for line in transcript if line.direction == "in"]


def _triage_view(evidence: dict[str, Any] | None, handoff: HandoffService) -> str:
    """Which pattern or model score made triage call it danger, in words an adviser reads."""
    if not evidence:
        return ""
    labels = handoff.desk.triage.signals.labels()
    kinds = "、".join(labels.get(str(k), str(k)) for k in evidence.get("kinds") or [])
    if evidence.get("rule"):
        return f"{kinds}：规则 {evidence['rule']} 命中"
    return f"{kinds}：模型判断（分数 {evidence.get('score')}，报警线 {evidence.get('threshold')}）"


def _canned(canned: list[Any], index: str) -> str:
    if index.isdigit() and int(index) < len(canned):
        return str(canned[int(index)].text)
    return ""


def _calm(reason: str) -> str:
    """A ticket error as a short Chinese sentence for the page."""
    if "claim before closing" in reason:
        return "这个案件还没有人认领，不能办结：请先认领，和居民联系后再办结。"
    if "claim the case first" in reason:
        return "请先认领这个案件，再回复、转办或办结。"
    if "already" in reason or "someone else" in reason:
        return "这个案件已经有人在处理，或者已经办结了。请回到案件列表刷新。"
    if "empty reply" in reason:
        return "回复不能是空的：请写几句话，或选一条常用回复。"
    if "longer than" in reason:
        return "回复太长了，请分几次发送（每次不超过 600 字）。"
    return "这个操作做不了，请检查填写的内容后再试。"
