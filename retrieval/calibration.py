"""Confidence calibration: Platt scaling of hit features against questions with known answers.

The calibration questions are the team's own: each answer card's ``questions`` with the articles the card
cites as the relevant set (cards themselves are excluded from the ranking, or a card would trivially
find itself). The fitted coefficients are stored in the index manifest; ``Retriever.confidence`` applies
them. The reliability table (predicted vs observed by bin) is returned so the build can print it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from retrieval.documents import Filters
from retrieval.retriever import Retriever

__all__ = ["CalibrationQuestion", "fit_calibration"]


@dataclass(frozen=True, slots=True)
class CalibrationQuestion:
    """A question of ours with the documents that answer it."""

    text: str
    relevant: frozenset[str]  # document ids


def _examples(
    retriever: Retriever, questions: Sequence[CalibrationQuestion], depth: int
) -> tuple[np.ndarray, np.ndarray]:
    only_law = Filters(kinds=frozenset({"article", "case"}))
    rows: list[list[float]] = []
    labels: list[int] = []
    for question in questions:
        ranking = retriever.rank(question.text, k=depth, filters=only_law)
        for rank, row in enumerate(ranking.rows):
            rows.append(ranking.features(rank))
            labels.append(int(retriever.documents[int(row)].id in question.relevant))
    return np.asarray(rows, dtype=np.float64), np.asarray(labels, dtype=np.int64)


def fit_calibration(
    retriever: Retriever, questions: Sequence[CalibrationQuestion], depth: int = 10
) -> dict[str, Any]:
    """Fit Platt scaling on the top-``depth`` hits of every question; return manifest-ready parameters."""
    x, y = _examples(retriever, questions, depth)
    if len(set(y.tolist())) < 2:
        raise ValueError("calibration needs both relevant and irrelevant hits; are the cards imported?")
    model = LogisticRegression(C=1.0, max_iter=1000)
    model.fit(x, y)
    predicted = model.predict_proba(x)[:, 1]
    bins = []
    for low in np.arange(0.0, 1.0, 0.2):
        inside = (predicted >= low) & (predicted < low + 0.2)
        if inside.any():
            bins.append({"bin": f"{low:.1f}-{low + 0.2:.1f}", "n": int(inside.sum()),
                         "predicted": round(float(predicted[inside].mean()), 3),
                         "observed": round(float(y[inside].mean()), 3)})
    brier = float(np.mean((predicted - y) ** 2))
    return {
        "method": "platt",
        "coef": [float(c) for c in model.coef_[0]],
        "intercept": float(model.intercept_[0]),
        "questions": len(questions),
        "examples": int(len(y)),
        "positives": int(y.sum()),
        "brier": round(brier, 4),
        "reliability": bins,
    }
