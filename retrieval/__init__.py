"""Finding the law for a resident's question: hybrid BM25 + dense retrieval with citations.

Owns the analyzer tables in ``retrieval/data``, the saved index format, fusion, filters, confidence
calibration and the retrieval benchmark. Knows nothing of the database: it indexes ``Document`` values.
"""

from retrieval.documents import Document, Filters, Hit
from retrieval.index import IndexError_, RetrievalIndex
from retrieval.retriever import FusionConfig, Retriever

__all__ = ["Document", "Filters", "FusionConfig", "Hit", "IndexError_", "RetrievalIndex", "Retriever"]
