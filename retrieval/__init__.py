"""Finding the law for a resident's question: hybrid BM25 + dense retrieval with citations.

Owns the analyzer tables in ``retrieval/data``, the saved index format, fusion, filters, confidence
calibration, the resolution of explicit citations (``劳动合同法第三十条``) and the retrieval benchmark.
Knows nothing of the database: it indexes ``Document`` values.
"""

from retrieval.citations import CitationResolver, Resolution
from retrieval.documents import Document, Filters, Hit
from retrieval.index import IndexError_, RetrievalIndex
from retrieval.retriever import FusionConfig, Retriever

__all__ = ["CitationResolver", "Document", "Filters", "FusionConfig", "Hit", "IndexError_", "Resolution",
           "RetrievalIndex", "Retriever"]
