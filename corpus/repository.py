"""Reading and writing the corpus tables. The caller owns the transaction."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from corpus.cards import ParsedCard
from corpus.cases import ParsedCase
from corpus.models import AnswerCard, Article, CardCitation, Case, Law
from corpus.statutes import ParsedStatute

__all__ = ["CorpusRepository", "SaveOutcome"]

SaveOutcome = str  # "added" | "updated" | "unchanged"


class CorpusRepository:
    """One aggregate per method group: laws (with articles), cases, answer cards (with citations)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # ---- laws -------------------------------------------------------------------------------
    def save_statute(self, parsed: ParsedStatute, source_file: str) -> SaveOutcome:
        """Insert or replace the law imported from ``source_file``; unchanged files are left alone."""
        law = self.session.scalar(select(Law).where(Law.source_file == source_file))
        if law is not None and law.sha256 == parsed.source.sha256:
            return "unchanged"
        outcome = "added" if law is None else "updated"
        meta = parsed.meta
        if law is None:
            law = Law(source_file=source_file)
            self.session.add(law)
        else:
            self.session.execute(delete(Article).where(Article.law_id == law.id))
            self.session.expire(law, ["articles"])
        law.sha256 = parsed.source.sha256
        law.title, law.short_name, law.issuer = meta.title, meta.short_name, meta.issuer
        law.doc_type, law.level, law.region, law.locality = meta.doc_type, meta.level, meta.region, meta.locality
        law.adopted, law.promulgated, law.effective = meta.adopted, meta.promulgated, meta.effective
        law.effective_basis, law.repealed = meta.effective_basis, meta.repealed
        law.preamble = "\n".join(parsed.preamble)
        law.front_matter = meta.front_matter
        law.articles = [
            Article(
                ordinal=index,
                number=a.number,
                suffix=a.suffix,
                label=a.label,
                path=list(a.path),
                paragraphs=[{"text": p.text, "items": list(p.items)} for p in a.paragraphs],
                text=a.text,
            )
            for index, a in enumerate(parsed.articles)
        ]
        self.session.flush()
        self.refresh_versions(meta.title)
        return outcome

    def refresh_versions(self, title: str) -> None:
        """Give each version of ``title`` the date the next one took effect (``superseded_on``)."""
        versions = self.session.scalars(select(Law).where(Law.title == title)).all()
        dated = sorted(versions, key=lambda law: law.effective or dt.date.min)
        for older, newer in zip(dated, dated[1:], strict=False):
            older.superseded_on = newer.effective
        if dated:
            dated[-1].superseded_on = None

    def laws(self) -> Sequence[Law]:
        return self.session.scalars(select(Law).order_by(Law.title, Law.effective)).all()

    def find_article(self, law: str, label: str, on: dt.date | None = None) -> Article | None:
        """The article ``label`` of ``law`` (full title or short name) in force on ``on`` (today)."""
        day = on or dt.date.today()
        rows = self.session.scalars(
            select(Article)
            .join(Law)
            .where((Law.title == law) | (Law.short_name == law), Article.label == label)
            .options(selectinload(Article.law))
        ).all()
        for article in rows:
            if article.law.in_force_on(day):
                return article
        return None

    def iter_articles(self) -> Iterator[Article]:
        """Every article of every law version, with its law loaded (for indexing)."""
        query = select(Article).join(Law).options(selectinload(Article.law)).order_by(Law.id, Article.ordinal)
        yield from self.session.scalars(query)

    # ---- cases ------------------------------------------------------------------------------
    def save_case(self, parsed: ParsedCase, source_file: str) -> SaveOutcome:
        case = self.session.scalar(select(Case).where(Case.source_file == source_file))
        if case is not None and case.sha256 == parsed.source.sha256:
            return "unchanged"
        outcome = "added" if case is None else "updated"
        if case is None:
            case = Case(source_file=source_file)
            self.session.add(case)
        case.slug, case.sha256, case.title = parsed.slug, parsed.source.sha256, parsed.title
        case.case_number, case.collection, case.court = parsed.case_number, parsed.collection, parsed.court
        case.date, case.date_kind, case.topic = parsed.date, parsed.date_kind, parsed.topic
        case.sections = [{"heading": s.heading, "text": s.text} for s in parsed.sections]
        case.facts, case.holding = parsed.facts, parsed.holding
        case.front_matter = parsed.front_matter
        self.session.flush()
        return outcome

    def cases(self) -> Sequence[Case]:
        return self.session.scalars(select(Case).order_by(Case.slug)).all()

    # ---- answer cards -----------------------------------------------------------------------
    def save_card(self, parsed: ParsedCard, source_file: str) -> SaveOutcome:
        card = self.session.scalar(select(AnswerCard).where(AnswerCard.source_file == source_file))
        if card is not None and card.sha256 == parsed.sha256:
            return "unchanged"
        outcome = "added" if card is None else "updated"
        if card is None:
            card = AnswerCard(source_file=source_file)
            self.session.add(card)
        card.slug, card.sha256, card.topic, card.title = parsed.id, parsed.sha256, parsed.topic, parsed.title
        card.questions, card.not_for, card.answer = list(parsed.questions), list(parsed.not_for), parsed.answer
        card.next_steps, card.where_to_go = list(parsed.next_steps), list(parsed.where_to_go)
        card.version, card.updated, card.reviewed = parsed.version, parsed.updated, parsed.reviewed
        card.citations = [
            CardCitation(position=i, law_title=c.law, article_label=c.article) for i, c in enumerate(parsed.citations)
        ]
        self.session.flush()
        return outcome

    def cards(self) -> Sequence[AnswerCard]:
        return self.session.scalars(
            select(AnswerCard).options(selectinload(AnswerCard.citations)).order_by(AnswerCard.slug)
        ).all()

    def card(self, slug: str) -> AnswerCard | None:
        return self.session.scalar(
            select(AnswerCard).where(AnswerCard.slug == slug).options(selectinload(AnswerCard.citations))
        )

    # ---- housekeeping -----------------------------------------------------------------------
    def source_files(self) -> dict[str, str]:
        """Every imported file with its kind (``statute``, ``case``, ``card``)."""
        found: dict[str, str] = {}
        columns = (("statute", Law.source_file), ("case", Case.source_file), ("card", AnswerCard.source_file))
        for kind, column in columns:
            found.update((name, kind) for name in self.session.scalars(select(column)))
        return found

    def remove(self, source_file: str) -> None:
        """Delete whatever was imported from ``source_file`` (the file was removed from the corpus)."""
        law = self.session.scalar(select(Law).where(Law.source_file == source_file))
        if law is not None:
            title = law.title
            self.session.delete(law)
            self.session.flush()
            self.refresh_versions(title)
        for model in (Case, AnswerCard):
            self.session.execute(delete(model).where(model.source_file == source_file))

    def corpus_version(self) -> str:
        """A short fingerprint of everything imported: changes whenever any file does."""
        digest = hashlib.sha256()
        for model in (Law, Case, AnswerCard):
            rows = self.session.execute(select(model.source_file, model.sha256).order_by(model.source_file))
            for source, sha in rows:
                digest.update(f"{source}:{sha}\n".encode())
        return digest.hexdigest()[:16]
