"""``lawline bench retrieval``: index a JSONL corpus with the production pipeline and measure it.

Corpus lines ``{"id", "law", "article_no", "text", …}``; query lines ``{"id", "query", "relevant": [ids]}``;
other fields are ignored (in particular nothing that hints at which articles are labelled).
"""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.dense import Encoder
from retrieval.documents import Document
from retrieval.index import RetrievalIndex
from retrieval.retriever import FusionConfig, Retriever
from retrieval.text import LegalAnalyzer

__all__ = ["BenchError", "Query", "evaluate", "load_queries", "read_jsonl", "run_retrieval_bench"]

KS = (1, 5, 10, 20)


class BenchError(ValueError):
    """A benchmark input file is malformed; the message names file and line."""


@dataclass(frozen=True, slots=True)
class Query:
    """A benchmark question and the ids of the documents that answer it."""

    id: str
    text: str
    relevant: frozenset[str]


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-empty line; a bad line raises ``BenchError``."""
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BenchError(f"{path}:{number}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise BenchError(f"{path}:{number}: expected a JSON object")
            yield number, row


def load_queries(path: Path) -> list[Query]:
    """Read ``{"id", "query", "relevant": [ids]}`` lines."""
    queries = []
    for number, row in read_jsonl(path):
        relevant = row.get("relevant")
        if not isinstance(row.get("query"), str) or not isinstance(relevant, list):
            raise BenchError(f"{path}:{number}: needs 'query' (text) and 'relevant' (list of ids)")
        queries.append(Query(str(row.get("id", number)), row["query"], frozenset(map(str, relevant))))
    return queries


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def evaluate(retriever: Retriever, queries: list[Query], top: int) -> dict[str, float]:
    """Recall@k (share of relevant articles found in the top k, averaged), MRR@10 and latency."""
    recalls = {k: [] for k in KS}  # type: dict[int, list[float]]
    reciprocal: list[float] = []
    latencies: list[float] = []
    for query in queries:
        started = time.perf_counter()
        hits = retriever.search(query.text, k=max(top, *KS))
        latencies.append((time.perf_counter() - started) * 1000)
        ids = [h.document.id for h in hits]
        for k in KS:
            found = len(query.relevant.intersection(ids[:k]))
            recalls[k].append(found / len(query.relevant) if query.relevant else 0.0)
        rank = next((i for i, doc_id in enumerate(ids[:10], 1) if doc_id in query.relevant), None)
        reciprocal.append(1.0 / rank if rank else 0.0)
    result = {f"recall@{k}": float(np.mean(v)) if v else 0.0 for k, v in recalls.items()}
    result["mrr@10"] = float(np.mean(reciprocal)) if reciprocal else 0.0
    result["p50_ms"] = float(np.percentile(latencies, 50)) if latencies else 0.0
    result["p95_ms"] = float(np.percentile(latencies, 95)) if latencies else 0.0
    return result


def run_retrieval_bench(
    docs: list[Document],
    queries: list[Query],
    encoder: Encoder,
    model_id: str,
    analyzer: LegalAnalyzer,
    analyzer_info: dict[str, Any],
    *,
    top: int = 20,
    fusion: FusionConfig | None = None,
    batch_size: int = 64,
    progress: Callable[[int], None] | None = None,
) -> dict[str, float]:
    """Build the index over the benchmark corpus (timed) and evaluate every query."""
    started = time.perf_counter()
    index, _ = RetrievalIndex.build(
        docs, encoder, model_id, analyzer, analyzer_info, corpus_version="bench", batch_size=batch_size,
        progress=progress,
    )
    build_seconds = time.perf_counter() - started
    retriever = Retriever(index, encoder, analyzer, fusion)
    retriever.search("预热", k=1)  # first-call set-up (thread pools, filter mask) is not a query cost
    result = evaluate(retriever, queries, top)
    result["index_build_s"] = build_seconds
    result["peak_rss_mb"] = _peak_rss_mb()
    result["documents"] = float(len(docs))
    result["queries"] = float(len(queries))
    return result
