"""The retention purge: what is older than ``LAWLINE_RETENTION_DAYS`` is erased (个人信息保护法 第十九条、第四十七条).

Personal information is kept no longer than its purpose needs; then it is deleted or anonymised. Each day
(``bot.privacy.worker``) or on ``lawline privacy purge``, with the cutoff ``now − retention_days``:

- messages written before the cutoff are erased — unless a person is handling a case of that
  conversation now (the case page shows its transcript);
- closed tickets closed before the cutoff are erased, their history deleted (``bot.privacy.erasure``);
- conversations not seen since the cutoff, with no ticket still kept, lose their resident's identity;
- deliveries, robot messages, ratings' comments (``handoff_feedback``) and inbox rows older than the cutoff
  are deleted, as are profiles of residents whose conversation is gone, and the channels' expired state
  (``channel_kv``: mini-program sessions, passive replies — unreadable once expired, but still on disk);
- legal-aid pre-applications are deleted and decisions lose their answers;
- Rasa's tracker events older than the cutoff are deleted (``nlu.trackers``; a dialogue in progress keeps
  its current session).

What stays is what the analytics count, so their figures do not change. Kept as they are: the console's
audit log (accountability; it holds no resident data by rule), the editors' judged questions (masked when
they were made) and the answer ratings (a number and a time). A dry run counts the same rows and rolls back.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from bot.console.auth import audit, utcnow
from bot.eligibility.models import EligibilityDecision, PreApplication
from bot.models import Conversation, Message
from bot.privacy.erasure import (
    ERASED_TICKET_KEY,
    erase_conversation,
    erase_decisions,
    erase_messages,
    erase_pre_applications,
    erase_ticket,
    has_inbox,
)
from channels.storage import channel_inbox, channel_kv
from handoff.models import Delivery, Feedback, OutboxMessage, ResidentProfile, Ticket
from handoff.tickets import ACTIVE
from nlu.errors import TrackerStoreUnavailable
from nlu.layout import RasaLayout
from nlu.trackers import TrackerStore, tracker_url

if TYPE_CHECKING:
    from bot.settings import Settings

__all__ = ["PurgeReport", "purge", "rasa_tracker"]

log = logging.getLogger(__name__)


def rasa_tracker(settings: Settings) -> TrackerStore:
    """Rasa's tracker store as ``lawline serve`` starts Rasa with it (``LAWLINE_RASA_TRACKER_*``, else SQLite)."""
    return TrackerStore(tracker_url(RasaLayout.default(settings.var_dir)))


@dataclass
class PurgeReport:
    """What a purge erased (or, in a dry run, would erase), by record; ``tracker`` says what Rasa's store did."""

    cutoff: dt.datetime
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)
    tracker: str = "not configured"
    tracker_failed: bool = False

    def lines(self) -> list[str]:
        verb = "would erase" if self.dry_run else "erased"
        return [f"retention cutoff {self.cutoff.isoformat(timespec='seconds')} ({verb}):",
                *(f"  {name}: {count}" for name, count in self.counts.items()), f"  rasa tracker: {self.tracker}"]


def _count_delete(session: Session, model: Any, where: ColumnElement[bool]) -> int:
    count = int(session.scalar(select(func.count()).select_from(model).where(where)) or 0)
    if count:
        session.execute(delete(model).where(where))
    return count


def _erase_old(session: Session, cutoff: dt.datetime, now: dt.datetime, handoff_text: str) -> dict[str, int]:
    """Every database step of the purge, in order (tickets before the conversations they keep alive)."""
    counts: dict[str, int] = {}
    handled = select(Conversation.id).join(Ticket, Ticket.conversation_key == Conversation.key).where(
        Ticket.state.in_(ACTIVE))
    old_messages = (Message.created_at < cutoff) & Message.conversation_id.not_in(handled)
    counts["messages"] = erase_messages(session, old_messages, handoff_text)
    closed = select(Ticket.id).where(Ticket.state == "closed", Ticket.conversation_key != ERASED_TICKET_KEY,
                                     func.coalesce(Ticket.closed_at, Ticket.updated_at) < cutoff)
    counts["closed tickets"] = sum(erase_ticket(session, ticket_id) for ticket_id in session.scalars(closed).all())
    kept = select(Ticket.conversation_key).where(Ticket.conversation_key != ERASED_TICKET_KEY)
    idle = select(Conversation).where(Conversation.last_seen_at < cutoff, Conversation.key.not_like("erased:%"),
                                      Conversation.key.not_in(kept))
    counts["conversations"] = sum(erase_conversation(session, c) for c in session.scalars(idle).all())
    orphan = (ResidentProfile.updated_at < cutoff) & ResidentProfile.conversation_key.not_in(
        select(Conversation.key)) & ResidentProfile.conversation_key.not_in(kept)
    counts["profiles"] = _count_delete(session, ResidentProfile, orphan)
    active_tickets = select(Ticket.id).where(Ticket.state.in_(ACTIVE))
    counts["deliveries"] = _count_delete(session, Delivery, (Delivery.created_at < cutoff) & or_(
        Delivery.ticket_id.is_(None), Delivery.ticket_id.not_in(active_tickets)))
    counts["robot messages"] = _count_delete(session, OutboxMessage, (OutboxMessage.created_at < cutoff) & or_(
        OutboxMessage.ticket_id.is_(None), OutboxMessage.ticket_id.not_in(active_tickets)))
    counts["ratings and complaints"] = _count_delete(session, Feedback, Feedback.created_at < cutoff)
    if has_inbox(session):
        counts["inbox"] = _count_delete(session, channel_inbox, channel_inbox.c.created_at < cutoff)
    counts["expired channel state"] = _count_delete(session, channel_kv, channel_kv.c.expires_at <= now)
    old_applications = session.scalars(select(PreApplication.id).where(PreApplication.created_at < cutoff)).all()
    counts["pre-applications"] = erase_pre_applications(session, old_applications)
    counts["legal-aid checks"] = erase_decisions(session, EligibilityDecision.created_at < cutoff)
    return counts


def purge(sessions: sessionmaker[Session], *, days: int, handoff_text: str, tracker: TrackerStore | None = None,
          now: dt.datetime | None = None, dry_run: bool = False, actor: str = "cli") -> PurgeReport:
    """Erase what is older than ``days`` (see the module docstring); audited as ``privacy.purge``.

    The database and Rasa's store are separate transactions: the database first, so a store that cannot
    be reached leaves the report saying so (``tracker_failed``) and the next run does the rest.
    """
    now = now or utcnow()
    cutoff = now - dt.timedelta(days=days)
    report = PurgeReport(cutoff, dry_run)
    with sessions() as session:
        report.counts = _erase_old(session, cutoff, now, handoff_text)
        if dry_run:
            session.rollback()
        else:
            audit(session, None, "privacy.purge", f"before:{cutoff.date().isoformat()}",
                  {"days": days, **report.counts}, username=actor)
            session.commit()
    if tracker is not None:
        try:
            if tracker.present():
                report.tracker = f"{tracker.purge_before(cutoff, dry_run=dry_run)} events"
            else:
                report.tracker = f"no tracker store at {tracker.shown_url} (nothing to purge)"
        except TrackerStoreUnavailable as exc:
            report.tracker, report.tracker_failed = f"FAILED: {exc}", True
            log.warning("privacy purge: Rasa's tracker store unavailable (%s)", exc.reason)
    log.info("privacy purge before %s%s: %s", cutoff.date(), " (dry run)" if dry_run else "", report.counts)
    return report
