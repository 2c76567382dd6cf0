"""``lawline bench retrieval``: index a JSONL corpus with the production pipeline and measure it.

Corpus lines ``{"id", "law", "article_no", "text", …}``; query lines ``{"id", "query", "relevant": [ids]}``;
other fields are ignored (in particular nothing that hints at which articles are labelled).

Citation lines (``--citations``) name the article by law title and label, so that one set serves any corpus
holding those laws: ``{"id", "form", "query", "context": [earlier citations], "law", "article"}`` must
find that article at rank 1; ``{"query", "repealed", "successor"}`` must say the law was repealed and name
its successor; a line with neither must pin no article (a contract's clause, a law not in the corpus).
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

__all__ = ["BenchError", "CitationCase", "Query", "citation_right", "evaluate", "evaluate_citations", "load_citations",
           "load_queries", "read_jsonl", "run_retrieval_bench"]

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


@dataclass(frozen=True, slots=True)
class CitationCase:
    """A team-written citation and what it must come to (see the module docstring)."""

    id: str
    form: str
    text: str
    context: tuple[str, ...] = ()
    law: str = ""
    article: str = ""
    repealed: str = ""
    successor: str = ""

    @property
    def expects(self) -> str:
        return "article" if self.article else "repealed" if self.repealed else "none"


def load_citations(path: Path) -> list[CitationCase]:
    """Read citation lines; an article line needs ``law``, a repealed line ``successor``."""
    cases = []
    for number, row in read_jsonl(path):
        text, context = row.get("query"), row.get("context") or []
        if not isinstance(text, str) or not isinstance(context, list):
            raise BenchError(f"{path}:{number}: needs 'query' (text) and an optional 'context' (list)")
        case = CitationCase(str(row.get("id", number)), str(row.get("form", "")), text, tuple(map(str, context)),
                            str(row.get("law") or ""), str(row.get("article") or ""), str(row.get("repealed") or ""),
                            str(row.get("successor") or ""))
        if (case.article and not case.law) or (case.repealed and case.article):
            raise BenchError(f"{path}:{number}: an article line needs 'law'; a repealed line has no 'article'")
        cases.append(case)
    return cases


def citation_right(retriever: Retriever, case: CitationCase) -> bool:
    """Whether the one search path does what ``case`` expects (through ``search``, as residents' questions go)."""
    hits = retriever.search(case.text, k=1, context=case.context)
    if case.expects == "article":
        doc = hits[0].document if hits else None
        return doc is not None and doc.kind == "article" and case.law in (doc.law, doc.title) \
            and doc.label == case.article
    if case.expects == "repealed":
        return any(r.repeal is not None and r.repeal.law == case.repealed and (r.repeal.successor or "")
                   == case.successor for r in retriever.citations.resolve(case.text, context=case.context))
    return not (hits and hits[0].cited)


def evaluate_citations(retriever: Retriever, cases: list[CitationCase]) -> tuple[dict[str, float], list[str]]:
    """Shares right: the exact article at rank 1, repealed laws named with their successor, nothing pinned.

    "Nothing pinned" is for lines that cite no article of the corpus; the lines that were wrong are returned too.
    """
    right: dict[str, list[bool]] = {"article": [], "repealed": [], "none": []}
    wrong: list[str] = []
    for case in cases:
        ok = citation_right(retriever, case)
        right[case.expects].append(ok)
        if not ok:
            wrong.append(f"{case.id}{f' ({case.form})' if case.form else ''}: {case.text}")
    result = {"citations@1": float(np.mean(right["article"])) if right["article"] else 0.0,
              "citations_repealed": float(np.mean(right["repealed"])) if right["repealed"] else 0.0,
              "citations_none": float(np.mean(right["none"])) if right["none"] else 0.0,
              "citation_lines": float(len(cases))}
    return result, wrong


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


CASE_KINDS = frozenset({"case"})


def evaluate_cases(retriever: Retriever, queries: list[Query], show_at: float) -> dict[str, float]:
    """How well the reference cases are found: among the case hits of each question (``kind`` case only).

    ``case@1`` / ``case@3``: share of questions with a relevant case whose case is first / in the first three.
    A case is *shown* when the first case hit's confidence is at least ``show_at``: ``case_shown_right`` is the
    share of questions with a relevant case where the shown case is it; ``case_shown_wrongly`` the share of
    questions with no fitting case (``relevant`` empty) that would be shown one anyway.
    """
    from retrieval.documents import Filters

    at1, at3, shown_right, shown_wrongly = [], [], [], []
    for query in queries:
        hits = retriever.search(query.text, k=3, filters=Filters(kinds=CASE_KINDS))
        ids = [h.document.id for h in hits]
        shown = bool(hits) and hits[0].confidence >= show_at
        if query.relevant:
            at1.append(bool(ids) and ids[0] in query.relevant)
            at3.append(bool(query.relevant.intersection(ids)))
            shown_right.append(shown and ids[0] in query.relevant)
        else:
            shown_wrongly.append(shown)

    def share(values: list[bool]) -> float:
        return float(np.mean(values)) if values else 0.0

    return {"case@1": share(at1), "case@3": share(at3), "case_shown_right": share(shown_right),
            "case_shown_wrongly": share(shown_wrongly), "case_queries": float(len(at1)),
            "case_none_queries": float(len(shown_wrongly))}


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
    citations: list[CitationCase] | None = None,
    wrong: list[str] | None = None,
    cases: list[Query] | None = None,
    case_show_at: float = 0.5,
) -> dict[str, float]:
    """Build the index over the benchmark corpus (timed), evaluate every query and every citation line.

    The citation lines that came out wrong are appended to ``wrong``.
    """
    started = time.perf_counter()
    index, _ = RetrievalIndex.build(
        docs, encoder, model_id, analyzer, analyzer_info, corpus_version="bench", batch_size=batch_size,
        progress=progress,
    )
    build_seconds = time.perf_counter() - started
    retriever = Retriever(index, encoder, analyzer, fusion)
    retriever.search("预热", k=1)  # first-call set-up (thread pools, filter mask) is not a query cost
    result = evaluate(retriever, queries, top) if queries else {}
    if citations:
        cited, failed = evaluate_citations(retriever, citations)
        result.update(cited)
        if wrong is not None:
            wrong.extend(failed)
    if cases:
        result.update(evaluate_cases(retriever, cases, case_show_at))
    result["index_build_s"] = build_seconds
    result["peak_rss_mb"] = _peak_rss_mb()
    result["documents"] = float(len(docs))
    result["queries"] = float(len(queries))
    return result
