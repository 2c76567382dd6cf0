"""Errors raised while reading or importing corpus files.

CorpusError                 root; carries ``path`` and ``line`` (1-based) when known
├── CorpusFormatError       a file does not follow the Markdown + front-matter format
└── CitationError           an answer card cites an article that is not in the corpus
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CitationError", "CorpusError", "CorpusFormatError"]


class CorpusError(Exception):
    """Root of the corpus package's errors; ``str()`` reads ``file:line: reason``."""

    def __init__(self, reason: str, path: Path | str | None = None, line: int | None = None) -> None:
        self.reason = reason
        self.path = Path(path) if path is not None else None
        self.line = line
        where = ""
        if self.path is not None:
            where = f"{self.path}:{line}: " if line else f"{self.path}: "
        super().__init__(f"{where}{reason}")


class CorpusFormatError(CorpusError):
    """A statute, case or card file is malformed."""


class CitationError(CorpusError):
    """A citation does not resolve to an article present in the corpus."""
