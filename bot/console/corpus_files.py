"""Write console edits back into the corpus files, so they survive every re-import.

The files under ``LAWLINE_CORPUS_DIR`` stay the source of truth (``lawline corpus import`` reads them);
the console changes the smallest part of a file it can — one article's lines, one front-matter line, one
card — and the result is parsed by the same parsers the importer uses before anything is written.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from corpus.cards import ParsedCard, parse_card
from corpus.errors import CorpusError, CorpusFormatError
from corpus.numerals import cn_to_int
from corpus.statutes import ARTICLE_RE, HEADING_RE, ParsedStatute, parse_statute

__all__ = [
    "EditError",
    "card_yaml",
    "corpus_file",
    "parse_card_text",
    "parse_statute_text",
    "replace_article",
    "set_law_dates",
    "statute_file_name",
]

_FILE_NAME_BAD = re.compile(r"[\\/:*?\"<>|\x00-\x1f]")


class EditError(ValueError):
    """An edit cannot be applied to the file; the message is Chinese, for the editor."""


def corpus_file(corpus_dir: Path, source_file: str) -> Path:
    """The file behind ``source_file`` (``statutes/….md``), refusing anything outside the corpus folder."""
    root = corpus_dir.resolve()
    path = (root / source_file).resolve()
    if root not in path.parents:
        raise EditError(f"文件 {source_file} 不在知识库目录里。")
    return path


def _body_start(lines: list[str]) -> int:
    if not lines or lines[0].strip() != "---":
        raise EditError("文件缺少开头的 front matter（第一行应为 ---）。")
    for i in range(1, len(lines)):
        if lines[i].strip() == "---":
            return i + 1
    raise EditError("front matter 没有用 --- 结束。")


def _article_key(line: str) -> tuple[int, str] | None:
    match = ARTICLE_RE.match(line.strip())
    if not match:
        return None
    return cn_to_int(match[1]), match[2] or ""


def replace_article(text: str, label: str, new_text: str) -> str:
    """``text`` (a statute file) with the article ``label`` (第三十条) replaced by ``new_text``.

    ``new_text`` is the article as the console shows it: one paragraph (款) or item (项) per line.
    """
    wanted = _article_key(f"{label} x")
    if wanted is None:
        raise EditError(f"{label} 不是条文编号。")
    paragraphs = [line.strip() for line in new_text.replace("\r\n", "\n").split("\n") if line.strip()]
    if not paragraphs:
        raise EditError("条文不能为空。")
    for line in paragraphs:
        if _article_key(line) is not None or HEADING_RE.match(line):
            raise EditError(f"条文里的一行不能以“第X条”或“#”开头：{line[:20]}")
    lines = text.split("\n")
    start = end = None
    for i in range(_body_start(lines), len(lines)):
        key = _article_key(lines[i])
        if start is None:
            if key == wanted:
                start = i
        elif key is not None or HEADING_RE.match(lines[i].strip()):
            end = i
            break
    if start is None:
        raise EditError(f"文件里找不到{label}。")
    end = len(lines) if end is None else end
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    printed = ARTICLE_RE.match(lines[start].strip())
    head = f"第{printed[1]}条{printed[2] or ''}" if printed else label
    block = [f"{head} {paragraphs[0]}"]
    for paragraph in paragraphs[1:]:
        block += ["", paragraph]
    return "\n".join(lines[:start] + block + lines[end:])


def _front_matter_line(value: dt.date | None, name: str) -> str | None:
    return None if value is None else f"{name}: {value.isoformat()}"


def set_law_dates(text: str, effective: dt.date | None, repealed: dt.date | None) -> str:
    """``text`` with its front matter's ``effective`` and ``repealed`` set (``None`` removes the line)."""
    lines = text.split("\n")
    end = _body_start(lines) - 1
    head, body = lines[1:end], lines[end:]
    for name, value in (("effective", effective), ("repealed", repealed)):
        new = _front_matter_line(value, name)
        found = [i for i, line in enumerate(head) if line.startswith(f"{name}:")]
        if found:
            if new is None:
                del head[found[0]]
            else:
                head[found[0]] = new
        elif new is not None:
            head.append(new)
    return "\n".join([lines[0], *head, *body])


def statute_file_name(title: str, effective: dt.date | None, taken: Sequence[str]) -> str:
    """``statutes/<title>.md``, or ``statutes/<title>（<effective>）.md`` when that name is taken."""
    base = _FILE_NAME_BAD.sub("", title).strip()[:120] or "未命名"
    name = f"statutes/{base}.md"
    if name in taken:
        name = f"statutes/{base}（{effective.isoformat() if effective else '新版本'}）.md"
    return name


T = TypeVar("T")


def _parse_as(text: str, source_file: str, parse: Callable[[Path], T]) -> T:
    """Parse ``text`` with the importer's ``parse`` as if it were ``source_file`` (errors read ``name:line: …``)."""
    name = Path(source_file).name
    with tempfile.TemporaryDirectory(prefix="lawline-parse-") as folder:
        path = Path(folder) / name
        path.write_text(text, encoding="utf-8")
        try:
            return parse(path)
        except CorpusError as exc:
            raise CorpusFormatError(exc.reason, name, exc.line) from None


def parse_statute_text(text: str, source_file: str) -> ParsedStatute:
    """Parse statute text exactly as an import of ``source_file`` would (errors read ``name:line: …``)."""
    return _parse_as(text, source_file, parse_statute)


def parse_card_text(text: str, source_file: str) -> ParsedCard:
    """Parse card YAML exactly as an import of ``source_file`` would."""
    return _parse_as(text, source_file, parse_card)


class _CardDumper(yaml.SafeDumper):
    pass


def _text_block(dumper: yaml.SafeDumper, value: str) -> Any:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_CardDumper.add_representer(str, _text_block)


def card_yaml(card: dict[str, Any]) -> str:
    """A card file in the layout of ``corpus/data/cards/README.md`` (keys in that order)."""
    keys = ("id", "topic", "title", "questions", "not_for", "answer", "next_steps", "where_to_go", "citations",
            "version", "updated", "reviewed")
    ordered = {k: card[k] for k in keys if k in card}
    if isinstance(ordered.get("answer"), str) and not ordered["answer"].endswith("\n"):
        ordered["answer"] += "\n"
    return yaml.dump(ordered, Dumper=_CardDumper, allow_unicode=True, sort_keys=False, width=1000,
                     default_flow_style=False)
