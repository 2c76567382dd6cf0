"""Document vectors kept by (model, text fingerprint), so that a rebuild encodes only what changed.

Why: e5-small encodes a few articles a second per core on this project's machines (issue #18), so a full
encode of the shipped corpus takes minutes and one of the 58k benchmark corpus hours. The index already
re-encodes only changed documents when the previous index is there; this cache also serves a fresh machine
(``make run``: the shipped corpus' vectors are committed under ``retrieval/data/vectors``), a rebuild after the
model id changed (another fusion weight of the same encoders), and the benchmark (one encode, several runs).

A vector is found by the model's key (the encoder and the prompt documents get) and the first 16 bytes of
the SHA-256 of the exact document text, so any change to what the encoder sees misses the cache. Vectors are
stored as float16 (the rounding moves a cosine by ~1e-3); a freshly encoded vector is rounded the same way,
so a search gives the same scores whether its vectors came from the cache or not.

File: one ``.npz`` per model key with ``model`` (the key), ``keys`` (``S16``) and ``vectors`` (float16).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["SHIPPED_VECTORS", "CachedEncoder", "VectorStore", "store_path", "text_key"]

log = logging.getLogger(__name__)

SHIPPED_VECTORS = Path(__file__).parent / "data" / "vectors"
FLUSH_EVERY = 4096  # new vectors between saves, so an interrupted long encode keeps most of its work


def text_key(text: str) -> bytes:
    """The fingerprint a vector is filed under: 16 bytes of the SHA-256 of the text."""
    return hashlib.sha256(text.encode("utf-8")).digest()[:16]


def store_path(folder: Path, model_key: str) -> Path:
    """``folder/<model key>.npz`` with the key made file-name safe."""
    return folder / (re.sub(r"[^A-Za-z0-9._-]+", "_", model_key) + ".npz")


class VectorStore:
    """The vectors of one model by text key, in memory, loaded from and saved to one ``.npz`` file."""

    def __init__(self, model_key: str, keys: np.ndarray | None = None, vectors: np.ndarray | None = None) -> None:
        self.model_key = model_key
        self._keys: list[np.ndarray] = [] if keys is None else [keys.astype("S16")]
        self._vectors: list[np.ndarray] = [] if vectors is None else [vectors.astype(np.float16)]
        self._row: dict[bytes, int] = {}
        self._size = 0
        if keys is not None:
            # numpy drops trailing NUL bytes of an "S16" item: pad them back, or 1 key in 256 never matches
            self._row = {bytes(k).ljust(16, b"\0"): i for i, k in enumerate(keys)}
            self._size = len(keys)
        self.added = 0  # vectors put since the last save

    @classmethod
    def load(cls, path: Path, model_key: str) -> VectorStore:
        """The store saved at ``path``; empty if it is missing, unreadable or of another model."""
        if not path.is_file():
            return cls(model_key)
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["model"]) != model_key:
                    log.warning("vector cache %s is for %s, not %s: ignored", path, data["model"], model_key)
                    return cls(model_key)
                return cls(model_key, data["keys"], data["vectors"])
        except (OSError, ValueError, KeyError) as exc:
            log.warning("vector cache %s is unreadable (%s): ignored", path, exc)
            return cls(model_key)

    def __len__(self) -> int:
        return len(self._row)

    def _compact(self) -> None:
        if len(self._vectors) > 1:
            self._keys, self._vectors = [np.concatenate(self._keys)], [np.concatenate(self._vectors)]

    def get(self, key: bytes) -> np.ndarray | None:
        """The float16 vector filed under ``key``, or ``None``."""
        row = self._row.get(key)
        if row is None:
            return None
        self._compact()
        vector: np.ndarray = self._vectors[0][row]
        return vector

    def put(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        """File ``vectors`` (one row per key) under ``keys``; a key already held keeps its first vector."""
        fresh: list[int] = []
        for i, key in enumerate(keys):
            if key not in self._row:
                self._row[key] = self._size
                self._size += 1
                fresh.append(i)
        if not fresh:
            return
        self._keys.append(np.asarray([keys[i] for i in fresh], dtype="S16"))
        self._vectors.append(np.asarray(vectors[fresh], dtype=np.float16))
        self.added += len(fresh)

    def save(self, path: Path) -> None:
        """Write atomically (a temporary file beside ``path``, then ``os.replace``)."""
        self._compact()
        path.parent.mkdir(parents=True, exist_ok=True)
        dimension = self._vectors[0].shape[1] if self._vectors else 0
        keys = self._keys[0] if self._keys else np.zeros(0, dtype="S16")
        vectors = self._vectors[0] if self._vectors else np.zeros((0, dimension), dtype=np.float16)
        handle, name = tempfile.mkstemp(prefix=path.stem, suffix=".npz", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                np.savez(out, model=np.asarray(self.model_key), keys=keys, vectors=vectors)
            os.chmod(name, 0o644)  # mkstemp makes it private; the shipped file is committed and read by everyone
            os.replace(name, path)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        self.added = 0


class CachedEncoder:
    """An encoder whose document vectors come from vector stores when they hold them.

    ``encode_document`` looks each text up in the shipped stores (read only) and the writable store, encodes
    only the misses through ``encoder`` and files them in the writable store (saved every
    ``FLUSH_EVERY`` new vectors and by :meth:`flush`). Queries are never cached. Anything else is the wrapped
    encoder's.
    """

    def __init__(self, encoder: Any, model_key: str, *, folder: Path | None = None,
                 shipped: Sequence[Path] = ()) -> None:
        self.encoder = encoder
        self.model_key = model_key
        self.shipped = [VectorStore.load(store_path(f, model_key), model_key) for f in shipped]
        self.path = store_path(folder, model_key) if folder is not None else None
        self.store = VectorStore.load(self.path, model_key) if self.path is not None else VectorStore(model_key)
        self.encoded = 0  # texts this process had to encode (the rest came from a store)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.encoder, name)

    def _cached(self, key: bytes) -> np.ndarray | None:
        for store in (self.store, *self.shipped):
            vector = store.get(key)
            if vector is not None:
                return vector
        return None

    def encode_document(self, texts: Sequence[str], **kwargs: Any) -> np.ndarray:
        """Vectors of ``texts`` as documents (float16-rounded, float32); only cache misses are encoded."""
        normalize = bool(kwargs.get("normalize_embeddings"))
        keys = [text_key(t) for t in texts]
        found = [self._cached(k) for k in keys]
        missing = [i for i, v in enumerate(found) if v is None]
        if missing:
            kwargs["convert_to_numpy"] = True
            fresh = np.asarray(_encode_document(self.encoder, [texts[i] for i in missing], **kwargs)).astype(np.float16)
            self.store.put([keys[i] for i in missing], fresh)
            self.encoded += len(missing)
            for n, i in enumerate(missing):
                found[i] = fresh[n]
            if self.path is not None and self.store.added >= FLUSH_EVERY:
                self.flush()
        rows = [v for v in found if v is not None]
        if not rows:
            return np.zeros((0, _dimension(self.encoder)), dtype=np.float32)
        vectors = np.vstack(rows).astype(np.float32)
        if normalize:
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors

    def flush(self) -> None:
        """Save the vectors encoded since the last save (if the cache has a folder)."""
        if self.path is not None and self.store.added:
            self.store.save(self.path)


def _encode_document(encoder: Any, texts: list[str], **kwargs: Any) -> Any:
    method = getattr(encoder, "encode_document", None) or encoder.encode
    return method(texts, **kwargs)


def _dimension(encoder: Any) -> int:
    getter = getattr(encoder, "get_embedding_dimension", None) or encoder.get_sentence_embedding_dimension
    return int(getter())
