"""Database tables owned by the corpus: laws and their articles, cases, answer cards.

The corpus keeps its own ``MetaData``; ``bot/migrations`` combines it with the other packages' for
Alembic. Every row remembers the file and hash it came from, so re-importing is idempotent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = ["AnswerCard", "Article", "Case", "CardCitation", "CorpusBase", "Law"]


class CorpusBase(DeclarativeBase):
    """Declarative base of the corpus tables."""


class Law(CorpusBase):
    """One version of a statute, regulation or interpretation, as imported from one file."""

    __tablename__ = "laws"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_file: Mapped[str] = mapped_column(String(400), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300), index=True)
    short_name: Mapped[str] = mapped_column(String(200), index=True)
    issuer: Mapped[str] = mapped_column(String(300))
    doc_type: Mapped[str] = mapped_column(String(40))
    level: Mapped[str] = mapped_column(String(40), index=True)
    region: Mapped[str] = mapped_column(String(40), index=True)
    locality: Mapped[str | None] = mapped_column(String(40))
    adopted: Mapped[dt.date | None] = mapped_column(Date)
    promulgated: Mapped[dt.date | None] = mapped_column(Date)
    effective: Mapped[dt.date | None] = mapped_column(Date)
    effective_basis: Mapped[str] = mapped_column(String(120))
    # Set when a later version of the same title takes effect (computed on import).
    superseded_on: Mapped[dt.date | None] = mapped_column(Date)
    repealed: Mapped[dt.date | None] = mapped_column(Date)
    preamble: Mapped[str] = mapped_column(Text, default="")
    front_matter: Mapped[dict[str, Any]] = mapped_column(JSON)
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    articles: Mapped[list[Article]] = relationship(
        back_populates="law", cascade="all, delete-orphan", order_by="Article.ordinal"
    )

    def in_force_on(self, day: dt.date) -> bool:
        """True if this version is the law in force on ``day``."""
        if self.effective is not None and day < self.effective:
            return False
        ends = [d for d in (self.superseded_on, self.repealed) if d is not None]
        return not ends or day < min(ends)


class Article(CorpusBase):
    """One 条 with its place in the 编/章/节 hierarchy and its 款/项."""

    __tablename__ = "articles"
    __table_args__ = (UniqueConstraint("law_id", "number", "suffix", name="uq_article_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    law_id: Mapped[int] = mapped_column(ForeignKey("laws.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    suffix: Mapped[str] = mapped_column(String(10), default="")
    label: Mapped[str] = mapped_column(String(30), index=True)
    path: Mapped[list[str]] = mapped_column(JSON)
    paragraphs: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    text: Mapped[str] = mapped_column(Text)

    law: Mapped[Law] = relationship(back_populates="articles")

    @property
    def citation(self) -> str:
        inner = self.law.title.replace("《", "〈").replace("》", "〉")
        return f"《{inner}》{self.label}"


class Case(CorpusBase):
    """A published reference case (指导性案例, 公报案例, 检察指导性案例 …)."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    source_file: Mapped[str] = mapped_column(String(400), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    case_number: Mapped[str | None] = mapped_column(String(60))
    collection: Mapped[str] = mapped_column(String(120))
    court: Mapped[str] = mapped_column(String(400))
    date: Mapped[dt.date | None] = mapped_column(Date)
    date_kind: Mapped[str] = mapped_column(String(60))
    topic: Mapped[str] = mapped_column(String(20), index=True)
    sections: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    facts: Mapped[str] = mapped_column(Text)
    holding: Mapped[str] = mapped_column(Text)
    front_matter: Mapped[dict[str, Any]] = mapped_column(JSON)
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AnswerCard(CorpusBase):
    """A short plain-language answer written by the team, tied to the articles it relies on."""

    __tablename__ = "answer_cards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    source_file: Mapped[str] = mapped_column(String(400), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    topic: Mapped[str] = mapped_column(String(20), index=True)
    title: Mapped[str] = mapped_column(String(300))
    questions: Mapped[list[str]] = mapped_column(JSON)
    # Questions close in words that need another answer: the card's scope (bot/card_scope.py).
    not_for: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    answer: Mapped[str] = mapped_column(Text)
    next_steps: Mapped[list[str]] = mapped_column(JSON)
    where_to_go: Mapped[list[str]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer)
    updated: Mapped[dt.date | None] = mapped_column(Date)
    reviewed: Mapped[bool] = mapped_column(Boolean, default=False)
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    citations: Mapped[list[CardCitation]] = relationship(
        back_populates="card", cascade="all, delete-orphan", order_by="CardCitation.position"
    )


class CardCitation(CorpusBase):
    """An article a card relies on, by law title and article label (resolved against ``laws`` on use)."""

    __tablename__ = "card_citations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("answer_cards.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    law_title: Mapped[str] = mapped_column(String(300))
    article_label: Mapped[str] = mapped_column(String(30))

    card: Mapped[AnswerCard] = relationship(back_populates="citations")
