"""Two sentence encoders as one: the dense score is a weighted mean of their cosines.

Why one index instead of two: with unit vectors ``u`` (first encoder) and ``e`` (second), the vector
``[√(1-w)·u, √w·e]`` is again of unit length, and the inner product of two such vectors is
``(1-w)·cos_u + w·cos_e``. So one FAISS inner-product index over the joined vectors finds exactly the best
documents by the weighted mean, and ``retrieval.index`` / ``retrieval.retriever`` need no second index, no
second candidate list and no second fusion step. The weight ``w`` is part of the model id
(``use-multilingual-v3+multilingual-e5-small-q4@0.5``), so changing it rebuilds the index; each part keeps its
own vector cache (``retrieval.vector_cache``), so that rebuild encodes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["PairedEncoder", "parse_pair"]


def parse_pair(name: str, default_weight: float) -> tuple[str, str, float] | None:
    """``"first+second[@w]"`` as (first, second, w); ``None`` for a single model's name."""
    if "+" not in name:
        return None
    pair, _, weight_text = name.partition("@")
    first, _, second = pair.partition("+")
    try:
        weight = float(weight_text) if weight_text else default_weight
    except ValueError:
        raise ValueError(f"{name!r}: the weight after '@' must be a number") from None
    if not first or not second or not 0.0 <= weight <= 1.0:
        raise ValueError(f"{name!r}: expected 'first+second' or 'first+second@w' with w in [0, 1]")
    return first, second, weight


class PairedEncoder:
    """``encode_query`` / ``encode_document`` joining two encoders' unit vectors, weighted (module docstring)."""

    def __init__(self, first: Any, second: Any, weight: float) -> None:
        self.first, self.second, self.weight = first, second, weight
        self._scales = (float(np.sqrt(1.0 - weight)), float(np.sqrt(weight)))

    def get_embedding_dimension(self) -> int:
        return sum(_dimension(part) for part in (self.first, self.second))

    def _join(self, method: str, texts: Sequence[str], kwargs: dict[str, Any]) -> np.ndarray:
        kwargs = {**kwargs, "normalize_embeddings": True, "convert_to_numpy": True}
        parts = []
        for part, scale in zip((self.first, self.second), self._scales, strict=True):
            encode = getattr(part, method, None) or part.encode
            parts.append(np.asarray(encode(list(texts), **kwargs), dtype=np.float32) * scale)
        return np.hstack(parts)

    def encode_query(self, texts: Sequence[str], **kwargs: Any) -> np.ndarray:
        """Joined query vectors (each part with its own query prompt, if it has one)."""
        return self._join("encode_query", texts, kwargs)

    def encode_document(self, texts: Sequence[str], **kwargs: Any) -> np.ndarray:
        """Joined document vectors (each part with its own document prompt and cache)."""
        return self._join("encode_document", texts, kwargs)

    def encode(self, texts: Sequence[str], **kwargs: Any) -> np.ndarray:
        """As :meth:`encode_query`: the callers of plain ``encode`` embed short texts."""
        return self.encode_query(texts, **kwargs)

    def flush(self) -> None:
        """Save both parts' vector caches."""
        for part in (self.first, self.second):
            flush = getattr(part, "flush", None)
            if flush is not None:
                flush()


def _dimension(encoder: Any) -> int:
    getter = getattr(encoder, "get_embedding_dimension", None) or encoder.get_sentence_embedding_dimension
    return int(getter())
