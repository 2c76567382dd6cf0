"""Explicit citations in a question (``劳动合同法第30条``) resolved to the article itself, by look-up.

Vector and word search rank 第二十一条 above 第三十条 for "劳动合同法第三十条": numbers carry no meaning to
them. A citation is therefore parsed and looked up, never searched. Forms understood::

    《中华人民共和国劳动合同法》第三十条   劳动合同法第30条   《劳动合同法》第三十条第二款   民法典1067条
    民法典第一千零六十七条   婚姻家庭编司法解释一第五条   第三十条之一   第三十条（after a law was named)

Law names are matched against the titles in the index: the full title, the title without 中华人民共和国,
the corpus's short name (and an interpretation's without 民法典), and the editors' table of the names
residents use (``data/law_aliases.tsv``). A law the corpus no longer has in force is looked up in
``data/repealed_laws.tsv``, which names its successor and the source that says so; the resolver states
that, it never maps old article numbers to new ones. 款 and 项 are kept; the article is what is returned.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from corpus.numerals import cn_to_int, int_to_cn
from retrieval.documents import Document, Filters, format_citation

__all__ = [
    "Citation", "CitationResolver", "CitationTables", "Repeal", "Resolution", "Status", "article_label",
    "load_citation_tables",
]

DATA_DIR = Path(__file__).resolve().parent / "data"
_CN = "零〇一二两三四五六七八九十百千"
_NUMBER = rf"[0-9]+|[{_CN}]+"
_ARTICLE = re.compile(
    rf"(?P<di>第)?(?P<n>{_NUMBER})条(?:之(?P<s>{_NUMBER}))?(?:第?(?P<p>{_NUMBER})款)?(?:第?(?P<i>{_NUMBER})项)?"
)
_LABEL = re.compile(rf"^第({_NUMBER})条(?:之({_NUMBER}))?$")
# What may stand between a law's name and its article: "劳动合同法里第三十条", "民法典中规定第1067条".
_BETWEEN = re.compile(r"(?:里面|当中|里|中|上|规定|内)$")
# A name that is a law's, though not one in the corpus ("刑法第二十条"): never read as the context law's article.
_LAW_LIKE = re.compile(
    r"[\u4e00-\u9fffA-Za-z0-9]*(?:法典|法|条例|规定|解释[一二三四五六七八九十]*|办法|细则|通则|意见)$")
# Words ending like a law's name that name none ("有什么办法"), and "本法"-like pointers to the law in context.
_NOT_A_NAME = re.compile(r"(?:^|什么|啥|个|有|没有|没|好)(?:办法|方法|说法|看法|想法|做法|规定|解释|意见|法)$"
                         r"|(?:本|该|此|同|这部|那部|这个|那个|上述)(?:法律|法|条例|规定|解释|办法)$")
# A clause of the resident's own papers ("合同第5条写着…") is no statute's article, whatever the context.
_PAPERS = re.compile(
    r"(?:合同|协议书|协议|章程|制度|规章|守则|手册|公约|村规民约|文件|通知|判决书|调解书|裁决书|条款)$")
# What may follow an article cited alone: the end, punctuation or a word about it ("第三十八条呢", "第三十条说啥").
# Anything else reads as counting ("第三条路是我家的") and is no citation: missing one costs a search, a wrong
# article quoted first would cost a wrong answer said confidently.
_AFTER_ALONE = re.compile(r"$|[\s,.;:!?、。)\]…~]|规定|说|讲|写|是|呢|吗|嘛|啊|呀|吧|哦|怎|咋|啥|什么|为|里|中"
                          r"|和|与|及|或|跟|还|也|到|至|内容|条文|原文|意思|第|那|这|有|要|能|可|管|适用")
_DROP = re.compile(r"[《》〈〉<>\"'“”‘’「」『』()\[\]【】\s的]")

Status = Literal["found", "repealed", "not_in_force", "excluded", "no_such_article", "unknown_law", "no_law"]


def article_label(number: int, suffix: int = 0) -> str:
    """``第一千零六十七条``, ``第三十条之一`` (``suffix`` is the 之X of an inserted article)."""
    return f"第{int_to_cn(number)}条" + (f"之{int_to_cn(suffix)}" if suffix else "")


def _label_key(label: str) -> tuple[int, int] | None:
    match = _LABEL.match(unicodedata.normalize("NFKC", label).strip())
    if not match:
        return None
    return cn_to_int(match[1]), cn_to_int(match[2]) if match[2] else 0


def normalize(text: str) -> str:
    """The form names and questions are compared in: NFKC, no brackets, spaces or 的, 司法解释 = 解释."""
    text = unicodedata.normalize("NFKC", text).replace("中华人民共和国", "")
    return _DROP.sub("", text).replace("司法解释", "解释")


@dataclass(frozen=True, slots=True)
class Repeal:
    """A law no longer in force, when it ended, what replaced it and who says so (``repealed_laws.tsv``)."""

    law: str
    repealed_on: dt.date | None
    successor: str | None
    source: str

    def notice(self) -> str:
        """One sentence for a reply: 《…》已于…废止（依据：…），现行规定见《…》."""
        when = f"已于{self.repealed_on.year}年{self.repealed_on.month}月{self.repealed_on.day}日废止" \
            if self.repealed_on else "已经废止"
        basis = f"（依据：{self.source}）" if self.source else ""
        then = f"，现行规定见{format_citation(self.successor)}" if self.successor else ""
        return f"{format_citation(self.law)}{when}{basis}{then}。"


@dataclass(frozen=True, slots=True)
class CitationTables:
    """The editors' tables: names residents use (alias → title) and repealed laws (title → Repeal)."""

    aliases: dict[str, str]
    repealed: dict[str, Repeal]


def _rows(path: Path, columns: int) -> Iterable[tuple[int, list[str]]]:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [p.strip() for p in line.split("\t")]
        if len(parts) != columns or not all(parts[:2]):
            raise ValueError(f"{path}:{number}: expected {columns} tab-separated columns")
        yield number, parts


def load_citation_tables(data_dir: Path = DATA_DIR) -> CitationTables:
    """Read ``law_aliases.tsv`` and ``repealed_laws.tsv``; a malformed line names its file and line."""
    aliases: dict[str, str] = {}
    path = data_dir / "law_aliases.tsv"
    for number, (alias, title) in _rows(path, 2):
        if normalize(alias) in aliases:
            raise ValueError(f"{path}:{number}: {alias!r} is listed twice")
        aliases[normalize(alias)] = title
    repealed: dict[str, Repeal] = {}
    path = data_dir / "repealed_laws.tsv"
    for number, (law, day, successor, source) in _rows(path, 4):
        try:
            when = dt.date.fromisoformat(day)
        except ValueError:
            raise ValueError(f"{path}:{number}: {day!r} is not a date (YYYY-MM-DD)") from None
        repealed[law] = Repeal(law, when, successor or None, source)
    return CitationTables(aliases, repealed)


@dataclass(frozen=True, slots=True)
class Citation:
    """An article a question cites; 款/项 are kept.

    ``law`` is a title the resolver knows (None: unnamed or unknown); ``named`` is the law as written
    (normalised; "" when the article stood alone).
    """

    law: str | None
    named: str
    number: int
    suffix: int = 0
    paragraph: int | None = None
    item: int | None = None

    @property
    def label(self) -> str:
        return article_label(self.number, self.suffix)


@dataclass(frozen=True, slots=True)
class Resolution:
    """What a citation comes to: the article in force (``found``), or why there is none."""

    citation: Citation
    status: Status
    document: Document | None = None
    repeal: Repeal | None = None

    def notice(self) -> str | None:
        """What a reply must say besides the article: repealed (and the successor) or no such article."""
        if self.repeal is not None:
            return self.repeal.notice()
        if self.status == "no_such_article" and self.citation.law:
            return f"{format_citation(self.citation.law)}没有{self.citation.label}，请核对条号。"
        return None

    def to_json(self) -> dict[str, Any]:
        c = self.citation
        return {"law": c.law, "named": c.named, "article": c.label, "paragraph": c.paragraph, "item": c.item,
                "status": self.status, "id": self.document.id if self.document else None,
                "successor": self.repeal.successor if self.repeal else None, "notice": self.notice()}


class CitationResolver:
    """Parses citations in a question and looks up each article among ``documents`` (kind ``article``)."""

    def __init__(self, documents: Sequence[Document], tables: CitationTables) -> None:
        self.tables = tables
        self._articles: dict[tuple[str, int, int], list[Document]] = {}
        titles: dict[str, str | None] = {}
        for doc in documents:
            key = _label_key(doc.label) if doc.kind == "article" else None
            title = doc.law or doc.title
            if key is None:
                continue
            self._articles.setdefault((title, *key), []).append(doc)
            titles.setdefault(title, doc.short_name)
        self._versions: dict[str, list[Document]] = {}
        for (title, _, _), docs in self._articles.items():
            self._versions.setdefault(title, []).extend(docs)
        self._names = self._name_table(titles)
        # Longest names first, so that 农村土地承包法 wins over 土地承包法 and 劳动合同法 over 合同法.
        self._by_length = sorted(self._names, key=len, reverse=True)

    def _name_table(self, titles: dict[str, str | None]) -> dict[str, str]:
        """Normalised name → title. An automatic name two laws share is dropped: better unresolved than wrong."""
        ranked: dict[str, tuple[int, set[str]]] = {}

        def add(name: str, title: str, rank: int) -> None:
            key = normalize(name)
            if len(key) < 2:
                return
            best = ranked.get(key)
            if best is None or rank < best[0]:
                ranked[key] = (rank, {title})
            elif rank == best[0]:
                best[1].add(title)

        known = {**dict.fromkeys(self.tables.repealed), **titles}
        for title, short in known.items():
            add(title, title, 0)
            for name in (short, title.removeprefix("中华人民共和国")):
                if name:
                    add(name, title, 2)
                    if normalize(name).startswith("民法典") and len(normalize(name)) > 3:
                        add(normalize(name).removeprefix("民法典"), title, 3)
        for alias, title in self.tables.aliases.items():
            if title in known:
                add(alias, title, 1)
        return {key: next(iter(found)) for key, (_, found) in ranked.items() if len(found) == 1}

    # ---- parsing --------------------------------------------------------------------------------------
    def _name_before(self, prefix: str) -> tuple[str | None, str]:
        """The law named right before an article: (title, name), (None, name) if unknown, (None, "") if none."""
        for text in (prefix, _BETWEEN.sub("", prefix)):
            for name in self._by_length:
                if text.endswith(name):
                    return self._names[name], name
        like = _LAW_LIKE.search(prefix[-30:]) or _PAPERS.search(prefix)
        if like and like.group() and not _NOT_A_NAME.search(like.group()):
            return None, like.group()
        return None, ""

    def _last_named(self, text: str) -> str | None:
        """The law named last in ``text`` (anywhere), for an article cited alone after it."""
        best: tuple[int, int, str] | None = None
        for name in self._by_length:
            at = text.rfind(name)
            if at >= 0 and (best is None or (at + len(name), len(name)) > best[:2]):
                best = (at + len(name), len(name), self._names[name])
        return best[2] if best else None

    def parse(self, text: str, context: Sequence[str] = ()) -> list[Citation]:
        """The citations in ``text``, in order.

        An article cited alone takes the law named last before it in ``text``, else the first law named in
        ``context`` (earlier turns, most relevant first).
        """
        norm = normalize(text)
        found: list[Citation] = []
        for match in _ARTICLE.finditer(norm):
            law, named = self._name_before(norm[: match.start()])
            if not match["di"] and not (law and _plausible(match["n"])):
                continue  # "30条" needs a law right before it ("民法典1067条"); "两条路" is no citation
            try:
                number = cn_to_int(match["n"])
                suffix = cn_to_int(match["s"]) if match["s"] else 0
                paragraph = cn_to_int(match["p"]) if match["p"] else None
                item = cn_to_int(match["i"]) if match["i"] else None
            except ValueError:
                continue
            if not 0 < number < 10000:
                continue
            if law is None and not named:
                if not _AFTER_ALONE.match(norm, match.end()):
                    continue
                law = self._last_named(norm[: match.start()]) or self._context_law(context, number, suffix)
            found.append(Citation(law, named, number, suffix, paragraph, item))
        return found

    def _context_law(self, context: Sequence[str], number: int, suffix: int) -> str | None:
        """The law an article cited alone belongs to: one in context citing that very article, else the first."""
        cited = [c for entry in context for c in self.parse(entry) if c.law]
        same = next((c.law for c in cited if (c.number, c.suffix) == (number, suffix)), None)
        if same:
            return same
        if cited:
            return cited[0].law
        return next((law for entry in context if (law := self._last_named(normalize(entry)))), None)

    # ---- resolving ------------------------------------------------------------------------------------
    def resolve(self, text: str, *, context: Sequence[str] = (), filters: Filters | None = None,
                today: dt.date | None = None) -> list[Resolution]:
        """Each distinct citation in ``text`` with the article in force (as ``filters`` admit it) or the reason."""
        filters = filters or Filters()
        today = today or dt.date.today()
        seen: set[tuple[str | None, str, int, int]] = set()
        out: list[Resolution] = []
        for citation in self.parse(text, context):
            key = (citation.law, citation.named, citation.number, citation.suffix)
            if key not in seen:
                seen.add(key)
                out.append(self._resolve(citation, filters, today))
        return out

    def _resolve(self, citation: Citation, filters: Filters, today: dt.date) -> Resolution:
        if citation.law is None:
            return Resolution(citation, "unknown_law" if citation.named else "no_law")
        day = filters.on or today
        versions = self._articles.get((citation.law, citation.number, citation.suffix), [])
        admitted = [d for d in versions if filters.admits(d, today)]
        if admitted:
            best = max(admitted, key=lambda d: (d.in_force_on(day), d.effective or dt.date.min))
            return Resolution(citation, "found", best)
        repeal = self._repeal(citation.law, day)
        if repeal is not None:
            return Resolution(citation, "repealed", repeal=repeal)
        if any(d.in_force_on(day) for d in versions):
            return Resolution(citation, "excluded")
        return Resolution(citation, "not_in_force" if versions else "no_such_article")

    def _repeal(self, title: str, day: dt.date) -> Repeal | None:
        """The repeal of ``title`` by ``day``: from the editors' table, or the corpus's own end date."""
        listed = self.tables.repealed.get(title)
        if listed is not None and (listed.repealed_on is None or listed.repealed_on <= day):
            return listed
        versions = self._versions.get(title, [])
        if versions and not any(d.in_force_on(day) for d in versions):
            ended = max((d.ends for d in versions if d.ends is not None), default=None)
            if ended is not None and ended <= day:
                return Repeal(title, ended, None, "")
        return None


def _plausible(number: str) -> bool:
    """An article number written without 第: Arabic digits, or a Chinese numeral with a unit (三十, not 一)."""
    return number.isdigit() or any(u in number for u in "十百千")
