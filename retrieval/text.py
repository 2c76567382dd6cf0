"""Chinese text → index terms: jieba with the legal user dictionary, stopwords, colloquial expansion.

The three tables live in ``retrieval/data`` and are edited by knowledge editors:
``legal_terms.txt`` (jieba user dictionary), ``colloquial.tsv`` (口语 → 法律用语) and ``stopwords.txt``.
A private ``jieba.Tokenizer`` is used so that nothing global is touched and nothing loads at import.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import jieba

__all__ = ["DATA_DIR", "LegalAnalyzer", "QueryTerms", "load_analyzer"]

log = logging.getLogger(__name__)
jieba.setLogLevel(logging.WARNING)

DATA_DIR = Path(__file__).resolve().parent / "data"
_KEEP = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")
_MAX_QUERY_CHARS = 2000


@dataclass(frozen=True, slots=True)
class QueryTerms:
    """A query's own terms and the legal terms its colloquial words expand to."""

    terms: list[str]
    expansions: list[str]
    matched: list[str]  # colloquial entries that fired, for explanations and the hit test


def _data_lines(path: Path) -> Iterable[str]:
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            yield line


def normalize(text: str) -> str:
    """NFKC (full-width → half-width), lower-case Latin letters."""
    return unicodedata.normalize("NFKC", text).lower()


class LegalAnalyzer:
    """Turns documents and queries into BM25 terms, the same way at index and at query time."""

    def __init__(
        self,
        user_words: Iterable[tuple[str, int | None]],
        expansions: dict[str, list[str]],
        stopwords: set[str],
        *,
        bigrams: bool = True,
    ) -> None:
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        for word, freq in user_words:
            self._jieba.add_word(word, freq)
        self.stopwords = stopwords
        self.bigrams = bigrams
        # Longest colloquial keys first so that 包工头跑了 wins over 包工头.
        self.expansions = dict(sorted(expansions.items(), key=lambda kv: -len(kv[0])))

    def segment(self, text: str) -> list[str]:
        """Jieba search-mode words, without stopwords and punctuation."""
        words = self._jieba.cut_for_search(normalize(text))
        return [w for w in words if _KEEP.search(w) and w not in self.stopwords and not w.isspace()]

    def terms(self, text: str) -> list[str]:
        """Index terms: words plus (optionally) character bigrams of the Chinese runs."""
        words = self.segment(text)
        if not self.bigrams:
            return words
        grams: list[str] = []
        for run in re.findall(r"[\u4e00-\u9fff]{2,}", normalize(text)):
            grams.extend("#" + run[i : i + 2] for i in range(len(run) - 1))
        return words + grams

    def query(self, text: str) -> QueryTerms:
        """Terms of a resident's question and its colloquial → legal expansions."""
        text = normalize(text[:_MAX_QUERY_CHARS])
        matched = [key for key in self.expansions if key in text]
        expansions: list[str] = []
        for key in matched:
            for legal in self.expansions[key]:
                expansions.extend(self.terms(legal))
        return QueryTerms(self.terms(text), expansions, matched)


def load_analyzer(data_dir: Path = DATA_DIR, *, bigrams: bool = True) -> LegalAnalyzer:
    """Load the three editable tables; a malformed line names its file and line."""
    words: list[tuple[str, int | None]] = []
    for number, line in enumerate((data_dir / "legal_terms.txt").read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        if len(parts) > 1 and not parts[1].isdigit():
            raise ValueError(f"{data_dir / 'legal_terms.txt'}:{number}: frequency must be a number")
        words.append((parts[0], freq))
    expansions: dict[str, list[str]] = {}
    path = data_dir / "colloquial.tsv"
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("\t")
        if not sep or not key.strip() or not value.split():
            raise ValueError(f"{path}:{number}: expected '口语词<TAB>法律用语 …'")
        expansions.setdefault(normalize(key.strip()), []).extend(value.split())
    stopwords = {normalize(w) for w in _data_lines(data_dir / "stopwords.txt")}
    return LegalAnalyzer(words, expansions, stopwords, bigrams=bigrams)
