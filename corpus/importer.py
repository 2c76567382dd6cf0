"""``lawline corpus import``: read statute, case and card files into the database.

Idempotent: a file whose hash is unchanged is not touched. One transaction per document: a file that
fails to parse or to validate is reported with its line and nothing from it is written, while the
other files still import. Statutes go first, then cases, then cards, so a card may cite a law added
in the same run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from corpus.cards import ParsedCard, parse_card
from corpus.cases import ParsedCase, parse_case
from corpus.errors import CitationError, CorpusError, CorpusFormatError
from corpus.frontmatter import read_source
from corpus.repository import CorpusRepository
from corpus.statutes import ParsedStatute, parse_statute

__all__ = ["ImportReport", "import_corpus"]

log = logging.getLogger(__name__)

Kind = Literal["statute", "case", "card"]
_KIND_DIRS: dict[Kind, str] = {"statute": "statutes", "case": "cases", "card": "cards"}
_ORDER: dict[Kind, int] = {"statute": 0, "case": 1, "card": 2}
_SKIP = {"README.md", "SOURCES.md"}
# Folders of corpus/data that hold other data than documents (the legal-aid rules, bot.eligibility).
_SKIP_DIRS = {"eligibility"}


@dataclass
class ImportReport:
    """What one import run did, file by file."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[CorpusError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        return (
            f"added {len(self.added)}, updated {len(self.updated)}, unchanged {len(self.unchanged)}, "
            f"removed {len(self.removed)}, failed {len(self.failed)}"
        )


def _kind_of(path: Path) -> Kind | None:
    if path.name in _SKIP or path.name.startswith("."):
        return None
    if path.suffix in {".yaml", ".yml"}:
        return "card"
    if path.suffix != ".md":
        return None
    for kind, folder in _KIND_DIRS.items():
        if folder in path.parts:
            return kind
    # A loose file: tell statutes from cases by their front matter.
    meta = read_source(path).meta
    if "doc_type" in meta:
        return "statute"
    if "topic" in meta:
        return "case"
    raise CorpusFormatError("cannot tell whether this is a statute or a case (no doc_type or topic)", path, 1)


def _key(path: Path, kind: Kind) -> str:
    """A stable name for the file: ``statutes/中华人民共和国劳动法.md``, ``cards/wages/x.yaml``."""
    folder = _KIND_DIRS[kind]
    parts = path.parts
    if folder in parts:
        return "/".join(parts[len(parts) - parts[::-1].index(folder) - 1 :])
    return f"{folder}/{path.name}"


def _collect(target: Path) -> tuple[list[tuple[Kind, Path]], list[CorpusError]]:
    files = sorted(target.rglob("*")) if target.is_dir() else [target]
    if target.is_dir():
        files = [p for p in files if not _SKIP_DIRS & set(p.relative_to(target).parts[:-1])]
    found: list[tuple[Kind, Path]] = []
    errors: list[CorpusError] = []
    for path in files:
        if not path.is_file():
            continue
        try:
            kind = _kind_of(path)
        except CorpusError as exc:
            errors.append(exc)
            continue
        if kind is not None:
            found.append((kind, path))
    found.sort(key=lambda item: (_ORDER[item[0]], str(item[1])))
    return found, errors


def _check_citations(repo: CorpusRepository, card: ParsedCard) -> None:
    for citation in card.citations:
        if repo.find_article(citation.law, citation.article) is None:
            raise CitationError(
                f"cites {citation.law}{citation.article}, which is not an article in force in the corpus",
                card.path,
                citation.line,
            )


def import_corpus(
    target: Path,
    sessions: sessionmaker[Session],
    *,
    prune: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ImportReport:
    """Import every statute, case and card under ``target`` (a folder or one file).

    With ``prune`` (only for a whole corpus folder), documents whose file is gone are deleted.
    """
    if not target.exists():
        raise CorpusError("no such file or folder", target)
    report = ImportReport()
    files, errors = _collect(target)
    report.failed.extend(errors)
    seen: set[str] = set()
    for kind, path in files:
        key = _key(path, kind)
        seen.add(key)
        if progress is not None:
            progress(key)
        try:
            parsed: ParsedStatute | ParsedCase | ParsedCard
            if kind == "statute":
                parsed = parse_statute(path)
                report.warnings.extend(f"{key}: {w}" for w in parsed.warnings)
            elif kind == "case":
                parsed = parse_case(path)
            else:
                parsed = parse_card(path)
            with sessions.begin() as session:
                repo = CorpusRepository(session)
                if isinstance(parsed, ParsedStatute):
                    outcome = repo.save_statute(parsed, key)
                elif isinstance(parsed, ParsedCase):
                    outcome = repo.save_case(parsed, key)
                else:
                    _check_citations(repo, parsed)
                    outcome = repo.save_card(parsed, key)
        except CorpusError as exc:
            log.warning("corpus import failed: %s", exc)
            report.failed.append(exc)
            continue
        except SQLAlchemyError as exc:
            orig = getattr(exc, "orig", None)
            reason = str(orig) if orig is not None else type(exc).__name__
            report.failed.append(CorpusError(f"database refused the document ({reason})", path))
            continue
        getattr(report, outcome).append(key)
    if prune and target.is_dir():
        report.removed.extend(_prune(sessions, seen, _kinds_in_scope(target)))
    return report


def _kinds_in_scope(target: Path) -> set[Kind]:
    """Kinds a folder import speaks for: its own kind folder, or the kind folders it contains."""
    own = {kind for kind, folder in _KIND_DIRS.items() if target.name == folder}
    return own or {kind for kind, folder in _KIND_DIRS.items() if (target / folder).is_dir()}


def _prune(sessions: sessionmaker[Session], seen: set[str], kinds: set[Kind]) -> list[str]:
    removed: list[str] = []
    with sessions.begin() as session:
        repo = CorpusRepository(session)
        for source, kind in sorted(repo.source_files().items()):
            if kind in kinds and source not in seen:
                repo.remove(source)
                removed.append(source)
    return removed
