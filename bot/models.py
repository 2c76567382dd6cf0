"""Conversation records: who wrote, what they wrote and what Lawline answered (and how).

Kept so that nothing a resident sends is lost (a reply can be re-sent, a person can read the transcript)
and for the editors' feedback loop. Message text lives here, never in logs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = ["BotBase", "Conversation", "Message"]


class BotBase(DeclarativeBase):
    """Declarative base of the bot's own tables."""


class Conversation(BotBase):
    """One resident across channels: keyed by UnionID when WeChat gives one, else by channel identity."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    # The pseudonym Rasa and the custom actions know the resident by (``bot.conversation.sender_id``).
    sender: Mapped[str | None] = mapped_column(String(32), index=True)
    channel: Mapped[str] = mapped_column(String(30))
    openid: Mapped[str | None] = mapped_column(String(100))
    unionid: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    messages: Mapped[list[Message]] = relationship(back_populates="conversation", order_by="Message.id")


class Message(BotBase):
    """A message in (from the resident) or out (from Lawline), with what produced it."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    channel: Mapped[str] = mapped_column(String(30))
    text: Mapped[str] = mapped_column(Text)
    engine: Mapped[str | None] = mapped_column(String(20))  # "rasa" | "retrieval" | "channel"
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


# The console's tables (issue #6) share this base; importing them here keeps Alembic and the models in step.
from bot.console import models as _console_models  # noqa: E402,F401

# The eligibility check's tables (issue #4) share this base too.
from bot.eligibility import models as _eligibility_models  # noqa: E402,F401
