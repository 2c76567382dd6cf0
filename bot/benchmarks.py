"""Loading benchmark inputs into the production shapes (corpus helpers + retrieval documents)."""

from __future__ import annotations

from pathlib import Path

from corpus.statutes import level_of_title, short_name_of
from retrieval.bench import BenchError, read_jsonl
from retrieval.documents import Document, format_citation

__all__ = ["load_bench_corpus"]


def load_bench_corpus(path: Path) -> list[Document]:
    """Articles of a benchmark corpus (``{"id", "law", "article_no", "text"}``) as retrieval documents.

    Only those four fields are read; anything else on a line is ignored.
    """
    docs: list[Document] = []
    seen: set[str] = set()
    for number, row in read_jsonl(path):
        try:
            doc_id, law, label, text = (str(row[k]) for k in ("id", "law", "article_no", "text"))
        except KeyError as exc:
            raise BenchError(f"{path}:{number}: missing field {exc.args[0]!r}") from None
        if doc_id in seen:
            raise BenchError(f"{path}:{number}: duplicate id {doc_id!r}")
        seen.add(doc_id)
        docs.append(
            Document(
                id=doc_id, kind="article", title=law, citation=format_citation(law, label), text=text, label=label,
                law=law, short_name=short_name_of(law), level=level_of_title(law),
            )
        )
    return docs
