"""What the adviser console's open pages are told live (issue #17): the ticket events after a cursor.

The queue and a case page listen through ``bot.live`` (server-sent events, a long poll as fallback) to
``GET /console/cases/events`` and ``GET /console/cases/{id}/events``. An event names only its id, ticket and
kind — never what the resident wrote — and the page then fetches itself again, so masking and the access rule
(``bot.console.access``) apply exactly as on a reload. Only events of tickets the account may see are read.

"Unread" is kept by the browser: a page knows, per case, the last event that asks for the adviser's attention
(``ALERT_KINDS``: a new case, a resident's message …) and marks the case until it is opened.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.live import Event
from handoff.models import Ticket, TicketEvent

__all__ = ["ALERT_KINDS", "QUIET_KINDS", "events_after", "last_alerts", "last_event_id"]

ALERT_KINDS = ("opened", "resident_message", "asked_again", "danger_again", "marked_urgent")
QUIET_KINDS = ("card_queued", "template_queued")  # the work group's and the adviser's own notices: no change
BATCH = 50


def last_event_id(sessions: sessionmaker[Session]) -> int:
    """Where a page rendered now starts listening (any ticket's: it is only a position)."""
    with sessions() as session:
        return int(session.scalar(select(func.max(TicketEvent.id))) or 0)


def events_after(sessions: sessionmaker[Session], where: ColumnElement[bool], after: int,
                 ticket_id: int | None = None) -> list[Event]:
    """The events after ``after`` of the tickets ``where`` selects (of one ticket when given), oldest first."""
    query = (select(TicketEvent.id, TicketEvent.ticket_id, TicketEvent.kind).join(Ticket)
             .where(where, TicketEvent.id > after, TicketEvent.kind.not_in(QUIET_KINDS))
             .order_by(TicketEvent.id).limit(BATCH))
    if ticket_id is not None:
        query = query.where(TicketEvent.ticket_id == ticket_id)
    with sessions() as session:
        rows = session.execute(query).all()
    return [(event_id, {"id": event_id, "ticket": ticket, "kind": kind, "alert": kind in ALERT_KINDS})
            for event_id, ticket, kind in rows]


def last_alerts(sessions: sessionmaker[Session], ticket_ids: Iterable[int]) -> dict[int, int]:
    """Per ticket, the id of its latest event that asks for attention (the page compares it with what was seen)."""
    ids = list(ticket_ids)
    if not ids:
        return {}
    with sessions() as session:
        rows = session.execute(select(TicketEvent.ticket_id, func.max(TicketEvent.id))
                               .where(TicketEvent.ticket_id.in_(ids), TicketEvent.kind.in_(ALERT_KINDS))
                               .group_by(TicketEvent.ticket_id)).all()
    return {int(ticket): int(event) for ticket, event in rows}
