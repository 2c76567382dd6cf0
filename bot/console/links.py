"""Stable addresses of laws and articles: by the law's title and the article's label, never by row id.

Publishing a change to a law re-imports its file, which gives its articles new row ids
(``corpus.repository.CorpusRepository.save_statute``), and a fresh ``lawline corpus import`` renumbers
everything; a link an editor bookmarked or pasted into a work chat must still open the same article. So the
console links ``/console/corpus/laws/中华人民共和国劳动合同法/第三十条`` — the version in force today, which after an
amendment is the amended text — and ``…?version=2008-01-01`` for one version (its effective date), used only
for versions no longer (or not yet) in force. The numeric routes still answer for old links.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from corpus.models import Article, Law
from retrieval.documents import Document

__all__ = ["article_link", "document_link", "find_article", "find_law", "law_link", "version_key"]

_BASE = "/console/corpus/laws/"


def version_key(law: Law) -> str:
    """The ``version`` a link names a law version by: its effective date (``undated`` when it has none)."""
    return law.effective.isoformat() if law.effective else "undated"


def _is_current(law: Law, today: dt.date | None = None) -> bool:
    return law.in_force_on(today or dt.date.today())


def law_link(law: Law, *, pinned: bool = False) -> str:
    """The law's address; pinned to its version when that is not the one in force (or when asked)."""
    path = _BASE + quote(law.title, safe="")
    return f"{path}?version={version_key(law)}" if pinned or not _is_current(law) else path


def article_link(article: Article, action: str = "", *, pinned: bool = False) -> str:
    """The article's address (``action``: a sub-path such as ``edit``), pinned like ``law_link``."""
    law = article.law
    path = f"{_BASE}{quote(law.title, safe='')}/{quote(article.label, safe='')}"
    if action:
        path += "/" + action
    return f"{path}?version={version_key(law)}" if pinned or not _is_current(law) else path


def find_law(session: Session, name: str, version: str = "", today: dt.date | None = None) -> Law | None:
    """The version of the law called ``name`` (its title, else its short name) that ``version`` names.

    Without a version: the one in force ``today``, else the newest (a repealed law, or one not yet in force).
    """
    laws = list(session.scalars(select(Law).where(or_(Law.title == name, Law.short_name == name))
                                .options(selectinload(Law.articles))))
    titled = [law for law in laws if law.title == name]
    laws = titled or laws
    if len({law.title for law in laws}) > 1:  # a short name two laws share: no guess
        return None
    if version:
        return next((law for law in laws if version_key(law) == version), None)
    day = today or dt.date.today()
    current = [law for law in laws if law.in_force_on(day)]
    dated = sorted(current or laws, key=lambda law: law.effective or dt.date.min)
    return dated[-1] if dated else None


def find_article(law: Law, label: str) -> Article | None:
    """The article ``label`` of that version."""
    return next((a for a in law.articles if a.label == label), None)


def document_link(doc: Document, today: dt.date | None = None) -> str:
    """Where a retrieval result (hit test, feedback) opens in the console: the same stable addresses."""
    if doc.kind == "card":
        return "/console/corpus/cards/" + quote(doc.id.removeprefix("card:"), safe="")
    if doc.kind == "case":
        return "/console/corpus/cases/" + quote(doc.id.removeprefix("case:"), safe="")
    path = f"{_BASE}{quote(doc.law or doc.title, safe='')}/{quote(doc.label, safe='')}"
    if doc.in_force_on(today or dt.date.today()):
        return path
    return f"{path}?version={doc.effective.isoformat() if doc.effective else 'undated'}"
