"""Sparse retrieval: BM25 over analyzer terms, computed by ``bm25s`` (not hand-rolled)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import bm25s
import numpy as np

__all__ = ["SparseIndex"]


class SparseIndex:
    """A BM25 index whose rows line up with the retriever's document order."""

    def __init__(self, model: bm25s.BM25) -> None:
        self._model = model

    @classmethod
    def build(cls, corpus_terms: Iterable[list[str]], k1: float = 1.2, b: float = 0.75) -> SparseIndex:
        """Index documents given as term lists (consumed one at a time: only integer ids are kept)."""
        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(term, len(vocab)) for term in terms] for terms in corpus_terms]
        model = bm25s.BM25(k1=k1, b=b)
        model.index((ids, vocab), show_progress=False)
        return cls(model)

    @property
    def size(self) -> int:
        return int(self._model.scores["num_docs"])

    def scores(self, terms: list[str]) -> np.ndarray:
        """BM25 score of every document for ``terms`` (unknown terms are ignored)."""
        vocab = self._model.vocab_dict
        ids = [vocab[t] for t in terms if t in vocab]
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._model.get_scores_from_ids(ids), dtype=np.float32)

    def save(self, folder: Path) -> None:
        self._model.save(str(folder))

    @classmethod
    def load(cls, folder: Path) -> SparseIndex:
        return cls(bm25s.BM25.load(str(folder)))
