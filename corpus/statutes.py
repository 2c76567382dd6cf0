"""Parse a statute file (Markdown + front matter) into its articles, keeping 编/章/节 and 款/项.

The format is the one in ``corpus/data/statutes`` (see SOURCES.md): headings ``#``–``####`` for the
title and the 编/分编/章/节 hierarchy, one article per ``第X条<space>`` line, each following non-empty
line a new paragraph (款) unless it opens with ``（一）``, which makes it an item (项) of the paragraph
before it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.errors import CorpusFormatError
from corpus.frontmatter import SourceFile, read_source
from corpus.numerals import cn_to_int

__all__ = [
    "Paragraph", "ParsedArticle", "ParsedStatute", "StatuteMeta", "level_of_title", "parse_statute", "short_name_of"
]

_NUM = "零〇一二三四五六七八九十百千"
ARTICLE_RE = re.compile(rf"^第([{_NUM}]+)条(之[{_NUM}]+)?[ \t\u3000]+(.*)$")
ITEM_RE = re.compile(rf"^[（(]([{_NUM}]+)[）)]")
HEADING_RE = re.compile(r"^(#{1,6})\s*(.*?)\s*$")
COMMENCEMENT_RE = re.compile(r"自(\d{4})年(\d{1,2})月(\d{1,2})日起施行")
_SPACES = re.compile(r"[\s\u3000]+")

LEVELS = {
    "法律": "law",
    "行政法规": "administrative_regulation",
    "司法解释": "judicial_interpretation",
    "地方性法规": "local_regulation",
    "部门规章": "departmental_rule",
    "规范性文件": "normative_document",
}
_PROVINCES = (
    "北京市 天津市 上海市 重庆市 河北省 山西省 辽宁省 吉林省 黑龙江省 江苏省 浙江省 安徽省 福建省 江西省 山东省 "
    "河南省 湖北省 湖南省 广东省 海南省 四川省 贵州省 云南省 陕西省 甘肃省 青海省 台湾省 内蒙古自治区 "
    "广西壮族自治区 西藏自治区 宁夏回族自治区 新疆维吾尔自治区"
).split()
_CITY_RE = re.compile(r"^([\u4e00-\u9fff]{2,4}?市)")


@dataclass(frozen=True, slots=True)
class Paragraph:
    """One 款 with its 项 (items), as printed."""

    text: str
    items: tuple[str, ...] = ()

    def render(self) -> str:
        return "\n".join((self.text, *self.items))


@dataclass(frozen=True, slots=True)
class ParsedArticle:
    """One 条: its number (Arabic and as printed), where it sits, and its 款/项."""

    number: int
    suffix: str  # "之一" for inserted articles, "" otherwise
    path: tuple[str, ...]  # ("第一编 总则", "第二章 自然人", "第二节 监护")
    paragraphs: tuple[Paragraph, ...]
    line: int

    @property
    def label(self) -> str:
        from corpus.numerals import int_to_cn

        return f"第{int_to_cn(self.number)}条{self.suffix}"

    @property
    def text(self) -> str:
        return "\n".join(p.render() for p in self.paragraphs)


@dataclass(frozen=True, slots=True)
class StatuteMeta:
    """What a statute is, where it applies and when it is in force."""

    title: str
    short_name: str
    issuer: str
    doc_type: str
    level: str
    region: str  # "national" or a province such as "山东省"
    locality: str | None  # a city below the province, e.g. "杭州市"
    adopted: dt.date | None
    promulgated: dt.date | None
    effective: dt.date | None
    effective_basis: str
    repealed: dt.date | None
    front_matter: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ParsedStatute:
    """A statute file read in full: metadata, articles, the lines before the first article."""

    meta: StatuteMeta
    articles: tuple[ParsedArticle, ...]
    preamble: tuple[str, ...]
    source: SourceFile
    warnings: tuple[str, ...] = field(default=())


def level_of_title(title: str) -> str:
    """Guess a document's rank from its title when no front matter says it (benchmark corpora)."""
    if title.startswith("最高人民法院") or title.startswith("最高人民检察院"):
        return "judicial_interpretation"
    if any(title.startswith(p) for p in _PROVINCES) or re.match(r"^[\u4e00-\u9fff]{2,5}(市|州|县|自治州)", title):
        return "local_regulation"
    is_law = title.endswith("法") and not title.endswith("办法")
    if is_law or title.endswith("法典") or re.search(r"法（[^）]+）$", title):
        return "law"
    if title.endswith("条例"):
        return "administrative_regulation"
    return "departmental_rule"


def short_name_of(title: str) -> str:
    """The name people use: 中华人民共和国劳动合同法 → 劳动合同法; SPC interpretations shortened likewise."""
    name = title.removeprefix("中华人民共和国")
    match = re.match(r"^最高人民法院关于适用《中华人民共和国(.+?)》(.*?)的(解释|规定)(（.+?）)?$", title)
    if match:
        return f"{match[1]}{match[2]}{match[3]}{match[4] or ''}"
    match = re.match(r"^最高人民法院关于(.+?)的(解释|规定)(（.+?）)?$", title)
    if match:
        core = match[1]
        for noise in ("审理涉及", "审理", "确定", "案件", "适用法律若干问题", "适用法律问题", "若干问题", "适用"):
            core = core.replace(noise, "")
        return f"{core}{match[2]}{match[3] or ''}"
    return name


def _date(value: Any, name: str, source: SourceFile) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        line = _meta_line(source, name)
        raise CorpusFormatError(f"field {name!r} is not a date: {value!r}", source.path, line) from None


def _meta_line(source: SourceFile, name: str) -> int:
    text = source.path.read_text(encoding="utf-8-sig").split("\n")
    for number, line in enumerate(text[: source.body_start], start=1):
        if line.startswith(f"{name}:"):
            return number
    return 1


def _region(meta: dict[str, Any], title: str, issuer: str, level: str) -> tuple[str, str | None]:
    if meta.get("region"):
        return str(meta["region"]), (str(meta["locality"]) if meta.get("locality") else None)
    if level not in {"local_regulation", "local_rule"}:
        return "national", None
    for province in _PROVINCES:
        if title.startswith(province):
            return province, None
    for province in _PROVINCES:
        if province in issuer:
            city = _CITY_RE.match(title)
            return province, city[1] if city else None
    return "unknown", None


def _statute_meta(source: SourceFile, articles: list[ParsedArticle]) -> tuple[StatuteMeta, list[str]]:
    meta = source.meta
    warnings: list[str] = []
    title = str(meta.get("title") or "").strip()
    if not title:
        raise CorpusFormatError("front matter has no 'title'", source.path, 2)
    doc_type = str(meta.get("doc_type") or "").strip()
    issuer = str(meta.get("issuer") or "").strip()
    if meta.get("level"):
        level = str(meta["level"])
        if level not in set(LEVELS.values()) | {"local_rule"}:
            raise CorpusFormatError(f"unknown level {level!r}", source.path, _meta_line(source, "level"))
    elif doc_type in LEVELS:
        level = LEVELS[doc_type]
        # A ministry's document filed under 行政法规 (e.g. 工资支付暂行规定, 劳动部) is not a State Council
        # regulation: rank it as a departmental document.
        if level == "administrative_regulation" and issuer and "国务院" not in issuer:
            level = "normative_document"
    else:
        raise CorpusFormatError(f"unknown doc_type {doc_type!r}", source.path, _meta_line(source, "doc_type"))
    amended = meta.get("amended") or []
    adopted = _date(meta.get("adopted"), "adopted", source)
    promulgated = _date(meta.get("promulgated"), "promulgated", source)
    effective = _date(meta.get("effective"), "effective", source)
    basis = "front matter"
    if effective is None:
        clause = COMMENCEMENT_RE.search(str(meta.get("commencement_clause") or ""))
        if clause and not amended:
            effective = dt.date(int(clause[1]), int(clause[2]), int(clause[3]))
            basis = "commencement clause"
        elif clause and promulgated is not None:
            commencement = dt.date(int(clause[1]), int(clause[2]), int(clause[3]))
            effective = max(commencement, promulgated)
            basis = "later of commencement clause and this version's date"
        elif promulgated is not None:
            effective = promulgated
            basis = "date of this version (no effective date stated)"
        else:
            basis = "unknown"
            warnings.append("no effective date could be determined")
    region, locality = _region(meta, title, issuer, level)
    expected = meta.get("article_count")
    if expected is not None and int(expected) != len(articles):
        raise CorpusFormatError(
            f"front matter says article_count {expected}, the text has {len(articles)} articles",
            source.path,
            _meta_line(source, "article_count"),
        )
    return (
        StatuteMeta(
            title=title,
            short_name=str(meta.get("short_name") or short_name_of(title)),
            issuer=issuer,
            doc_type=doc_type,
            level=level,
            region=region,
            locality=locality,
            adopted=adopted,
            promulgated=promulgated,
            effective=effective,
            effective_basis=basis,
            repealed=_date(meta.get("repealed"), "repealed", source),
            front_matter=_jsonable(meta),
        ),
        warnings,
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


class _ArticleBuilder:
    def __init__(self, number: int, suffix: str, path: tuple[str, ...], first: str, line: int) -> None:
        self.number, self.suffix, self.path, self.line = number, suffix, path, line
        self.paragraphs: list[tuple[str, list[str]]] = [(first, [])] if first else []

    def add(self, text: str) -> None:
        if ITEM_RE.match(text) and self.paragraphs:
            self.paragraphs[-1][1].append(text)
        else:
            self.paragraphs.append((text, []))

    def build(self, source: SourceFile) -> ParsedArticle:
        if not self.paragraphs:
            raise CorpusFormatError("article has no text", source.path, self.line)
        return ParsedArticle(
            number=self.number,
            suffix=self.suffix,
            path=self.path,
            paragraphs=tuple(Paragraph(text, tuple(items)) for text, items in self.paragraphs),
            line=self.line,
        )


def parse_statute(path: Path) -> ParsedStatute:
    """Parse one statute file; raise ``CorpusFormatError`` (with the line) if it is malformed."""
    source = read_source(path)
    headings: list[tuple[int, str]] = []
    articles: list[ParsedArticle] = []
    preamble: list[str] = []
    current: _ArticleBuilder | None = None
    previous = (0, "")
    for offset, raw in enumerate(source.body.split("\n")):
        line_no = source.body_start + offset
        line = raw.strip()
        if not line:
            continue
        heading = HEADING_RE.match(line)
        if heading:
            depth, text = len(heading[1]), _SPACES.sub(" ", heading[2])
            if current is not None:
                articles.append(current.build(source))
                current = None
            if depth > 1 and text:
                headings = [h for h in headings if h[0] < depth] + [(depth, text)]
            continue
        article = ARTICLE_RE.match(line)
        if article:
            number = cn_to_int(article[1])
            suffix = article[2] or ""
            if (number, suffix) <= previous:
                label = f"第{article[1]}条{suffix}"
                raise CorpusFormatError(f"{label} is out of order or repeated", source.path, line_no)
            if current is not None:
                articles.append(current.build(source))
            current = _ArticleBuilder(number, suffix, tuple(h[1] for h in headings), article[3].strip(), line_no)
            previous = (number, suffix)
            continue
        if current is None:
            preamble.append(line)
        else:
            current.add(line)
    if current is not None:
        articles.append(current.build(source))
    if not articles:
        raise CorpusFormatError("no articles found (lines must start with '第X条 ')", source.path, source.body_start)
    meta, warnings = _statute_meta(source, articles)
    gaps = [a.number for a, b in zip(articles, articles[1:], strict=False) if b.number > a.number + 1]
    warnings.extend(f"numbering jumps after article {n}" for n in gaps)
    return ParsedStatute(meta, tuple(articles), tuple(preamble), source, tuple(warnings))
