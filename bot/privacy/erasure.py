"""How a record is erased — the same way for the retention purge and for a resident's request.

Erasing keeps what the analytics count and nothing that identifies a resident: anonymised rows are no
longer personal information (个人信息保护法 第七十三条（四）), and deleting them would change last year's
figures (``bot.console.analytics`` counts messages, ratings, tickets and checks row by row; no schema change
was needed for a separate counts table). What is kept, per record:

- a message: its row (time, direction, channel, engine) with ``text`` ``""`` and ``meta`` cut to
  ``ANALYTICS_META``; the bot's handoff notice, which the analytics recognise by its text, is remembered as
  ``meta["handoff"]`` first;
- a conversation: its row keyed ``erased:<id>``, with no openid, unionid or Rasa pseudonym; its
  ``ResidentProfile`` re-keyed with it, keeping only the village and the last topic (the 热点区域 table);
- a closed ticket: its row (times, deadlines, reason, topic, village, target, people, outcome, rating) with
  no summary, callback number, outcome note or openid, keyed ``erased``; its events, deliveries, robot
  messages and feedback are deleted;
- a legal-aid check: the pre-application is deleted; the decision keeps its outcome, means test, matter,
  province, rules version and basis, without the answers (``input``) or the explanation.

Every function works in the caller's transaction and returns how many rows it changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, inspect, select, update
from sqlalchemy.orm import Session

from bot.eligibility.models import EligibilityDecision, PreApplication
from bot.models import Conversation, Message
from channels.storage import channel_inbox
from handoff.models import Delivery, Feedback, OutboxMessage, ResidentProfile, Ticket, TicketEvent

__all__ = ["ANALYTICS_META", "ERASED_TICKET_KEY", "chunks", "erase_conversation", "erase_decisions",
           "erase_messages", "erase_pre_applications", "erase_ticket", "erased_key", "has_inbox"]

# What the analytics and the feedback queue read from an answer's meta (topic, certainty, handoff …).
ANALYTICS_META = frozenset({"topic", "card", "citations", "confident", "confidence", "handoff", "ticket", "feedback"})
ERASED_TICKET_KEY = "erased"
CHUNK = 500


def erased_key(conversation_id: int) -> str:
    """The key an erased conversation keeps (unique, and no resident's identity)."""
    return f"erased:{conversation_id}"


def chunks(values: Iterable[int]) -> list[list[int]]:
    """``values`` in lists short enough for an ``IN (…)`` on every database."""
    items = list(dict.fromkeys(values))
    return [items[i:i + CHUNK] for i in range(0, len(items), CHUNK)]


def has_inbox(session: Session) -> bool:
    """Whether ``channel_inbox`` exists (migration 0008)."""
    return inspect(session.connection()).has_table(channel_inbox.name)


def _kept_meta(meta: dict[str, Any] | None, text: str, handoff_text: str) -> dict[str, Any]:
    kept = {k: v for k, v in (meta or {}).items() if k in ANALYTICS_META}
    if handoff_text and text.strip() == handoff_text.strip():
        kept.setdefault("handoff", True)
    return kept


def erase_messages(session: Session, where: ColumnElement[bool], handoff_text: str) -> int:
    """Blank the messages ``where`` selects (``""`` marks one as erased, so a second run skips it)."""
    rows = session.execute(select(Message.id, Message.text, Message.meta).where(where, Message.text != "")).all()
    for start in range(0, len(rows), CHUNK):
        batch = rows[start:start + CHUNK]
        session.execute(update(Message), [{"id": row_id, "text": "", "meta": _kept_meta(meta, text, handoff_text)}
                                          for row_id, text, meta in batch])
    return len(rows)


def erase_conversation(session: Session, conversation: Conversation) -> int:
    """Unlink a conversation from its resident (its messages are erased separately); 1 if it changed."""
    old, new = conversation.key, erased_key(conversation.id)
    if old == new:
        return 0
    session.execute(update(ResidentProfile).where(ResidentProfile.conversation_key == old).values(
        conversation_key=new, openid=None, pending=None, pending_data={}, pending_until=None, last_inbound_at=None,
        sent_since_inbound=0, safety_check_until=None, safety_check_kinds=None))
    session.execute(delete(Delivery).where(Delivery.conversation_key == old))
    session.execute(delete(Feedback).where(Feedback.conversation_key == old))
    if conversation.openid and has_inbox(session):
        session.execute(delete(channel_inbox).where(channel_inbox.c.openid == conversation.openid))
    conversation.key, conversation.openid, conversation.unionid, conversation.sender = new, None, None, None
    session.flush()
    return 1


def erase_ticket(session: Session, ticket_id: int) -> int:
    """Keep a closed ticket's figures, drop everything about the resident and what was said; 1 if it changed."""
    changed = session.execute(update(Ticket).where(Ticket.id == ticket_id).values(
        summary="", openid=None, callback_phone=None, outcome_note=None, conversation_key=ERASED_TICKET_KEY))
    for model in (TicketEvent, Delivery, OutboxMessage, Feedback):
        session.execute(delete(model).where(model.ticket_id == ticket_id))
    return 1 if getattr(changed, "rowcount", 0) else 0


def erase_decisions(session: Session, where: ColumnElement[bool]) -> int:
    """Drop the answers and the explanation of the decisions ``where`` selects (``""`` marks one as erased)."""
    ids = list(session.scalars(select(EligibilityDecision.id).where(where, EligibilityDecision.explanation != "")))
    for chunk in chunks(ids):
        session.execute(update(EligibilityDecision).where(EligibilityDecision.id.in_(chunk))
                        .values(input={}, explanation=""))
    return len(ids)


def erase_pre_applications(session: Session, ids: Sequence[int]) -> int:
    """Delete pre-applications and erase the decisions behind them."""
    decisions: list[int] = []
    for chunk in chunks(ids):
        decisions += session.scalars(select(PreApplication.decision_id).where(PreApplication.id.in_(chunk)))
        session.execute(delete(PreApplication).where(PreApplication.id.in_(chunk)))
    for chunk in chunks(decisions):
        erase_decisions(session, EligibilityDecision.id.in_(chunk))
    return len(set(ids))
