"""Tables of the knowledge editors' console.

Accounts, sessions, login attempts, the audit log, corpus drafts (which are also the version history once
published), answer ratings, retrieval judgements and the hot-spot warnings already sent.

They live on ``bot.models.BotBase`` so that Alembic (``bot/migrations``, revision 0006) sees them with the
bot's other tables. Resident text never lands here unmasked: judgements keep the masked question.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from bot.models import BotBase

__all__ = [
    "AnswerRating",
    "AuditEntry",
    "ConsoleAccount",
    "ConsoleSession",
    "CorpusDraft",
    "HotSpotWarning",
    "LoginAttempt",
    "RetrievalJudgement",
]


class ConsoleAccount(BotBase):
    """A person who signs in to the console: an editor, reviewer, village legal adviser or administrator."""

    __tablename__ = "console_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(60))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    # Villages/towns an adviser serves (一村一法律顾问); advisers see only these.
    villages: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    password_changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ConsoleSession(BotBase):
    """A signed-in browser. Only a keyed hash of the cookie's token is stored."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("console_accounts.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


class LoginAttempt(BotBase):
    """One sign-in attempt, kept to throttle guessing (per user name and per address)."""

    __tablename__ = "console_login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(60), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    succeeded: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


class AuditEntry(BotBase):
    """Who did what to which thing, and when. Written in the same transaction as the action itself."""

    __tablename__ = "console_audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("console_accounts.id", ondelete="SET NULL"),
                                                   index=True)
    username: Mapped[str] = mapped_column(String(60))
    action: Mapped[str] = mapped_column(String(60), index=True)
    target: Mapped[str] = mapped_column(String(400))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


class CorpusDraft(BotBase):
    """A proposed change to the corpus: draft → submitted → published (or rejected / withdrawn).

    ``kind`` is ``article`` (text of one 条), ``law_dates`` (effective / repeal dates), ``card`` (an answer
    card) or ``statute_file`` (a new law or amendment uploaded as Markdown). ``target`` names the corpus
    file (and the article label). ``before`` is what the editor started from and ``after`` the proposal, both
    as readable text, so a published draft is also an entry of the version history with its diff.
    """

    __tablename__ = "console_drafts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(400), index=True)
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), index=True)
    before: Mapped[str] = mapped_column(Text, default="")
    after: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    base_sha256: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    review_note: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("console_accounts.id", ondelete="SET NULL"))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("console_accounts.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class AnswerRating(BotBase):
    """A resident's 👍 (+1) or 👎 (-1) on one of Lawline's answers; one per answer, the latest wins."""

    __tablename__ = "answer_ratings"
    __table_args__ = (UniqueConstraint("message_id", name="uq_answer_rating_message"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    rating: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


class RetrievalJudgement(BotBase):
    """An editor's verdict on a question from the feedback queue: the right article or card, or dismissed.

    ``question`` is the resident's question with personal data masked; ``document_id`` is the retrieval
    document id (``statutes/…md#第三十条``, ``card:…``) — the pair evaluates retrieval (JSONL export).
    """

    __tablename__ = "retrieval_judgements"
    __table_args__ = (UniqueConstraint("message_id", name="uq_judgement_message"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    question: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))  # "attached" | "dismissed"
    document_id: Mapped[str | None] = mapped_column(String(400))
    citation: Mapped[str | None] = mapped_column(String(400))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("console_accounts.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


class HotSpotWarning(BotBase):
    """A hot-spot warning (热点预警) put in the robot outbox: at most one per week, kind and code.

    ``kind`` is ``topic``, ``village`` or ``town``; ``code`` the topic code, village code or town name;
    ``week`` the Monday (Beijing time) of the week that rose. Counts only, no resident data.
    """

    __tablename__ = "analytics_hotspot_warnings"
    __table_args__ = (UniqueConstraint("week", "kind", "code", name="uq_hotspot_warning"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    week: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(10))
    code: Mapped[str] = mapped_column(String(60))
    count: Mapped[int] = mapped_column(Integer)
    previous: Mapped[int] = mapped_column(Integer)
    group_id: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
