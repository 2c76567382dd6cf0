"""The knowledge corpus: statutes (parsed into articles), reference cases and answer cards.

Owns the files under ``corpus/data``, their parsers, the corpus tables and the importer.
"""

from corpus.errors import CitationError, CorpusError, CorpusFormatError
from corpus.importer import ImportReport, import_corpus
from corpus.repository import CorpusRepository

__all__ = ["CitationError", "CorpusError", "CorpusFormatError", "CorpusRepository", "ImportReport", "import_corpus"]
