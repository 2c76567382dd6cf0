"""An amendment reviewed article by article: what it adds, changes, removes or renumbers, each with its diff.

An amendment (修正) is uploaded as the whole new text of the law (``corpus/data/statutes`` format), so the
file diff of a new version is the entire law marked as added: nothing a reviewer can check. What a reviewer
checks is the list an amendment decision itself gives — 第五十条修改为…, 增加一条作为第X条, 删去第Y条 — so this
module compares the upload with the version it amends, article by article (by label, as the citations do),
and the review page and the upload preview show one entry per article with its own character diff. The
reviewer ticks each entry before approving (``missing_checks``); articles whose text only moved to a new number
are listed together as renumbered (one tick), not as one article removed and another added.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.console.corpus_files import parse_statute_text
from bot.console.diffing import DiffLine, diff_lines
from bot.console.models import CorpusDraft
from corpus.errors import CorpusError
from corpus.models import Law

__all__ = ["KIND_WORDS", "AmendmentReview", "ArticleChange", "Entry", "amended_version", "compare", "missing_checks",
           "review_draft", "review_upload"]

KIND_WORDS = {"added": "新增", "changed": "修改", "removed": "删去", "renumbered": "条号变化"}


@dataclass(frozen=True, slots=True)
class Entry:
    """One article of either version: label, chapter path and text."""

    label: str
    place: str
    text: str


@dataclass(frozen=True, slots=True)
class ArticleChange:
    """One article the amendment touches; ``label`` is its new label (the old one when removed)."""

    kind: str
    label: str
    place: str
    before: str
    after: str
    old_label: str = ""

    @property
    def key(self) -> str:
        """What the reviewer's tick for this entry carries (one tick for all the renumbered ones)."""
        return "renumbered" if self.kind == "renumbered" else f"{self.kind}:{self.label}"

    @property
    def kind_word(self) -> str:
        return KIND_WORDS[self.kind]

    @property
    def diff(self) -> list[DiffLine]:
        return diff_lines(self.before, self.after)


@dataclass(frozen=True)
class AmendmentReview:
    """The upload against the version it amends (``base_*``); ``changes`` in the order of the law."""

    base_title: str
    base_effective: dt.date | None
    base_file: str
    new_effective: dt.date | None
    changes: list[ArticleChange]
    unchanged: int
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def keys(self) -> list[str]:
        return list(dict.fromkeys(c.key for c in self.changes))

    @property
    def reviewed(self) -> list[ArticleChange]:
        """The entries ticked one by one (the renumbered ones are listed together)."""
        return [c for c in self.changes if c.kind != "renumbered"]

    @property
    def renumbered(self) -> list[ArticleChange]:
        return [c for c in self.changes if c.kind == "renumbered"]

    def summary(self) -> str:
        """新增 1 条，修改 2 条，删去 0 条，条号变化 0 条，未改动 105 条."""
        parts = [f"{word} {self.counts.get(kind, 0)} 条" for kind, word in KIND_WORDS.items()]
        return "，".join([*parts, f"未改动 {self.unchanged} 条"])


class _ArticleLike(Protocol):
    @property
    def label(self) -> str: ...
    @property
    def path(self) -> Sequence[str]: ...
    @property
    def text(self) -> str: ...


def _entries(articles: Iterable[_ArticleLike]) -> list[Entry]:
    return [Entry(a.label, " ".join(a.path or ()), a.text) for a in articles]


def compare(old: Sequence[Entry], new: Sequence[Entry]) -> tuple[list[ArticleChange], int]:
    """The changes from ``old`` to ``new`` in the law's order, and how many articles are unchanged.

    Articles are aligned by their text (``difflib``), not by their label: an article inserted without 之一
    shifts every later number, and those later articles are then renumbered, not all "changed".
    """
    changes: list[ArticleChange] = []
    unchanged = 0
    matcher = difflib.SequenceMatcher(None, [e.text for e in old], [e.text for e in new], autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            for before, after in zip(old[a1:a2], new[b1:b2], strict=True):
                if before.label == after.label:
                    unchanged += 1
                else:
                    changes.append(ArticleChange("renumbered", after.label, after.place, before.text, after.text,
                                                 before.label))
            continue
        pairs = min(a2 - a1, b2 - b1) if op == "replace" else 0
        for before, after in zip(old[a1:a1 + pairs], new[b1:b1 + pairs], strict=True):
            changes.append(ArticleChange("changed", after.label, after.place, before.text, after.text,
                                         before.label if before.label != after.label else ""))
        changes.extend(ArticleChange("removed", e.label, e.place, e.text, "") for e in old[a1 + pairs:a2])
        changes.extend(ArticleChange("added", e.label, e.place, "", e.text) for e in new[b1 + pairs:b2])
    return changes, unchanged


def _review(base: Law, new: list[Entry], base_entries: list[Entry], effective: dt.date | None) -> AmendmentReview:
    changes, unchanged = compare(base_entries, new)
    counts = {kind: sum(1 for c in changes if c.kind == kind) for kind in KIND_WORDS}
    return AmendmentReview(base.title, base.effective, base.source_file, effective, changes, unchanged, counts)


def amended_version(session: Session, title: str, effective: dt.date | None, exclude: str) -> Law | None:
    """The version an amendment taking effect on ``effective`` amends: the latest one before it."""
    versions = session.scalars(select(Law).where(Law.title == title, Law.source_file != exclude)
                               .options(selectinload(Law.articles))).all()
    earlier = [v for v in versions if effective is None or v.effective is None or v.effective < effective]
    return max(earlier, key=lambda v: v.effective or dt.date.min, default=None)


def review_upload(session: Session, text: str, target: str, existing: Law | None) -> AmendmentReview | None:
    """The preview's review of an upload: against the file it corrects, else the version it amends."""
    parsed = parse_statute_text(text, "upload.md")
    new = _entries(parsed.articles)
    if existing is not None:
        return _review(existing, new, _entries(existing.articles), parsed.meta.effective)
    base = amended_version(session, parsed.meta.title, parsed.meta.effective, target)
    return _review(base, new, _entries(base.articles), parsed.meta.effective) if base is not None else None


def review_draft(session: Session, draft: CorpusDraft) -> AmendmentReview | None:
    """The review of a ``statute_file`` draft; None for a new law (nothing to compare) or another kind.

    A correction compares with the file as it was when drafted (``before``); an amendment with the version
    named when it was drafted (``payload["base"]``), else the latest earlier version of the same title.
    """
    if draft.kind != "statute_file":
        return None
    try:
        parsed = parse_statute_text(draft.after, "draft.md")
        old = parse_statute_text(draft.before, "before.md") if draft.before.strip() else None
    except CorpusError:
        return None
    new = _entries(parsed.articles)
    base_file = str((draft.payload or {}).get("base") or "")
    base = session.scalar(select(Law).where(Law.source_file == base_file).options(selectinload(Law.articles))) \
        if base_file else None
    if old is not None:
        same = session.scalar(select(Law).where(Law.source_file == draft.target)) or Law(
            title=old.meta.title, effective=old.meta.effective, source_file=draft.target)
        return _review(same, new, _entries(old.articles), parsed.meta.effective)
    base = base or amended_version(session, parsed.meta.title, parsed.meta.effective, draft.target)
    return _review(base, new, _entries(base.articles), parsed.meta.effective) if base is not None else None


def missing_checks(review: AmendmentReview | None, checked: Sequence[str]) -> list[ArticleChange]:
    """The entries the reviewer has not ticked (approving needs every one)."""
    if review is None:
        return []
    ticked = set(checked)
    missing = {key for key in review.keys if key not in ticked}
    return [c for c in review.changes if c.key in missing]
