"""Answer cards: the team's short plain-language answers, each tied to the articles it relies on.

A card also states its scope: ``questions`` it answers and ``not_for`` questions that read alike but need
another answer. The composer shows a card only for questions nearer the first than the second
(``bot/card_scope.py``), so a missing or token ``not_for`` is refused here rather than found in a reply.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from corpus.cases import TOPICS
from corpus.errors import CorpusFormatError

__all__ = ["NOT_FOR_RANGE", "CardCitation", "ParsedCard", "parse_card"]

_ID_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_ARTICLE_RE = re.compile(r"^第[零〇一二三四五六七八九十百千]+条(之[一二三四五六七八九十]+)?$")
NOT_FOR_RANGE = (3, 12)  # how many out-of-scope examples a card gives (corpus/data/cards/README.md)
_PUNCTUATION = re.compile(r"[\s，。？！、,.?!；;：:“”\"'（）()]+")


@dataclass(frozen=True, slots=True)
class CardCitation:
    """An article a card relies on, with the line of the card file that names it."""

    law: str
    article: str  # 第三十条
    line: int


@dataclass(frozen=True, slots=True)
class ParsedCard:
    """A card as written in its YAML file."""

    id: str
    topic: str
    title: str
    questions: tuple[str, ...]
    not_for: tuple[str, ...]  # questions close in words that need another answer
    answer: str
    next_steps: tuple[str, ...]
    where_to_go: tuple[str, ...]
    citations: tuple[CardCitation, ...]
    version: int
    updated: dt.date | None
    reviewed: bool
    path: Path
    sha256: str


def _line_of(lines: list[str], needle: str, start: int = 0) -> int:
    for number, line in enumerate(lines[start:], start=start + 1):
        if needle in line:
            return number
    return 1


def _strings(data: dict[str, Any], key: str, path: Path, lines: list[str], required: bool = True) -> tuple[str, ...]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise CorpusFormatError(f"'{key}' must be a list of non-empty strings", path, _line_of(lines, f"{key}:"))
    if required and not value:
        raise CorpusFormatError(f"'{key}' must not be empty", path, _line_of(lines, f"{key}:"))
    return tuple(v.strip() for v in value)


def _bare(text: str) -> str:
    return _PUNCTUATION.sub("", text)


def _not_for(data: dict[str, Any], title: str, questions: tuple[str, ...], path: Path,
             lines: list[str]) -> tuple[str, ...]:
    """The out-of-scope examples: required, 3–12, distinct, and none of them a question the card answers."""
    if "not_for" not in data:
        raise CorpusFormatError("'not_for' is missing: list 3–12 questions this card must not answer", path,
                                _line_of(lines, "answer:"))
    items = _strings(data, "not_for", path, lines)
    cursor = _line_of(lines, "not_for:")
    low, high = NOT_FOR_RANGE
    if not low <= len(items) <= high:
        raise CorpusFormatError(f"'not_for' needs {low}–{high} questions, not {len(items)}", path, cursor)
    in_scope = {_bare(q) for q in (title, *questions)}
    seen: set[str] = set()
    for item in items:
        cursor = _line_of(lines, item, cursor)
        bare = _bare(item)
        if bare in in_scope:
            raise CorpusFormatError(f"'not_for' repeats a question the card answers: {item!r}", path, cursor)
        if bare in seen:
            raise CorpusFormatError(f"'not_for' lists {item!r} twice", path, cursor)
        seen.add(bare)
    return items


def parse_card(path: Path) -> ParsedCard:
    """Read and check one card file; raise ``CorpusFormatError`` with the line of the first problem."""
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusFormatError(f"cannot read card ({exc})", path) from exc
    lines = text.split("\n")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise CorpusFormatError(f"not valid YAML ({getattr(exc, 'problem', exc)})", path,
                                mark.line + 1 if mark else 1) from exc
    if not isinstance(data, dict):
        raise CorpusFormatError("a card must be a YAML mapping", path, 1)
    card_id = str(data.get("id") or "")
    if not _ID_RE.match(card_id) or card_id != path.stem:
        raise CorpusFormatError(f"id {card_id!r} must be lowercase-hyphenated and equal the file name", path,
                                _line_of(lines, "id:"))
    topic = str(data.get("topic") or "")
    if topic not in TOPICS:
        raise CorpusFormatError(f"topic must be one of {', '.join(TOPICS)}", path, _line_of(lines, "topic:"))
    for key in ("title", "answer"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise CorpusFormatError(f"'{key}' must be non-empty text", path, _line_of(lines, f"{key}:"))
    citations: list[CardCitation] = []
    raw_citations = data.get("citations")
    if not isinstance(raw_citations, list) or not raw_citations:
        raise CorpusFormatError("a card must cite at least one article", path, _line_of(lines, "citations:"))
    cursor = _line_of(lines, "citations:") - 1
    for item in raw_citations:
        if not isinstance(item, dict) or not item.get("law") or not item.get("article"):
            raise CorpusFormatError("each citation needs 'law' and 'article'", path, cursor + 1)
        article = str(item["article"]).strip()
        line = _line_of(lines, article, cursor)
        if not _ARTICLE_RE.match(article):
            raise CorpusFormatError(f"article {article!r} is not of the form 第X条", path, line)
        citations.append(CardCitation(str(item["law"]).strip(), article, line))
        cursor = line
    version = data.get("version", 1)
    if not isinstance(version, int) or version < 1:
        raise CorpusFormatError("version must be a positive integer", path, _line_of(lines, "version:"))
    updated = data.get("updated")
    if updated is not None and not isinstance(updated, dt.date):
        raise CorpusFormatError("updated must be a date (YYYY-MM-DD)", path, _line_of(lines, "updated:"))
    title = data["title"].strip()
    questions = _strings(data, "questions", path, lines, required=False)
    return ParsedCard(
        id=card_id,
        topic=topic,
        title=title,
        questions=questions,
        not_for=_not_for(data, title, questions, path, lines),
        answer=data["answer"].strip(),
        next_steps=_strings(data, "next_steps", path, lines),
        where_to_go=_strings(data, "where_to_go", path, lines),
        citations=tuple(citations),
        version=version,
        updated=updated,
        reviewed=bool(data.get("reviewed", False)),
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
    )
