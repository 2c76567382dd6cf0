"""YAML front matter + Markdown body, the format of every file in ``corpus/data``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from corpus.errors import CorpusFormatError

__all__ = ["SourceFile", "read_source"]

MAX_FILE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A corpus file split into its metadata and body; ``body_start`` is the body's first line number."""

    path: Path
    meta: dict[str, Any]
    body: str
    body_start: int
    sha256: str


def read_source(path: Path) -> SourceFile:
    """Read and split ``path``; raise ``CorpusFormatError`` with a line number when it is malformed."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CorpusFormatError(f"cannot read file ({exc.strerror})", path) from exc
    if len(raw) > MAX_FILE_BYTES:
        raise CorpusFormatError(f"file is larger than {MAX_FILE_BYTES // 1024 // 1024} MiB", path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CorpusFormatError("not valid UTF-8", path, line) from exc
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        raise CorpusFormatError("missing front matter: the first line must be '---'", path, 1)
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise CorpusFormatError("front matter is not closed by a '---' line", path, 1) from None
    try:
        meta = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 2
        raise CorpusFormatError(f"front matter is not valid YAML ({getattr(exc, 'problem', exc)})", path, line) from exc
    if not isinstance(meta, dict):
        raise CorpusFormatError("front matter must be a mapping of fields", path, 2)
    return SourceFile(
        path=path,
        meta=meta,
        body="\n".join(lines[end + 1 :]),
        body_start=end + 2,
        sha256=hashlib.sha256(raw).hexdigest(),
    )
