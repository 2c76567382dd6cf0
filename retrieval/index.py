"""The saved retrieval index: documents, BM25, FAISS and a manifest, built in full or per document.

Layout of ``LAWLINE_INDEX_DIR``::

    manifest.json   model id, dimension, corpus version, per-document fingerprints, calibration
    documents.jsonl one Document per line, in index order
    bm25/           bm25s index
    dense.faiss     FAISS IndexIDMap2(IndexFlatIP)

A build writes a fresh folder beside the old one and swaps it in with ``os.replace``, so a failed or
interrupted build leaves the previous index untouched.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.dense import DenseIndex, Encoder, dimension_of, encode_in_batches
from retrieval.documents import Document
from retrieval.sparse import SparseIndex
from retrieval.text import LegalAnalyzer

__all__ = ["BuildStats", "IndexError_", "Manifest", "RetrievalIndex"]

log = logging.getLogger(__name__)
FORMAT = 1


class IndexError_(RuntimeError):  # noqa: N801 - "IndexError" is a builtin
    """The index is missing, from another model, or unreadable; ``lawline index build`` fixes it."""


@dataclass
class Manifest:
    """What an index was built from; a mismatch with the running settings forces a rebuild."""

    model: str
    dimension: int
    corpus_version: str
    analyzer: dict[str, Any]
    built_at: str
    next_id: int
    ids: dict[str, tuple[int, str]]  # document id -> (FAISS id, fingerprint)
    calibration: dict[str, Any] = field(default_factory=dict)
    format: int = FORMAT

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["ids"] = {k: list(v) for k, v in self.ids.items()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        values = dict(data)
        values["ids"] = {k: (int(v[0]), str(v[1])) for k, v in values["ids"].items()}
        return cls(**values)


@dataclass
class BuildStats:
    """How much work a build did: documents, encoded, removed from FAISS, reused, seconds."""

    documents: int
    encoded: int
    removed: int
    reused: int
    seconds: float


class RetrievalIndex:
    """Documents with their sparse and dense indexes; rows of ``documents`` line up with BM25 rows."""

    def __init__(
        self, documents: list[Document], faiss_ids: np.ndarray, sparse: SparseIndex, dense: DenseIndex,
        manifest: Manifest,
    ) -> None:
        self.documents = documents
        self.faiss_ids = faiss_ids
        self.sparse = sparse
        self.dense = dense
        self.manifest = manifest
        self.row_of_faiss_id = {int(fid): row for row, fid in enumerate(faiss_ids)}

    # ---- building ---------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        documents: Sequence[Document],
        encoder: Encoder,
        model_id: str,
        analyzer: LegalAnalyzer,
        analyzer_info: dict[str, Any],
        corpus_version: str,
        *,
        previous: RetrievalIndex | None = None,
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[RetrievalIndex, BuildStats]:
        """Index ``documents``; with ``previous`` (same model), re-encode only new or changed ones."""
        import time

        started = time.perf_counter()
        seen: set[str] = set()
        for doc in documents:
            if doc.id in seen:
                raise ValueError(f"duplicate document id {doc.id!r}")
            seen.add(doc.id)
        if previous is not None and previous.manifest.model != model_id:
            log.info("embedding model changed (%s -> %s): full rebuild", previous.manifest.model, model_id)
            previous = None
        if previous is not None:
            # Work on a copy: the previous index may be serving searches while this one is built.
            dense, ids, next_id = previous.dense.copy(), dict(previous.manifest.ids), previous.manifest.next_id
        else:
            dense, ids, next_id = DenseIndex.empty(dimension_of(encoder)), {}, 1
        gone = [ids.pop(doc_id)[0] for doc_id in list(ids) if doc_id not in seen]
        todo: list[Document] = []
        stale: list[int] = []
        for doc in documents:
            known = ids.get(doc.id)
            if known is not None and known[1] == doc.fingerprint:
                continue
            if known is not None:
                stale.append(known[0])
            todo.append(doc)
        removed = dense.remove(gone + stale)
        if todo:
            vectors = encode_in_batches(encoder, [d.index_text() for d in todo], batch_size, progress)
            new_ids = np.arange(next_id, next_id + len(todo), dtype=np.int64)
            dense.add(new_ids, vectors)
            del vectors  # FAISS holds its own copy; do not keep two during the BM25 build
            for doc, fid in zip(todo, new_ids, strict=True):
                ids[doc.id] = (int(fid), doc.fingerprint)
            next_id += len(todo)
        docs = list(documents)
        sparse = SparseIndex.build(analyzer.terms(d.index_text()) for d in docs)
        manifest = Manifest(
            model=model_id,
            dimension=dense.dimension,
            corpus_version=corpus_version,
            analyzer=analyzer_info,
            built_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            next_id=next_id,
            ids=ids,
        )
        faiss_ids = np.asarray([ids[d.id][0] for d in docs], dtype=np.int64)
        stats = BuildStats(len(docs), len(todo), removed, len(docs) - len(todo), time.perf_counter() - started)
        return cls(docs, faiss_ids, sparse, dense, manifest), stats

    # ---- persistence ------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """Write atomically: a sibling temp folder, then swap."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".index-", dir=folder.parent))
        try:
            with (staging / "documents.jsonl").open("w", encoding="utf-8") as out:
                for doc in self.documents:
                    out.write(json.dumps(doc.to_json(), ensure_ascii=False) + "\n")
            self.sparse.save(staging / "bm25")
            self.dense.save(staging / "dense.faiss")
            (staging / "manifest.json").write_text(
                json.dumps(self.manifest.to_json(), ensure_ascii=False, indent=1), encoding="utf-8"
            )
            old = folder.with_name(folder.name + ".old")
            if folder.exists():
                shutil.rmtree(old, ignore_errors=True)
                os.replace(folder, old)
            os.replace(staging, folder)
            shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    @classmethod
    def load(cls, folder: Path) -> RetrievalIndex:
        manifest_path = folder / "manifest.json"
        if not manifest_path.is_file():
            raise IndexError_(f"no index at {folder}; run `lawline index build`")
        try:
            manifest = Manifest.from_json(json.loads(manifest_path.read_text(encoding="utf-8")))
            if manifest.format != FORMAT:
                raise IndexError_(f"index format {manifest.format} is not {FORMAT}; rebuild it")
            with (folder / "documents.jsonl").open(encoding="utf-8") as lines:
                documents = [Document.from_json(json.loads(line)) for line in lines]
            sparse = SparseIndex.load(folder / "bm25")
            dense = DenseIndex.load(folder / "dense.faiss")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexError_(f"index at {folder} is unreadable ({exc}); rebuild it") from exc
        faiss_ids = np.asarray([manifest.ids[d.id][0] for d in documents], dtype=np.int64)
        if sparse.size != len(documents) or dense.size != len(documents):
            raise IndexError_(f"index at {folder} is inconsistent; rebuild it")
        return cls(documents, faiss_ids, sparse, dense, manifest)
