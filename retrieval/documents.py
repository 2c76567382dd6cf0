"""What retrieval indexes (``Document``), what it returns (``Hit``) and how callers narrow it (``Filters``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["Document", "Filters", "Hit", "Kind", "format_citation"]

Kind = Literal["article", "case", "card"]


def format_citation(title: str, label: str = "") -> str:
    """``《中华人民共和国劳动合同法》第三十条``; a title that itself quotes a law uses 〈〉 inside, as printed."""
    inner = title.replace("《", "〈").replace("》", "〉")
    return f"《{inner}》{label}"


@dataclass(frozen=True, slots=True)
class Document:
    """One retrievable unit: a statute article, a reference case or an answer card.

    ``citation`` is what a reply prints (``《中华人民共和国劳动合同法》第三十条``); ``place`` is where the
    article sits (``第四章 劳动合同的解除和终止``). ``effective``/``ends`` bound the dates on which the
    document is current law; ``ends`` is the earlier of repeal and supersession.
    """

    id: str
    kind: Kind
    title: str
    citation: str
    text: str
    label: str = ""
    place: str = ""
    law: str | None = None
    short_name: str | None = None
    level: str | None = None
    region: str = "national"
    locality: str | None = None
    effective: dt.date | None = None
    ends: dt.date | None = None
    topic: str | None = None
    cites: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def index_text(self) -> str:
        """The text both the sparse and the dense index see: names, place and body."""
        names = " ".join(x for x in (self.short_name, self.title if self.kind != "article" else None) if x)
        return "\n".join(x for x in (names, self.label, self.place, self.text) if x)

    def in_force_on(self, day: dt.date) -> bool:
        if self.effective is not None and day < self.effective:
            return False
        return self.ends is None or day < self.ends

    @property
    def fingerprint(self) -> str:
        """Changes whenever anything the index sees changes."""
        return hashlib.sha256(self.index_text().encode("utf-8")).hexdigest()[:20]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("effective", "ends"):
            data[key] = data[key].isoformat() if data[key] else None
        data["cites"] = list(self.cites)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Document:
        values = dict(data)
        for key in ("effective", "ends"):
            values[key] = dt.date.fromisoformat(values[key]) if values.get(key) else None
        values["cites"] = tuple(values.get("cites") or ())
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Filters:
    """Narrow a search. A document outside any given filter is never returned.

    ``region``: a province such as ``山东省``; national documents always qualify. ``on``: only what is in
    force on that day (default: today — a repealed or superseded article is never returned as current).
    """

    region: str | None = None
    law: str | None = None
    levels: frozenset[str] | None = None
    kinds: frozenset[str] | None = None
    topic: str | None = None
    on: dt.date | None = None
    include_historical: bool = False

    def admits(self, doc: Document, today: dt.date) -> bool:
        if self.kinds is not None and doc.kind not in self.kinds:
            return False
        if self.region is not None and doc.region not in ("national", self.region):
            return False
        if self.law is not None and self.law not in (doc.law, doc.short_name):
            return False
        if self.levels is not None and doc.level not in self.levels:
            return False
        if self.topic is not None and doc.topic not in (None, self.topic):
            return False
        return self.include_historical or doc.in_force_on(self.on or today)

    def key(self) -> str:
        return json.dumps(
            [self.region, self.law, sorted(self.levels or []), sorted(self.kinds or []), self.topic,
             self.on.isoformat() if self.on else None, self.include_historical],
            ensure_ascii=False,
        )


@dataclass(frozen=True, slots=True)
class Hit:
    """A search result with its citation, scores and calibrated confidence (0–1).

    ``cited``: the query cites this very article (looked up, not scored; see ``retrieval/citations.py``).
    """

    document: Document
    rank: int
    score: float
    sparse_score: float
    dense_score: float
    confidence: float
    cited: bool = False

    @property
    def citation(self) -> str:
        return self.document.citation

    def to_json(self) -> dict[str, Any]:
        doc = self.document
        return {
            "rank": self.rank,
            "id": doc.id,
            "kind": doc.kind,
            "citation": doc.citation,
            "place": doc.place,
            "text": doc.text,
            "law": doc.law,
            "level": doc.level,
            "region": doc.region,
            "effective": doc.effective.isoformat() if doc.effective else None,
            "score": round(self.score, 4),
            "sparse_score": round(self.sparse_score, 4),
            "dense_score": round(self.dense_score, 4),
            "confidence": round(self.confidence, 3),
            "cites": list(doc.cites),
            "cited": self.cited,
        }
