"""Whether a question lies inside an answer card's scope: a wrong card is a wrong answer said confidently.

Retrieval finds the card nearest a question as a whole text, so a near miss ("包工头还在，就是一直拖着"
for the card on a contractor who absconded) still ranks that card first. Each card therefore states its
scope (``corpus/data/cards/README.md``): the title and ``questions`` it answers, and ``not_for``: questions
close in words that need another answer. The best card hit is shown only when

1. of the cards of the question's topic, its in-scope examples hold the one nearest the question (the
   retrieval and the examples agree on the card), and
2. the question is nearer that example than any of the card's ``not_for`` by at least ``margin``, and the
   similarity is at least ``floor``.

A card that fails is not replaced by the next hit (measured: that lets in as many wrong cards as right ones);
the composer quotes the articles instead.

Similarity is ``dense_weight`` × the cosine of the index's encoder plus the rest × a TF-IDF cosine of the
analyzer's terms, so that the words that tell "跑了" from "拖着" count too (measured: the mix kept its
precision over more margins, and over the revisions of the cards, than the encoder alone). The numbers were
chosen with ``lawline bench cards`` on ``tests/data/cards/scope_dev.jsonl``: a shown card's precision at least
0.95, then recall as high as it goes, in the middle of a plateau rather than at its edge. There: precision
0.96, recall 0.58, against 0.73 and 0.90 without the scope test. With the cards' scopes grown to up to 12
examples a side (issue #15) the margin moved to 0.08 (0.07 and 0.08 gave the same recall; 0.09 lost 0.07 of
it, 0.06 let in wrong cards): precision 0.957, recall 0.705.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from retrieval.dense import Encoder, encode
from retrieval.documents import Document
from retrieval.text import LegalAnalyzer

__all__ = ["DEFAULT_RULE", "CardScope", "ScopeCheck", "ScopeRule"]


@dataclass(frozen=True, slots=True)
class ScopeRule:
    """The numbers of the scope test (module docstring)."""

    dense_weight: float = 0.8
    margin: float = 0.08
    floor: float = 0.40


DEFAULT_RULE = ScopeRule()


@dataclass(frozen=True, slots=True)
class ScopeCheck:
    """What the scope test saw for one card: the nearest example on each side and the nearest card."""

    card: str
    inside: float  # similarity of the nearest in-scope example (title or question)
    outside: float  # similarity of the nearest not_for example
    nearest_card: str  # the card of the topic whose in-scope example is nearest the question
    admitted: bool


@dataclass(frozen=True, slots=True)
class _Example:
    card: str
    topic: str | None
    inside: bool


class _Terms:
    """TF-IDF vectors of the analyzer's terms, the IDF taken over the examples."""

    def __init__(self, analyzer: LegalAnalyzer, texts: Sequence[str]) -> None:
        self.analyzer = analyzer
        terms = [analyzer.terms(t) for t in texts]
        frequency = Counter(term for doc in terms for term in set(doc))
        self._unseen = math.log((len(terms) + 1) / 0.5)
        self.idf = {term: math.log((len(terms) + 1) / (n + 0.5)) for term, n in frequency.items()}
        self.vocabulary = {term: i for i, term in enumerate(self.idf)}
        rows, columns, values = [], [], []
        for row, doc in enumerate(terms):
            for term, weight in self._weights(doc).items():
                rows.append(row)
                columns.append(self.vocabulary[term])
                values.append(weight)
        self.matrix = sparse.csr_matrix((values, (rows, columns)), shape=(len(terms), len(self.vocabulary)),
                                        dtype=np.float32)

    def _weights(self, terms: Iterable[str]) -> dict[str, float]:
        weights = {t: (1 + math.log(n)) * self.idf.get(t, self._unseen) for t, n in Counter(terms).items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        return {t: w / norm for t, w in weights.items()}

    def cosines(self, text: str) -> np.ndarray:
        vector = np.zeros(len(self.vocabulary), dtype=np.float32)
        for term, weight in self._weights(self.analyzer.terms(text)).items():
            column = self.vocabulary.get(term)
            if column is not None:  # an unseen term only lowers the weight of the others
                vector[column] = weight
        return np.asarray(self.matrix @ vector, dtype=np.float32)


class CardScope:
    """Every card's in-scope and out-of-scope examples, embedded once when an index is opened.

    Built from the index's card documents (``extra["questions"]`` and ``extra["not_for"]``, written by
    ``bot.indexing``); ``previous`` lends its vectors for texts it already encoded, so swapping in a
    re-published index encodes only the examples that changed.
    """

    def __init__(self, documents: Sequence[Document], encoder: Encoder, analyzer: LegalAnalyzer,
                 rule: ScopeRule = DEFAULT_RULE, *, previous: CardScope | None = None) -> None:
        self.rule = rule
        self.encoder = encoder
        texts: list[str] = []
        self._examples: list[_Example] = []
        for doc in documents:
            if doc.kind != "card":
                continue
            card = doc.id.removeprefix("card:")
            inside = [doc.title, *doc.extra.get("questions", ())]
            for text, is_inside in [(t, True) for t in inside] + [(t, False) for t in doc.extra.get("not_for", ())]:
                texts.append(str(text))
                self._examples.append(_Example(card, doc.topic, is_inside))
        self._texts = texts
        self._vectors = self._encode(texts, previous)
        self._terms = _Terms(analyzer, texts)
        self._cards = np.asarray([e.card for e in self._examples])
        self._inside = np.asarray([e.inside for e in self._examples], dtype=bool)
        self._topics = np.asarray([e.topic or "" for e in self._examples])

    def _encode(self, texts: list[str], previous: CardScope | None) -> np.ndarray:
        known = dict(zip(previous._texts, previous._vectors, strict=True)) if previous is not None else {}
        missing = sorted({t for t in texts if t not in known})
        if missing:
            known.update(zip(missing, encode(self.encoder, missing), strict=True))
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        return np.vstack([known[t] for t in texts]).astype(np.float32)

    def similarities(self, question: str) -> np.ndarray:
        """The question's similarity to every example (see the module docstring)."""
        if not self._texts:
            return np.zeros(0, dtype=np.float32)
        dense = self._vectors @ encode(self.encoder, [question])[0]
        weight = self.rule.dense_weight
        result: np.ndarray = weight * dense + (1 - weight) * self._terms.cosines(question)
        return result

    def check(self, question: str, card: str, topic: str | None = None,
              similarities: np.ndarray | None = None) -> ScopeCheck:
        """Test ``card`` for ``question``; ``topic`` (the NLU's) narrows the cards it must beat."""
        sims = self.similarities(question) if similarities is None else similarities
        own = self._cards == card
        inside = float(sims[own & self._inside].max()) if (own & self._inside).any() else -1.0
        outside = float(sims[own & ~self._inside].max()) if (own & ~self._inside).any() else -1.0
        rivals = self._inside & ((self._topics == topic) | own) if topic is not None else self._inside
        nearest = str(self._cards[rivals][int(np.argmax(sims[rivals]))]) if rivals.any() else card
        rule = self.rule
        admitted = nearest == card and inside >= rule.floor and inside - outside >= rule.margin
        return ScopeCheck(card, inside, outside, nearest, admitted)

    def admits(self, question: str, card: str, topic: str | None = None) -> bool:
        """True if ``question`` lies inside the scope of ``card`` (the module docstring's two conditions)."""
        return self.check(question, card, topic).admitted
