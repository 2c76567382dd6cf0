"""Tickets: an escalation's life from opening to the resident's rating, with its full history.

States: ``open`` (waiting for a person) → ``claimed`` (a person handles it; the bot stays out) →
``closed`` (with an outcome). ``callback``: nobody is on duty or the resident waited too long; a callback
is booked into the next duty period and the bot answers meanwhile. Every change is one transaction that
also writes its event and whatever must reach people (robot cards in the outbox, replies in the
deliveries), so a crash at any point leaves either all of it or none of it.

Deadlines are counted in duty time (``handoff.calendar``): first response and resolution, from the
directory's ``policy``; urgent tickets get a short wall-clock first-response deadline. ``sweep`` sends
reminders to the group before the first-response deadline, escalates to the supervisor after it and
after the resolution deadline, and turns a resident's long wait into an apology and a booked callback.

Public entry point for other packages: ``TicketService.open(conversation_key, reason=..., ...)``.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, case, select, update
from sqlalchemy.orm import Session, selectinload, sessionmaker

from handoff._db import rowcount
from handoff.calendar import add_duty_minutes, duty_minutes_between, is_on_duty, next_duty_start
from handoff.cards import card_markdown, note_markdown, template_values
from handoff.delivery import enqueue_delivery
from handoff.directory import Directory
from handoff.errors import TicketConflict, TicketError, TicketNotFound
from handoff.models import Ticket, TicketEvent
from handoff.ports import aware
from handoff.residents import profile, set_pending
from handoff.robot import enqueue_robot_message, enqueue_template_message
from handoff.routing import Route, Router, supervisor_group
from handoff.texts import HandoffTexts

__all__ = ["ACTIVE", "OUTCOMES", "REASONS_ALLOWED", "TARGETS", "Opened", "SweepReport", "TicketService"]

log = logging.getLogger(__name__)

ACTIVE = ("open", "claimed", "callback")
TARGETS = ("adviser", "hotline", "legal_aid", "mediation")
REASONS_ALLOWED = ("requested", "not_understood", "beyond_self_help", "legal_aid_pre_application", "danger",
                   "timeout_callback")
OUTCOMES = {
    "resolved": "已解答",
    "referred": "已引导办理",
    "legal_aid": "转法律援助",
    "mediation": "转人民调解",
    "no_contact": "联系不上居民",
    "ended_by_resident": "居民结束人工",
    "duplicate": "重复案件",
}
MAX_REPLY_CHARS = 600
# One WeChat text message carries 2,048 bytes; a reply and its signature stay in one, so a failed send is resent
# whole, never from the middle (600 Chinese characters are 1,800 bytes; emoji take 4 bytes each).
MAX_REPLY_BYTES = 1900
MAX_SUMMARY_CHARS = 1000
_PHONE = re.compile(r"^1[3-9]\d{9}$")


@dataclass(frozen=True, slots=True)
class Opened:
    """The result of ``open``: the ticket, where it went, and whether it is new."""

    ticket: Ticket
    route: Route
    created: bool


@dataclass
class SweepReport:
    """Tickets each deadline rule acted on in one sweep."""

    reminded: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)
    overdue: list[int] = field(default_factory=list)
    timed_out: list[int] = field(default_factory=list)


def _event(session: Session, ticket: Ticket, kind: str, actor: str, now: dt.datetime, text: str | None = None,
           **data: Any) -> None:
    session.add(TicketEvent(ticket_id=ticket.id, at=now, kind=kind, actor=actor, text=text, data=data))
    ticket.updated_at = now


def _legal_aid_data(legal_aid: dict[str, Any] | None) -> dict[str, Any]:
    """The pre-application's summary for a ticket event, when the ticket came from one."""
    return {"legal_aid": legal_aid} if legal_aid else {}


class TicketService:
    """Opens, routes and moves tickets; cards and replies are queued in the same transactions."""

    def __init__(self, sessions: sessionmaker[Session], directory: Directory, texts: HandoffTexts, *,
                 clock: Callable[[], dt.datetime], link: Callable[[int], str | None] = lambda _id: None,
                 wake_robots: Callable[[], None] = lambda: None,
                 wake_deliveries: Callable[[], None] = lambda: None) -> None:
        self.sessions = sessions
        self.directory = directory
        self.router = Router(directory)
        self.texts = texts
        self.clock = clock
        self.link = link
        self._wake_robots = wake_robots
        self._wake_deliveries = wake_deliveries

    def wake(self) -> None:
        """Tell the robot and delivery workers that something new is queued."""
        self._wake_robots()
        self._wake_deliveries()

    # -- opening ---------------------------------------------------------------------------------------
    def open(self, conversation_key: str, *, reason: str, topic: str | None = None, summary: str = "",
             urgent: bool = False, danger: Iterable[str] = (), village: str | None = None,
             answered: Iterable[str] = (), channel: str | None = None, openid: str | None = None,
             evidence: dict[str, Any] | None = None, legal_aid: dict[str, Any] | None = None) -> Opened:
        """Open (or, when one is active, update) the resident's ticket, route it and queue its card.

        ``reason`` is one of ``REASONS_ALLOWED`` (e.g. ``legal_aid_pre_application``); ``village`` a place code
        (default: the one the resident gave before); ``summary`` what the staff should read first;
        ``evidence`` what made triage call it danger (the pattern or the model's score), kept on the ticket;
        ``legal_aid`` the codes of a legal-aid pre-application's check (matter, province, area, decision), kept
        on the opening event for the console to name.
        Danger on an active ticket alerts its group at once, every time (the person handling it must know).
        """
        if reason not in REASONS_ALLOWED:
            raise ValueError(f"unknown reason {reason!r}")
        now = self.clock()
        danger_text = "、".join(danger) or None
        with self.sessions.begin() as session:
            resident = profile(session, conversation_key, now)
            channel = channel or resident.channel
            openid = openid or resident.openid
            village = village if self.directory.place(village) else resident.village
            existing = self._active(session, conversation_key)
            if existing is not None:
                self._update_existing(session, existing, urgent, danger_text, summary, reason, now, evidence,
                                      legal_aid)
                route = Route(existing.target, existing.group_id, existing.assignee, existing.state != "callback",
                              existing.callback_at)
                result = Opened(existing, route, False)
            else:
                route = self.router.route(topic=topic, village=village, at=now, urgent=urgent)
                ticket = self._new(session, conversation_key, channel, openid, reason, topic, summary, urgent,
                                   danger_text, village, tuple(answered), route, now, evidence, legal_aid)
                result = Opened(ticket, route, True)
        self._wake_robots()
        log.info("ticket %d %s (%s, urgent=%s, target=%s)", result.ticket.id,
                 "opened" if result.created else "updated", reason, urgent, result.route.target)
        return result

    def _new(self, session: Session, key: str, channel: str | None, openid: str | None, reason: str,
             topic: str | None, summary: str, urgent: bool, danger: str | None, village: str | None,
             answered: tuple[str, ...], route: Route, now: dt.datetime,
             evidence: dict[str, Any] | None = None, legal_aid: dict[str, Any] | None = None) -> Ticket:
        schedule = self.router.schedule(route.target)
        policy = self.directory.policy
        if urgent:
            first_due: dt.datetime | None = now + dt.timedelta(minutes=policy.urgent_first_response_minutes)
        else:
            first_due = add_duty_minutes(schedule, now, policy.first_response_minutes)
        on_duty = route.on_duty or not route.configured
        ticket = Ticket(
            conversation_key=key, channel=channel, openid=openid, reason=reason, topic=topic,
            summary=summary[:MAX_SUMMARY_CHARS], answered=list(answered), urgent=urgent, danger=danger,
            village=village, target=route.target, group_id=route.group_id, assignee=route.assignee,
            state="open" if on_duty else "callback", created_at=now, updated_at=now, first_response_due=first_due,
            resolution_due=add_duty_minutes(schedule, now, policy.resolution_minutes),
            resident_waiting_since=now if route.on_duty and route.configured else None,
            callback_at=None if on_duty else route.next_duty,
        )
        session.add(ticket)
        session.flush()
        _event(session, ticket, "opened", "bot", now, reason=reason, target=route.target, group=route.group_id,
               urgent=urgent, danger=danger, on_duty=route.on_duty, triage=evidence, **_legal_aid_data(legal_aid))
        self._queue_card(session, ticket, (route.group_id, *route.copy_groups), now)
        return ticket

    def _update_existing(self, session: Session, ticket: Ticket, urgent: bool, danger: str | None, summary: str,
                         reason: str, now: dt.datetime, evidence: dict[str, Any] | None = None,
                         legal_aid: dict[str, Any] | None = None) -> None:
        _event(session, ticket, "asked_again", "bot", now, reason=reason, **_legal_aid_data(legal_aid))
        if summary and summary not in ticket.summary:
            ticket.summary = (ticket.summary + "\n" + summary).strip()[-MAX_SUMMARY_CHARS:]
        groups = tuple(dict.fromkeys(g for g in (ticket.group_id, self.directory.hotline_group) if g))
        if urgent and not ticket.urgent:
            ticket.urgent = True
            ticket.danger = danger
            ticket.first_response_due = now + dt.timedelta(minutes=self.directory.policy.urgent_first_response_minutes)
            _event(session, ticket, "marked_urgent", "bot", now, danger=danger,
                   triage=evidence)
            self._queue_card(session, ticket, groups, now)
        elif urgent:  # danger again on an urgent case: whoever handles it hears of it now, not at the next sweep
            if danger and danger not in (ticket.danger or ""):
                ticket.danger = "、".join(filter(None, [ticket.danger, danger]))[:100]
            _event(session, ticket, "danger_again", "bot", now, danger=danger,
                   triage=evidence)
            owner = self.directory.person(ticket.owner)
            detail = f"居民又发来危险信息（{danger or '紧急'}），请马上联系居民。"
            if owner is not None:
                detail = f"{owner.name}：{detail}"
            text = note_markdown("紧急：居民又发来危险信息", ticket, self.directory, self.link(ticket.id), detail)
            for group in groups:
                enqueue_robot_message(session, group, "note", text, ticket.id, now)

    def _queue_card(self, session: Session, ticket: Ticket, groups: tuple[str | None, ...], now: dt.datetime) -> None:
        text = card_markdown(ticket, self.directory, self.link(ticket.id))
        targets = tuple(dict.fromkeys(g for g in groups if g))
        for group in targets:
            enqueue_robot_message(session, group, "card", text, ticket.id, now)
            _event(session, ticket, "card_queued", "system", now, group=group)
        self._queue_templates(session, ticket, targets, now)

    def _queue_templates(self, session: Session, ticket: Ticket, groups: tuple[str, ...], now: dt.datetime) -> None:
        """The optional template message to advisers who follow the official account (directory: wechat_openid).

        The suggested adviser when they follow it; otherwise the followers among the groups' members.
        """
        template = self.directory.adviser_template
        if template is None:
            return
        assignee = self.directory.person(ticket.assignee)
        if assignee is not None and assignee.wechat_openid:
            people = [assignee]
        else:
            people = [p for p in self.directory.people.values() if p.wechat_openid and p.group in groups]
        values = template_values(ticket, self.directory)
        data = {name: values[value] for name, value in template.fields}
        for person in people:
            assert person.wechat_openid is not None
            enqueue_template_message(session, person.id, person.wechat_openid, template.template_id, data,
                                     self.link(ticket.id), ticket.id, now)
            _event(session, ticket, "template_queued", "system", now, person=person.id)

    # -- reading ---------------------------------------------------------------------------------------
    @staticmethod
    def _active(session: Session, key: str) -> Ticket | None:
        return session.scalar(select(Ticket).where(Ticket.conversation_key == key, Ticket.state.in_(ACTIVE))
                              .order_by(Ticket.id.desc()).limit(1))

    def active_for(self, conversation_key: str) -> Ticket | None:
        with self.sessions() as session:
            return self._active(session, conversation_key)

    def get(self, ticket_id: int, *, where: ColumnElement[bool] | None = None) -> Ticket:
        """The ticket with its events; not found also when it fails ``where`` (the caller's access rule)."""
        with self.sessions() as session:
            query = select(Ticket).where(Ticket.id == ticket_id).options(selectinload(Ticket.events))
            ticket = session.scalar(query if where is None else query.where(where))
            if ticket is None:
                raise TicketNotFound(ticket_id, "no such ticket")
            return ticket

    def queue(self, *, states: Iterable[str] = ACTIVE, owner: str | None = None, limit: int = 200,
              where: ColumnElement[bool] | None = None) -> list[Ticket]:
        """Tickets in ``states`` (and matching ``where``): urgent first, then by first-response deadline and age."""
        with self.sessions() as session:
            query = select(Ticket).where(Ticket.state.in_(tuple(states)))
            if where is not None:
                query = query.where(where)
            if owner is not None:
                query = query.where(Ticket.owner == owner)
            query = query.order_by(Ticket.urgent.desc(), case((Ticket.state == "claimed", 1), else_=0),
                                   Ticket.first_response_due.is_(None), Ticket.first_response_due, Ticket.id)
            return list(session.scalars(query.limit(limit)))

    # -- a person's work -------------------------------------------------------------------------------
    def _load(self, session: Session, ticket_id: int) -> Ticket:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            raise TicketNotFound(ticket_id, "no such ticket")
        return ticket

    def claim(self, ticket_id: int, person_id: str) -> Ticket:
        """Take the case; ``TicketConflict`` when someone else has it or it is closed."""
        now = self.clock()
        with self.sessions.begin() as session:
            taken = rowcount(session.execute(
                update(Ticket).where(Ticket.id == ticket_id, Ticket.state.in_(("open", "callback")))
                .values(state="claimed", owner=person_id, claimed_at=now, updated_at=now)
                .execution_options(synchronize_session=False)))
            ticket = self._load(session, ticket_id)
            if not taken:
                if ticket.state == "claimed" and ticket.owner == person_id:
                    return ticket
                who = " by someone else" if ticket.owner else ""
                raise TicketConflict(ticket_id, f"already {ticket.state}{who}")
            _event(session, ticket, "claimed", person_id, now)
        log.info("ticket %d claimed", ticket_id)
        return ticket

    def _owned(self, session: Session, ticket_id: int, person_id: str) -> Ticket:
        ticket = self._load(session, ticket_id)
        if ticket.state == "closed":
            raise TicketConflict(ticket_id, "closed")
        if ticket.state != "claimed" or ticket.owner != person_id:
            raise TicketConflict(ticket_id, "claim the case first")
        return ticket

    def reply(self, ticket_id: int, person_id: str, text: str) -> Ticket:
        """A person's reply to the resident: recorded and queued for delivery."""
        text = text.strip()
        if not text:
            raise TicketError(ticket_id, "empty reply")
        if len(text) > MAX_REPLY_CHARS:
            raise TicketError(ticket_id, f"reply longer than {MAX_REPLY_CHARS} characters")
        signed = self._signed(person_id, text)
        if len(signed.encode("utf-8")) > MAX_REPLY_BYTES:
            raise TicketError(ticket_id, f"reply longer than {MAX_REPLY_BYTES} bytes with its signature")
        now = self.clock()
        with self.sessions.begin() as session:
            ticket = self._owned(session, ticket_id, person_id)
            _event(session, ticket, "staff_reply", person_id, now, text)
            if ticket.first_response_at is None:
                ticket.first_response_at = now
            ticket.resident_waiting_since = None
            enqueue_delivery(session, ticket.conversation_key, ticket.id, "reply", signed, now)
        self._wake_deliveries()
        return ticket

    def _signed(self, person_id: str, text: str) -> str:
        person = self.directory.person(person_id)
        if person is None:
            return self.texts.format("staff_reply", role=self.texts.roles.get("staff", ""), name="", text=text)
        role = self.texts.roles.get(person.role, self.texts.roles.get("staff", ""))
        return self.directory.mark(self.texts.format("staff_reply", role=role, name=f" {person.name}", text=text))

    def transfer(self, ticket_id: int, person_id: str, target: str, *, to_person: str | None = None,
                 note: str = "") -> Ticket:
        """Hand the case to another adviser, the hotline, legal aid or mediation; it goes back to the queue."""
        if target not in TARGETS:
            raise TicketError(ticket_id, f"unknown target {target!r}")
        if target == "adviser" and self.directory.person(to_person) is None:
            raise TicketError(ticket_id, "choose the adviser to transfer to")
        now = self.clock()
        with self.sessions.begin() as session:
            ticket = self._owned(session, ticket_id, person_id)
            route = self.router.transfer_route(target, person=to_person, topic=ticket.topic, at=now)
            ticket.target, ticket.group_id, ticket.assignee = route.target, route.group_id, route.assignee
            ticket.owner, ticket.claimed_at = None, None
            ticket.state = "open" if route.on_duty or not route.configured else "callback"
            if ticket.state == "callback" and ticket.callback_at is None:
                ticket.callback_at = route.next_duty
            _event(session, ticket, "transferred", person_id, now, note[:500] or None, target=target, to=to_person,
                   group=route.group_id)
            notice = self.texts.format("transferred", target=self.texts.targets.get(target, target))
            point = self._point_for(target, ticket.village)
            if point:
                notice += "\n" + point
            enqueue_delivery(session, ticket.conversation_key, ticket.id, "system", notice, now)
            self._queue_card(session, ticket, (route.group_id,), now)
        self._wake_robots()
        self._wake_deliveries()
        return ticket

    def _point_for(self, target: str, village: str | None) -> str | None:
        kind = {"legal_aid": "legal_aid_centre", "mediation": "mediation_committee"}.get(target)
        if kind is None:
            return None
        points = self.directory.service_points(kind, near=village)
        if not points:
            return None
        p = points[0]
        parts = [p.name, f"地址：{p.address or '未配置'}", f"电话：{p.phone or '未配置'}"]
        return self.directory.mark("，".join(parts))

    def close(self, ticket_id: int, person_id: str, outcome: str, note: str = "") -> Ticket:
        """Close with an outcome; the resident is told and asked to rate the service."""
        if outcome not in OUTCOMES:
            raise TicketError(ticket_id, f"unknown outcome {outcome!r}")
        now = self.clock()
        with self.sessions.begin() as session:
            ticket = self._load(session, ticket_id)
            if ticket.state == "closed":
                raise TicketConflict(ticket_id, "already closed")
            if ticket.state == "claimed" and ticket.owner != person_id:
                raise TicketConflict(ticket_id, "someone else handles this case")
            self._close(session, ticket, person_id, outcome, note, now)
            asked = enqueue_delivery(session, ticket.conversation_key, ticket.id, "system",
                                     self.texts["closed_notice"] + "\n" + self.texts["rating_ask"], now)
            session.flush()
            # The answer to the rating question, once it reached the resident (handoff.desk checks the delivery).
            set_pending(profile(session, ticket.conversation_key, now), "rating",
                        {"ticket": ticket.id, "delivery": asked.id}, now, dt.timedelta(days=7))
        self._wake_deliveries()
        return ticket

    def _close(self, session: Session, ticket: Ticket, actor: str, outcome: str, note: str, now: dt.datetime) -> None:
        ticket.state, ticket.outcome, ticket.closed_at = "closed", outcome, now
        ticket.outcome_note = note[:2000] or None
        ticket.resident_waiting_since = None
        if ticket.owner is None and actor not in ("resident", "system"):
            ticket.owner = actor
        _event(session, ticket, "closed", actor, now, note[:2000] or None, outcome=outcome)

    # -- the resident's side ---------------------------------------------------------------------------
    def resident_message(self, conversation_key: str, text: str) -> Ticket | None:
        """Record the resident's message on their active ticket (if any); they are now waiting for a person."""
        now = self.clock()
        with self.sessions.begin() as session:
            ticket = self._active(session, conversation_key)
            if ticket is None:
                return None
            _event(session, ticket, "resident_message", "resident", now, text[:5000])
            if ticket.state != "callback" and ticket.resident_waiting_since is None:
                ticket.resident_waiting_since = now
            return ticket

    def end_by_resident(self, conversation_key: str) -> Ticket | None:
        """结束人工: close the resident's active ticket."""
        now = self.clock()
        with self.sessions.begin() as session:
            ticket = self._active(session, conversation_key)
            if ticket is None:
                return None
            self._close(session, ticket, "resident", "ended_by_resident", "", now)
            if ticket.group_id:
                enqueue_robot_message(session, ticket.group_id, "note",
                                      note_markdown("居民已结束人工服务", ticket, self.directory, self.link(ticket.id)),
                                      ticket.id, now)
        self._wake_robots()
        return ticket

    def book_callback(self, ticket_id: int, phone: str) -> Ticket:
        """The resident agreed to be called at ``phone`` (an 11-digit mobile number)."""
        if not _PHONE.match(phone):
            raise TicketError(ticket_id, "not a mobile number")
        now = self.clock()
        with self.sessions.begin() as session:
            ticket = self._load(session, ticket_id)
            ticket.callback_phone = phone
            if ticket.callback_at is None:
                schedule = self.router.schedule(ticket.target)
                ticket.callback_at = next_duty_start(schedule, now) or now
            _event(session, ticket, "callback_booked", "resident", now, when=ticket.callback_at.isoformat())
        return ticket

    def record_rating(self, ticket_id: int, score: int) -> None:
        now = self.clock()
        with self.sessions.begin() as session:
            ticket = self._load(session, ticket_id)
            ticket.rating = score
            _event(session, ticket, "rated", "resident", now, score=score)

    # -- deadlines -------------------------------------------------------------------------------------
    def sweep(self) -> SweepReport:
        """Reminders, escalations and resident timeouts that are due now (idempotent; run every minute)."""
        now = self.clock()
        report = SweepReport()
        policy = self.directory.policy
        with self.sessions.begin() as session:
            # Several app workers sweep on their own clocks: on PostgreSQL a ticket another worker is
            # sweeping right now is skipped (no second reminder); SQLite has one writer at a time anyway.
            tickets = session.scalars(
                select(Ticket).where(Ticket.state.in_(ACTIVE)).with_for_update(skip_locked=True)
            ).all()
            for ticket in tickets:
                self._sweep_one(session, ticket, now, policy.reminder_before_minutes, report)
        if report.reminded or report.escalated or report.timed_out or report.overdue:
            self._wake_robots()
            self._wake_deliveries()
        return report

    def _sweep_one(self, session: Session, ticket: Ticket, now: dt.datetime, before: float,
                   report: SweepReport) -> None:
        link = self.link(ticket.id)
        due = aware(ticket.first_response_due)
        if ticket.first_response_at is None and due is not None and ticket.state != "callback":
            if ticket.reminded_at is None and now >= due - dt.timedelta(minutes=before) and ticket.group_id:
                ticket.reminded_at = now
                note = note_markdown("即将超时，请尽快处理", ticket, self.directory, link)
                enqueue_robot_message(session, ticket.group_id, "reminder", note, ticket.id, now)
                _event(session, ticket, "reminded", "system", now)
                report.reminded.append(ticket.id)
            if ticket.escalated_at is None and now >= due:
                ticket.escalated_at = now
                self._to_supervisor(session, ticket, "首次回复已超时", link, now)
                _event(session, ticket, "escalated", "system", now, why="first_response")
                report.escalated.append(ticket.id)
        resolution = aware(ticket.resolution_due)
        if resolution is not None and now >= resolution and not any(
                e.kind == "resolution_overdue" for e in ticket.events):
            self._to_supervisor(session, ticket, "办理期限已到，尚未办结", link, now)
            _event(session, ticket, "resolution_overdue", "system", now)
            report.overdue.append(ticket.id)
        waiting = aware(ticket.resident_waiting_since)
        if ticket.state != "callback" and waiting is not None and ticket.group_id:
            schedule = self.router.schedule(ticket.target)
            if duty_minutes_between(schedule, waiting, now) >= self.directory.policy.resident_wait_minutes:
                self._time_out(session, ticket, now, link)
                report.timed_out.append(ticket.id)

    def _to_supervisor(self, session: Session, ticket: Ticket, title: str, link: str | None, now: dt.datetime) -> None:
        group = supervisor_group(self.directory)
        if group:
            enqueue_robot_message(session, group, "escalation", note_markdown(title, ticket, self.directory, link),
                                  ticket.id, now)

    def _time_out(self, session: Session, ticket: Ticket, now: dt.datetime, link: str | None) -> None:
        """The resident waited too long: apologise, book a callback, let the bot answer again."""
        schedule = self.router.schedule(ticket.target)
        ticket.state = "callback"
        ticket.resident_waiting_since = None
        ticket.callback_at = now if is_on_duty(schedule, now) else (next_duty_start(schedule, now) or now)
        _event(session, ticket, "timed_out", "system", now)
        when = self._local(ticket.callback_at)
        parts = [self.texts["timeout_apology"]]
        resident = profile(session, ticket.conversation_key, now)
        if ticket.callback_phone:
            parts.append(self.texts.format("timeout_callback_booked", when=when, phone=_mask(ticket.callback_phone)))
        else:
            parts.append(self.texts["timeout_ask_phone"])
            set_pending(resident, "ask_phone", {"ticket": ticket.id}, now)
        enqueue_delivery(session, ticket.conversation_key, ticket.id, "system", "\n".join(parts), now)
        if ticket.group_id:
            enqueue_robot_message(session, ticket.group_id, "note",
                                  note_markdown("居民等待超时，已改为预约回电", ticket, self.directory, link),
                                  ticket.id, now)

    def _local(self, value: dt.datetime | None) -> str:
        value = aware(value)
        if value is None:
            return "上班后"
        return value.astimezone(self.directory.calendar.tz).strftime("%m月%d日%H:%M")

    def local_time(self, value: dt.datetime | None) -> str:
        """A time as residents read it (``03月09日09:00``)."""
        return self._local(value)


def _mask(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:]


def mask_phone(phone: str) -> str:
    """``138****5678``."""
    return _mask(phone)
