"""Tables of the handoff package (its own declarative base; Alembic sees it through bot/migrations/env.py).

Conversations are referenced by their key (``conversation_key``, the bot's ``conversations.key``), never
by a foreign key across packages. Times are stored in UTC.

- ``handoff_tickets``: one escalation, its state, owner, deadlines and outcome.
- ``handoff_ticket_events``: the full history of a ticket (who did what, when; staff replies and the
  resident's messages while a person handles the case).
- ``handoff_outbox``: messages to WeChat Work group robots, kept until sent (never dropped).
- ``handoff_deliveries``: a person's replies to the resident, kept until WeChat took them.
- ``handoff_residents``: per resident: the remembered village, the channel to reach them, the
  customer-service window (last message, messages sent since), and what the bot asked them last.
- ``handoff_feedback``: ratings after closing, complaints and suggestions.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = ["Delivery", "Feedback", "HandoffBase", "OutboxMessage", "ResidentProfile", "Ticket", "TicketEvent"]


class HandoffBase(DeclarativeBase):
    """Declarative base of the handoff tables."""


class Ticket(HandoffBase):
    """An escalation to a person.

    States: ``open`` (waiting for someone), ``claimed``, ``callback`` (a callback is booked; the bot
    answers meanwhile), ``closed``.
    """

    __tablename__ = "handoff_tickets"
    __table_args__ = (Index("ix_handoff_tickets_state_created", "state", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_key: Mapped[str] = mapped_column(String(200), index=True)
    channel: Mapped[str | None] = mapped_column(String(30))
    openid: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(40))
    topic: Mapped[str | None] = mapped_column(String(20))
    summary: Mapped[str] = mapped_column(Text, default="")
    answered: Mapped[list[Any]] = mapped_column(JSON, default=list)  # citations the bot already gave
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    danger: Mapped[str | None] = mapped_column(String(100))
    village: Mapped[str | None] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(String(20))  # adviser | hotline | legal_aid | mediation
    group_id: Mapped[str | None] = mapped_column(String(60))
    assignee: Mapped[str | None] = mapped_column(String(60))  # suggested person (routing)
    owner: Mapped[str | None] = mapped_column(String(60))  # who claimed it
    state: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    first_response_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    first_response_due: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    resolution_due: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    reminded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    escalated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    resident_waiting_since: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    callback_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    callback_phone: Mapped[str | None] = mapped_column(String(30))
    outcome: Mapped[str | None] = mapped_column(String(40))
    outcome_note: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None] = mapped_column(Integer)

    events: Mapped[list[TicketEvent]] = relationship(back_populates="ticket", order_by="TicketEvent.id")


class TicketEvent(HandoffBase):
    """One thing that happened to a ticket; ``actor`` is ``resident``, ``bot``, ``system`` or a person id."""

    __tablename__ = "handoff_ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("handoff_tickets.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(30))
    actor: Mapped[str] = mapped_column(String(60))
    text: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class OutboxMessage(HandoffBase):
    """A message for a group robot; ``state`` ``pending`` until WeChat Work accepted it, then ``sent``."""

    __tablename__ = "handoff_outbox"
    __table_args__ = (
        Index("ix_handoff_outbox_state_due", "state", "next_attempt_at"),
        Index("ix_handoff_outbox_group_sent", "group_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[str] = mapped_column(String(60))
    ticket_id: Mapped[int | None] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(20))  # card | reminder | escalation | note | template
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(10), default="pending")  # pending | sent | failed (templates only)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(200))


class Delivery(HandoffBase):
    """One message for the resident: a person's reply, a notice, or a part of the bot's answer.

    ``pending`` → ``sent``, or ``held`` until they write. A part of an answer starts ``awaiting``: its channel
    may take it as the passive reply until ``next_attempt_at``, then the worker pushes it. ``message_key``
    names the resident's message the answer is for; ``counted``: it used one of WeChat's 5 messages already
    (counted once, even when a timeout made its delivery unknown and it was sent again).
    """

    __tablename__ = "handoff_deliveries"
    __table_args__ = (Index("ix_handoff_deliveries_key_state", "conversation_key", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(Integer, index=True)
    conversation_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # reply | notice | system | answer
    message_key: Mapped[str | None] = mapped_column(String(200), index=True)
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    via: Mapped[str | None] = mapped_column(String(20))  # customer_service | passive | live (an open web chat)
    counted: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str | None] = mapped_column(String(200))


class ResidentProfile(HandoffBase):
    """What the handoff side remembers about a resident (keyed like the bot's conversations)."""

    __tablename__ = "handoff_residents"

    conversation_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    channel: Mapped[str | None] = mapped_column(String(30))
    openid: Mapped[str | None] = mapped_column(String(100))
    village: Mapped[str | None] = mapped_column(String(60))
    last_topic: Mapped[str | None] = mapped_column(String(20))
    last_inbound_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    sent_since_inbound: Mapped[int] = mapped_column(Integer, default=0)
    pending: Mapped[str | None] = mapped_column(String(30))  # what the bot asked and waits for
    pending_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    pending_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # The safety check was shown (issue #14): until then it is not shown again and 危险 answers it, whatever
    # question is pending; the kinds the model thought likely go on the urgent ticket if 危险 comes.
    safety_check_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    safety_check_kinds: Mapped[list[str] | None] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Feedback(HandoffBase):
    """A rating (1–5 and a comment) after a ticket closed, or a complaint or suggestion at any time."""

    __tablename__ = "handoff_feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_key: Mapped[str] = mapped_column(String(200), index=True)
    ticket_id: Mapped[int | None] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(20))  # rating | complaint | suggestion
    score: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    handled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
