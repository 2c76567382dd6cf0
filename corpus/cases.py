"""Parse a reference case file: title, number, court, date, topic, and its sections (facts, holding …)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpus.errors import CorpusFormatError
from corpus.frontmatter import SourceFile, read_source
from corpus.statutes import _jsonable

__all__ = ["CaseSection", "ParsedCase", "TOPICS", "parse_case"]

TOPICS = ("wages", "support", "land", "dispute")
# Section names printed as bare lines in SPC guiding cases (the others use 【…】 or ## headings).
_BARE_SECTIONS = {"关键词", "裁判要点", "相关法条", "基本案情", "裁判结果", "裁判理由", "裁判摘要", "要旨", "指导意义"}
_FACTS = ("基本案情", "案情", "申请人请求", "原告诉讼请求", "判决书", "正文")
_HOLDING = ("裁判要点", "要旨", "裁判要旨", "裁判摘要", "典型意义", "指导意义", "适用解析")
_BRACKET_RE = re.compile(r"^【(.{1,20})】$")
_HEADING_RE = re.compile(r"^(#{1,6})\s*(.*?)\s*$")
_BOLD_RE = re.compile(r"^\*\*(.{1,12}?)\*\*\s*(.*)$")
# In Gazette cases the summary is followed by the judgment itself, which opens with the parties.
_JUDGMENT_START_RE = re.compile(r"^(原告|被告|上诉人|被上诉人|再审申请人|申请人|申诉人|公诉机关)(（[^）]*）)?[：:]")


@dataclass(frozen=True, slots=True)
class CaseSection:
    """A titled part of a case (基本案情, 裁判要点 …)."""

    heading: str
    text: str


@dataclass(frozen=True, slots=True)
class ParsedCase:
    """A reference case; ``facts`` and ``holding`` are the sections a reply quotes."""

    slug: str
    title: str
    case_number: str | None
    collection: str
    court: str
    date: dt.date | None
    date_kind: str
    topic: str
    sections: tuple[CaseSection, ...]
    front_matter: dict[str, Any]
    source: SourceFile

    def section(self, names: tuple[str, ...]) -> str:
        for name in names:
            for section in self.sections:
                if section.heading == name:
                    return section.text
        return ""

    @property
    def facts(self) -> str:
        return self.section(_FACTS)

    @property
    def holding(self) -> str:
        return self.section(_HOLDING)


def parse_case(path: Path) -> ParsedCase:
    """Parse one case file; raise ``CorpusFormatError`` (with the line) if it is malformed."""
    source = read_source(path)
    meta = source.meta
    title = str(meta.get("title") or "").strip()
    if not title:
        raise CorpusFormatError("front matter has no 'title'", path, 2)
    topic = str(meta.get("topic") or "")
    if topic not in TOPICS:
        raise CorpusFormatError(f"topic must be one of {', '.join(TOPICS)}, got {topic!r}", path, 2)
    raw_date = str(meta.get("date") or "")
    try:
        # Some publications give only a month ("2020-09"): keep the first of that month.
        date = dt.date.fromisoformat(raw_date if len(raw_date) != 7 else f"{raw_date}-01") if raw_date else None
    except ValueError:
        raise CorpusFormatError(f"date is not an ISO date: {raw_date!r}", path, 2) from None

    sections: list[tuple[str, list[str]]] = [("", [])]
    for raw in source.body.split("\n"):
        line = raw.strip()
        if not line:
            continue
        heading = _HEADING_RE.match(line)
        bracket = _BRACKET_RE.match(line)
        if heading and len(heading[1]) == 1:
            continue  # the H1 repeats the title
        bold = _BOLD_RE.match(line)
        name = heading[2] if heading else bracket[1] if bracket else line if line in _BARE_SECTIONS else None
        if name is not None:
            sections.append((name.strip(), []))
        elif bold and bold[1] in _BARE_SECTIONS:
            sections.append((bold[1], [bold[2]] if bold[2] else []))
        elif _JUDGMENT_START_RE.match(line) and sections[-1][0] in {"", "裁判摘要"}:
            sections.append(("判决书", [line]))
        else:
            sections[-1][1].append(line)
    parsed = tuple(CaseSection(h or "正文", "\n".join(lines)) for h, lines in sections if lines)
    if not parsed:
        raise CorpusFormatError("case has no text", path, source.body_start)
    return ParsedCase(
        slug=path.stem,
        title=title,
        case_number=str(meta["case_number"]) if meta.get("case_number") else None,
        collection=str(meta.get("collection") or ""),
        court=str(meta.get("court") or ""),
        date=date,
        date_kind=str(meta.get("date_kind") or ""),
        topic=topic,
        sections=parsed,
        front_matter=_jsonable(meta),
        source=source,
    )
