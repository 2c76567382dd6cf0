"""Hybrid search: BM25 (with colloquial expansion) fused with dense cosine, filtered, calibrated."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from retrieval.citations import CitationResolver, CitationTables, load_citation_tables
from retrieval.dense import Encoder, encode
from retrieval.documents import Document, Filters, Hit
from retrieval.index import RetrievalIndex
from retrieval.text import LegalAnalyzer

__all__ = ["FusionConfig", "Ranking", "Retriever", "features"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FusionConfig:
    """How sparse and dense evidence are combined. Defaults chosen by ``lawline bench retrieval``."""

    method: str = "linear"  # "linear" (normalised weighted sum) or "rrf"
    dense_weight: float = 0.3
    expansion_weight: float = 0.5
    candidates: int = 200
    rrf_k: int = 60
    # Prefer the higher-ranking source when texts compete (上位法优先): a national law over a ministry's
    # rule or a local regulation. Multiplies the fused score; unknown levels count as 1.
    level_weights: tuple[tuple[str, float], ...] = ()
    # Answer cards restate articles; keep at most this many in one result list so the articles show too.
    max_cards: int = 2


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, x))))


def features(fused: np.ndarray, sparse: np.ndarray, dense: np.ndarray, rank: int) -> list[float]:
    """Features of the hit at ``rank`` (0-based) in a ranked list, used for confidence calibration."""
    top = float(fused[0]) if len(fused) else 0.0
    nxt = float(fused[1]) if len(fused) > 1 else 0.0
    return [
        float(fused[rank]),
        float(fused[rank]) - (float(fused[rank + 1]) if rank + 1 < len(fused) else 0.0),
        top - nxt,
        float(sparse[rank]),
        float(dense[rank]),
        math.log1p(rank),
    ]


@dataclass(frozen=True, slots=True)
class Ranking:
    """Ranked candidates (best first): rows into the index and their raw and normalised scores."""

    rows: np.ndarray
    fused: np.ndarray
    sparse: np.ndarray
    dense: np.ndarray
    sparse_n: np.ndarray
    dense_n: np.ndarray

    def features(self, rank: int) -> list[float]:
        return features(self.fused, self.sparse_n, self.dense_n, rank)


class Retriever:
    """``search(query, k, filters) -> list[Hit]`` over a loaded ``RetrievalIndex``.

    An article the query cites (``劳动合同法第三十条``) is looked up by ``citations`` and comes first: exact
    look-up must not depend on word or vector similarity, which ignore article numbers.
    """

    def __init__(
        self, index: RetrievalIndex, encoder: Encoder, analyzer: LegalAnalyzer,
        fusion: FusionConfig | None = None, citation_tables: CitationTables | None = None,
    ) -> None:
        self.index = index
        self.encoder = encoder
        self.analyzer = analyzer
        self.fusion = fusion or FusionConfig()
        self.citations = CitationResolver(index.documents, citation_tables or load_citation_tables())
        # Searches run in worker threads (actions, fallback answers): the filter-mask cache is shared.
        self._masks: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._masks_lock = threading.Lock()
        self._level_weights = dict(self.fusion.level_weights)
        calibration = index.manifest.calibration
        self.calibrated = bool(calibration.get("coef"))
        self._coef = np.asarray(calibration.get("coef") or [], dtype=np.float64)
        self._intercept = float(calibration.get("intercept") or 0.0)

    @property
    def documents(self) -> list[Document]:
        return self.index.documents

    def _mask(self, filters: Filters, today: dt.date) -> np.ndarray | None:
        key = (filters.key(), today.isoformat())
        with self._masks_lock:
            mask = self._masks.get(key)
        if mask is None:
            mask = np.fromiter((filters.admits(d, today) for d in self.index.documents), dtype=bool,
                               count=len(self.index.documents))
            with self._masks_lock:
                self._masks[key] = mask
                while len(self._masks) > 32:
                    self._masks.popitem(last=False)
        return None if mask.all() else mask

    def scores(self, query: str, filters: Filters | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, Any]:
        """(candidate rows, sparse, dense) for ``query``; rows are admitted by ``filters``."""
        filters = filters or Filters()
        today = dt.date.today()
        mask = self._mask(filters, today)
        terms = self.analyzer.query(query)
        sparse = self.index.sparse.scores(terms.terms)
        if terms.expansions and self.fusion.expansion_weight:
            sparse = sparse + self.fusion.expansion_weight * self.index.sparse.scores(terms.expansions)
        if mask is not None:
            sparse = np.where(mask, sparse, 0.0)
        n = self.fusion.candidates
        if len(sparse) > n:
            sparse_rows = np.argpartition(-sparse, n)[:n]
        else:
            sparse_rows = np.arange(len(sparse))
        sparse_rows = sparse_rows[sparse[sparse_rows] > 0]
        dense_rows = np.zeros(0, dtype=np.int64)
        dense_scores: dict[int, float] = {}
        vector = None
        if self.fusion.dense_weight > 0 and len(self.index.documents):
            vector = encode(self.encoder, [query])[0]
            allowed = None
            if mask is not None:
                allowed = np.sort(self.index.faiss_ids[mask])
            if allowed is None or len(allowed):
                cos, fids = self.index.dense.search(vector, n, allowed)
                dense_rows = np.asarray([self.index.row_of_faiss_id[int(f)] for f in fids], dtype=np.int64)
                dense_scores = {int(r): float(c) for r, c in zip(dense_rows, cos, strict=True)}
        rows = np.union1d(sparse_rows, dense_rows).astype(np.int64)
        if vector is not None and len(rows) > len(dense_scores):
            # Candidates found only by BM25 still need their cosine for fusion.
            missing = [int(r) for r in rows if int(r) not in dense_scores]
            vectors = np.vstack([self.index.dense.index.reconstruct(int(self.index.faiss_ids[r])) for r in missing])
            for r, c in zip(missing, vectors @ vector, strict=True):
                dense_scores[r] = float(c)
        dense = np.asarray([dense_scores.get(int(r), 0.0) for r in rows], dtype=np.float32)
        return rows, sparse[rows], dense, terms

    def rank(self, query: str, k: int = 10, filters: Filters | None = None) -> Ranking:
        """The top ``k`` candidates with every score the fusion and the calibration use."""
        rows, sparse, dense, _ = self.scores(query.strip(), filters)
        if not len(rows):
            empty = np.zeros(0, dtype=np.float32)
            return Ranking(np.zeros(0, dtype=np.int64), empty, empty, empty, empty, empty)
        fused, sparse_n, dense_n = self._fuse(sparse, dense)
        if self._level_weights:
            weights = self._level_weights
            prior = np.asarray([weights.get(self.index.documents[int(r)].level or "", 1.0) for r in rows])
            fused = fused * prior
        order = np.argsort(-fused, kind="stable")
        if self.fusion.max_cards >= 0:
            cards = np.fromiter((self.index.documents[int(rows[i])].kind == "card" for i in order), dtype=bool,
                                count=len(order))
            order = order[~cards | (np.cumsum(cards) <= self.fusion.max_cards)]
        order = order[:k]
        return Ranking(rows[order], fused[order], sparse[order], dense[order], sparse_n[order], dense_n[order])

    def search(self, query: str, k: int = 10, filters: Filters | None = None, *,
               context: Sequence[str] = ()) -> list[Hit]:
        """The ``k`` best documents for ``query``, each with its citation and a confidence in [0, 1].

        The articles ``query`` cites come first (``cited``, confidence 1), in the version in force as
        ``filters`` admit; ``context`` (the conversation's last citations) names the law of a 第X条 said alone.
        """
        if not query.strip():
            return []
        cited = [r.document for r in self.citations.resolve(query, context=context, filters=filters)
                 if r.document is not None][:k]
        r = self.rank(query, k + len(cited), filters)
        ranked = {self.index.documents[int(row)].id: i for i, row in enumerate(r.rows)}
        hits = [Hit(doc, 0, 1.0, *self._scores_of(r, ranked.get(doc.id)), confidence=1.0, cited=True)
                for doc in cited]
        pinned = {doc.id for doc in cited}
        for i, row in enumerate(r.rows):
            doc = self.index.documents[int(row)]
            if doc.id not in pinned:
                hits.append(Hit(doc, 0, float(r.fused[i]), float(r.sparse[i]), float(r.dense[i]),
                                confidence=self.confidence(r.features(i))))
        return [dataclasses.replace(hit, rank=n) for n, hit in enumerate(hits[:k], 1)]

    @staticmethod
    def _scores_of(r: Ranking, i: int | None) -> tuple[float, float]:
        return (float(r.sparse[i]), float(r.dense[i])) if i is not None else (0.0, 0.0)

    def _fuse(self, sparse: np.ndarray, dense: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        top = float(sparse.max()) if len(sparse) else 0.0
        sparse_n = sparse / top if top > 0 else np.zeros_like(sparse)
        dense_n = np.clip(dense, 0.0, 1.0)
        w = self.fusion.dense_weight
        if self.fusion.method == "rrf":
            k = self.fusion.rrf_k
            sparse_rank = np.argsort(np.argsort(-sparse, kind="stable"), kind="stable")
            dense_rank = np.argsort(np.argsort(-dense, kind="stable"), kind="stable")
            fused = (1 - w) / (k + 1 + sparse_rank) + w / (k + 1 + dense_rank)
            return fused * (k + 1), sparse_n, dense_n
        return (1 - w) * sparse_n + w * dense_n, sparse_n, dense_n

    def confidence(self, feats: list[float]) -> float:
        """Calibrated probability that a hit is relevant (Platt scaling fitted at index build)."""
        if not self.calibrated:
            return _sigmoid(6.0 * feats[0] - 4.0 - feats[5])
        return _sigmoid(float(np.dot(self._coef, feats)) + self._intercept)
