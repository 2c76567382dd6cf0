"""Compose a resident's answer from an answer card or quoted articles, with citations. Nothing generated.

Every sentence comes from an answer card (written and versioned by the team), from a statute article
quoted verbatim with its citation, or from ``bot/data/replies.yaml`` (curated text around them). When the
top hit's calibrated confidence is below the threshold the composer says it is not sure and offers a
person instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from retrieval.documents import Document, Filters, Hit
from retrieval.retriever import Retriever

__all__ = ["Answer", "AnswerComposer", "ReplyTexts", "load_reply_texts"]

REPLIES_FILE = Path(__file__).resolve().parent / "data" / "replies.yaml"
TOPICS = ("wages", "support", "land", "dispute")
_MAX_QUOTE_CHARS = 260


@dataclass(frozen=True, slots=True)
class ReplyTexts:
    """The curated sentences around an answer (``bot/data/replies.yaml``)."""

    disclaimer: str
    follow_ups: tuple[str, ...]
    unsure: str
    degraded_note: str
    empty_message: str
    engine_busy_in_step: str
    quote_intro: str
    topics: dict[str, dict[str, tuple[str, ...]]]
    handoff: str


def load_reply_texts(path: Path = REPLIES_FILE) -> ReplyTexts:
    """Read the reply texts; a missing key fails at start with its name."""
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        topics = {
            name: {key: tuple(values) for key, values in entry.items()} for name, entry in data["topics"].items()
        }
        return ReplyTexts(
            disclaimer=data["disclaimer"].strip(),
            follow_ups=tuple(data["follow_ups"]),
            unsure=data["unsure"].strip(),
            degraded_note=data["degraded_note"].strip(),
            empty_message=data["empty_message"].strip(),
            engine_busy_in_step=data["engine_busy_in_step"].strip(),
            quote_intro=data["quote_intro"].strip(),
            topics=topics,
            handoff=data["handoff"].strip(),
        )
    except KeyError as exc:
        raise ValueError(f"{path}: missing key {exc.args[0]!r}") from None


@dataclass(frozen=True, slots=True)
class Answer:
    """What the resident reads, and what the bot relied on (for transcripts, tickets and analytics)."""

    text: str
    confident: bool
    confidence: float
    citations: tuple[str, ...] = ()
    card: str | None = None
    topic: str | None = None
    hits: tuple[str, ...] = field(default=())  # document ids, best first


def _quote(doc: Document) -> str:
    text = doc.text if len(doc.text) <= _MAX_QUOTE_CHARS else doc.text[:_MAX_QUOTE_CHARS].rstrip() + "……"
    return f"{doc.citation}：“{text}”"


def _numbered(lines: tuple[str, ...] | list[str]) -> str:
    return "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1))


class AnswerComposer:
    """Turns a question into an ``Answer`` using the retriever and the curated texts."""

    def __init__(self, retriever: Retriever, texts: ReplyTexts, *, min_confidence: float = 0.2) -> None:
        self.retriever = retriever
        self.texts = texts
        self.min_confidence = min_confidence
        self._by_citation = {d.citation: d for d in retriever.documents if d.kind == "article"}

    def card_question(self, card: str) -> str | None:
        """The question an answer card answers (its title), by the card's id as ``Answer.card`` gives it."""
        for doc in self.retriever.documents:
            if doc.kind == "card" and doc.id == f"card:{card}":
                return doc.title
        return None

    def use_retriever(self, retriever: Retriever) -> None:
        """Answer from ``retriever`` from now on (the console swaps in the index it re-built on publishing)."""
        self._by_citation = {d.citation: d for d in retriever.documents if d.kind == "article"}
        self.retriever = retriever

    def answer(self, question: str, *, topic: str | None = None, region: str | None = None) -> Answer:
        """Answer ``question``; ``topic`` (from the NLU) prefers cards of that topic."""
        question = question.strip()
        if not question:
            return Answer(self.texts.empty_message, confident=False, confidence=0.0)
        hits = self.retriever.search(question, k=8, filters=Filters(region=region))
        if not hits or hits[0].confidence < self.min_confidence:
            top = hits[0].confidence if hits else 0.0
            return Answer(self.texts.unsure, confident=False, confidence=top, hits=tuple(h.document.id for h in hits))
        card = self._pick_card(hits, topic)
        if card is not None:
            return self._card_answer(card, hits, topic)
        return self._article_answer(hits, topic)

    def _pick_card(self, hits: list[Hit], topic: str | None) -> Hit | None:
        for hit in hits[:3]:
            if hit.document.kind == "card" and (topic is None or hit.document.topic == topic):
                return hit
        return None

    def _card_answer(self, hit: Hit, hits: list[Hit], topic: str | None) -> Answer:
        doc = hit.document
        extra = doc.extra
        quoted = [self._by_citation[c] for c in doc.cites if c in self._by_citation][:2]
        parts = [
            f"【{doc.title}】",
            str(extra.get("answer", "")).strip(),
            "怎么办：\n" + _numbered(tuple(extra.get("next_steps", ()))),
            "去哪里：\n" + "\n".join(f"· {place}" for place in extra.get("where_to_go", ())),
        ]
        if quoted:
            parts.append(self.texts.quote_intro + "\n" + "\n".join(_quote(d) for d in quoted))
        parts.append("法律依据：" + "、".join(doc.cites))
        parts += [self.texts.disclaimer, "\n".join(self.texts.follow_ups)]
        return Answer(
            "\n\n".join(parts), confident=True, confidence=hit.confidence, citations=doc.cites,
            card=doc.id.removeprefix("card:"), topic=doc.topic or topic, hits=tuple(h.document.id for h in hits),
        )

    def _article_answer(self, hits: list[Hit], topic: str | None) -> Answer:
        articles = [h for h in hits if h.document.kind == "article"][:2]
        if not articles:
            return Answer(self.texts.unsure, confident=False, confidence=hits[0].confidence,
                          hits=tuple(h.document.id for h in hits))
        guide = self.texts.topics.get(topic or "", self.texts.topics["general"])
        citations = tuple(h.citation for h in articles)
        parts = [
            self.texts.quote_intro + "\n" + "\n".join(_quote(h.document) for h in articles),
            "怎么办：\n" + _numbered(guide["next_steps"]),
            "去哪里：\n" + "\n".join(f"· {place}" for place in guide["where_to_go"]),
            self.texts.disclaimer,
            "\n".join(self.texts.follow_ups),
        ]
        return Answer(
            "\n\n".join(parts), confident=True, confidence=articles[0].confidence, citations=citations, topic=topic,
            hits=tuple(h.document.id for h in hits),
        )
