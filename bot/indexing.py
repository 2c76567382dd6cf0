"""Turn the corpus tables into retrieval documents, build/load the index, and calibrate confidence."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from corpus.models import AnswerCard, Article, Case
from corpus.repository import CorpusRepository
from retrieval.calibration import CalibrationQuestion, fit_calibration
from retrieval.dense import Encoder, load_encoder
from retrieval.documents import Document, format_citation
from retrieval.index import BuildStats, IndexError_, RetrievalIndex
from retrieval.retriever import FusionConfig, Retriever
from retrieval.text import DATA_DIR, load_analyzer

__all__ = ["DEFAULT_FUSION", "DENSE_WEIGHTS", "BuildResult", "analyzer_info", "article_source", "build_index",
           "corpus_documents", "folder_documents", "fusion_for", "open_retriever"]

log = logging.getLogger(__name__)

# Chosen by `lawline bench retrieval` (docs/BENCHMARKS.md).
DEFAULT_FUSION = FusionConfig(
    method="linear",
    dense_weight=0.5,
    expansion_weight=0.5,
    level_weights=(
        ("law", 1.0),
        ("judicial_interpretation", 0.9),
        ("administrative_regulation", 0.8),
        ("departmental_rule", 0.7),
        ("normative_document", 0.7),
        ("local_regulation", 0.6),
    ),
)


# The dense weight each encoder measured best with on the STARD dev questions (issue #18, docs/BENCHMARKS.md);
# any other encoder gets DEFAULT_FUSION's. A pair's own weight after "@" is left out of the look-up.
DENSE_WEIGHTS = {"multilingual-e5-small-q4": 0.7, "use-multilingual-v3+multilingual-e5-small-q4": 0.8}


def fusion_for(model_id: str) -> FusionConfig:
    """``DEFAULT_FUSION`` with the dense weight chosen for ``model_id``."""
    weight = DENSE_WEIGHTS.get(model_id.partition("@")[0])
    return DEFAULT_FUSION if weight is None else dataclasses.replace(DEFAULT_FUSION, dense_weight=weight)


def analyzer_info(data_dir: Path = DATA_DIR) -> dict[str, Any]:
    """Fingerprint of the editable tables, recorded in the manifest."""
    digest = hashlib.sha256()
    for name in ("legal_terms.txt", "colloquial.tsv", "stopwords.txt"):
        digest.update((data_dir / name).read_bytes())
    return {"tables": digest.hexdigest()[:16], "bigrams": True}


def article_source(document: Document) -> tuple[str, str]:
    """(the law's source file, the article's label) of an article document: where the corpus keeps it."""
    source_file, _, label = document.id.rpartition("#")
    return source_file, label


def _article_document(article: Article) -> Document:
    law = article.law
    ends = [d for d in (law.superseded_on, law.repealed) if d is not None]
    return Document(
        id=f"{law.source_file}#{article.label}",  # article_source() reads it back
        kind="article",
        title=law.title,
        citation=format_citation(law.title, article.label),
        text=article.text,
        label=article.label,
        place=" ".join(article.path),
        law=law.title,
        short_name=law.short_name,
        level=law.level,
        region=law.region,
        locality=law.locality,
        effective=law.effective,
        ends=min(ends) if ends else None,
    )


def _case_document(case: Case) -> Document:
    """A reference case, indexed by its holding and then its facts: residents tell what happened to them.

    Measured on the team's case questions (``lawline bench retrieval --cases``): with the holding alone the
    right case came first for 0.70 of the dev questions, with the facts after it 0.93.
    """
    number = f"（{case.case_number}）" if case.case_number else ""
    summary = "\n".join(part for part in (case.holding, case.facts) if part)
    return Document(
        id=f"case:{case.slug}",
        kind="case",
        title=case.title,
        citation=format_citation(case.title, number),
        text=summary[:1500],
        label=case.case_number or "",
        place=case.collection,
        topic=case.topic,
        level="case",
        extra={"court": case.court, "date": case.date.isoformat() if case.date else None},
    )


def _card_document(card: AnswerCard) -> Document:
    cites = tuple(format_citation(c.law_title, c.article_label) for c in card.citations)
    return Document(
        id=f"card:{card.slug}",
        kind="card",
        title=card.title,
        citation=f"答问卡片：{card.title}",
        text="\n".join([card.answer, *card.questions]),
        topic=card.topic,
        level="card",
        cites=cites,
        # The scope travels with the document (not in its indexed text): bot/card_scope.py embeds both sides.
        extra={"answer": card.answer, "next_steps": card.next_steps, "where_to_go": card.where_to_go,
               "version": card.version, "questions": list(card.questions), "not_for": list(card.not_for or [])},
    )


def corpus_documents(session: Session) -> tuple[list[Document], str]:
    """Every article, case and card as a retrieval document, with the corpus version."""
    repo = CorpusRepository(session)
    docs = [_article_document(a) for a in repo.iter_articles()]
    docs += [_case_document(c) for c in repo.cases()]
    docs += [_card_document(c) for c in repo.cards()]
    return docs, repo.corpus_version()


def folder_documents(corpus_dir: Path) -> list[Document]:
    """The documents production would index for a corpus folder (``corpus/data``), via a throwaway SQLite.

    For benchmarks that must see what residents' searches see: the same ids, titles, short names and dates.
    """
    import tempfile

    from bot.db import make_engine, make_sessions, upgrade_schema
    from corpus import import_corpus

    with tempfile.TemporaryDirectory(prefix="lawline-bench-") as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'corpus.sqlite3'}")
        try:
            upgrade_schema(engine)
            sessions = make_sessions(engine)
            report = import_corpus(corpus_dir, sessions)
            if report.failed:
                raise report.failed[0]  # a CorpusError naming the file and line
            with sessions() as session:
                return corpus_documents(session)[0]
        finally:
            engine.dispose()


def _calibration_questions(session: Session, documents: list[Document]) -> list[CalibrationQuestion]:
    """Each card question, with the articles the card cites (in force today) as the answer."""
    by_citation: dict[str, str] = {}
    for doc in documents:
        if doc.kind == "article" and doc.ends is None:
            by_citation[doc.citation] = doc.id
    questions: list[CalibrationQuestion] = []
    for card in CorpusRepository(session).cards():
        relevant = frozenset(
            by_citation[c] for c in (format_citation(x.law_title, x.article_label) for x in card.citations)
            if c in by_citation
        )
        if relevant:
            questions.extend(CalibrationQuestion(q, relevant) for q in [card.title, *card.questions])
    return questions


@dataclass
class BuildResult:
    """The new index, what the build did, and the calibration it fitted."""

    index: RetrievalIndex
    stats: BuildStats
    calibration: dict[str, Any]


def build_index(
    sessions: sessionmaker[Session],
    index_dir: Path,
    encoder: Encoder,
    model_id: str,
    *,
    incremental: bool = True,
    batch_size: int = 64,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> BuildResult:
    """Build (or update) the index from the database, calibrate it and save it atomically."""
    analyzer = load_analyzer()
    with sessions() as session:
        documents, version = corpus_documents(session)
        questions = _calibration_questions(session, documents)
    if not documents:
        raise IndexError_("the corpus is empty; run `lawline corpus import` first")
    previous = None
    if incremental and (index_dir / "manifest.json").is_file():
        try:
            previous = RetrievalIndex.load(index_dir)
        except IndexError_ as exc:
            log.warning("previous index unusable, rebuilding in full: %s", exc)
    if on_total is not None:
        known = previous.manifest.ids if previous is not None and previous.manifest.model == model_id else {}
        on_total(sum(1 for d in documents if known.get(d.id, (0, ""))[1] != d.fingerprint))
    index, stats = RetrievalIndex.build(
        documents, encoder, model_id, analyzer, analyzer_info(), version,
        previous=previous, batch_size=batch_size, progress=progress,
    )
    calibration = fit_calibration(Retriever(index, encoder, analyzer, fusion_for(model_id)), questions)
    index.manifest.calibration = calibration
    index.save(index_dir)
    return BuildResult(index, stats, calibration)


def open_retriever(index_dir: Path, model_id: str, encoder: Encoder | None = None) -> Retriever:
    """Load the saved index for serving or searching; refuse one built with another encoder."""
    index = RetrievalIndex.load(index_dir)
    if index.manifest.model != model_id:
        raise IndexError_(
            f"the index was built with {index.manifest.model!r} but LAWLINE_EMBEDDING_MODEL is {model_id!r}; "
            "run `lawline index build`"
        )
    if not index.manifest.calibration.get("coef"):
        log.warning("index has no confidence calibration; confidences are uncalibrated rank scores")
    return Retriever(index, encoder if encoder is not None else load_encoder(model_id), load_analyzer(),
                     fusion_for(model_id))
