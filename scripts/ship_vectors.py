"""Recipe: the e5 document vectors of the shipped corpus, for ``retrieval/data/vectors`` (issue #18).

Run after any change to ``corpus/data`` that e5 should see without encoding on every fresh machine::

    nice -n 19 .venv/bin/python scripts/ship_vectors.py [--corpus corpus/data] [--cache var/vectors]

It reads the corpus as production indexes it (``bot.indexing.folder_documents``), takes every document's
vector from the committed file, the local cache (``--cache``) or, failing both, encodes it (one torch thread,
a few documents a second), and rewrites the committed file with exactly the current documents' vectors
(float16): vectors of texts no longer in the corpus are dropped, so the file stays the corpus' size. A text
left out here is simply encoded by ``lawline index build``; nothing breaks, it is only slower.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    """Encode what is missing and write the committed store."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus" / "data")
    parser.add_argument("--cache", type=Path, default=ROOT / "var" / "vectors")
    args = parser.parse_args()

    from bot.indexing import folder_documents
    from retrieval.dense import encode_in_batches, load_encoder
    from retrieval.e5_encoder import E5_MODEL_ID
    from retrieval.vector_cache import SHIPPED_VECTORS, VectorStore, store_path, text_key

    started = time.perf_counter()
    documents = folder_documents(args.corpus)
    texts = sorted({d.index_text() for d in documents}, key=len)
    encoder = load_encoder(E5_MODEL_ID, vector_cache=args.cache)
    vectors = encode_in_batches(encoder, texts, 16, None)
    store = VectorStore(encoder.model_key)
    store.put([text_key(t) for t in texts], vectors)
    store.save(store_path(SHIPPED_VECTORS, encoder.model_key))
    print(f"{len(documents)} documents, {len(texts)} texts, {encoder.encoded} encoded now, "
          f"{time.perf_counter() - started:.0f} s -> {store_path(SHIPPED_VECTORS, encoder.model_key)}")


if __name__ == "__main__":
    main()
