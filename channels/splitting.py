"""Splitting long answers to WeChat's per-message size.

A passive text reply ("被动回复用户消息", ``Content``) and a customer-service text message ("客服消息 /
发送客服消息", ``text.content``) are each limited to 2,048 bytes of UTF-8 (longer ones are refused or
cut by WeChat). An answer is split on paragraph boundaries first, then on lines, then after sentence
endings (。！？；…), and only as a last resort between characters: never inside a character, nor between
an emoji and its modifiers.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

__all__ = ["WECHAT_TEXT_LIMIT_BYTES", "pack_replies", "split_text", "utf8_size"]

WECHAT_TEXT_LIMIT_BYTES = 2048

_PARAGRAPHS = re.compile(r"\n[ \t\u3000]*\n\s*")
# After a sentence ending (and any closing quotes or brackets that follow it).
_SENTENCES = re.compile(r"(?<=[。！？!?；;…])(?![。！？!?；;…”’」』）)\]】])")
_JOINERS = {"\u200d", "\ufe0f", "\ufe0e"}


def utf8_size(text: str) -> int:
    """Bytes of ``text`` in UTF-8, the unit of WeChat's limits."""
    return len(text.encode("utf-8"))


def _clusters(text: str) -> list[str]:
    """Characters with their combining marks, variation selectors, skin tones and ZWJ sequences kept whole."""
    clusters: list[str] = []
    for char in text:
        attach = bool(clusters) and (
            char in _JOINERS
            or unicodedata.combining(char) != 0
            or 0x1F3FB <= ord(char) <= 0x1F3FF
            or clusters[-1].endswith("\u200d")
        )
        if attach:
            clusters[-1] += char
        else:
            clusters.append(char)
    return clusters


def _by_paragraph(text: str) -> list[str]:
    return _PARAGRAPHS.split(text)


def _by_line(text: str) -> list[str]:
    return text.split("\n")


def _by_sentence(text: str) -> list[str]:
    return _SENTENCES.split(text)


_LEVELS: list[tuple[str, Callable[[str], list[str]]]] = [
    ("\n\n", _by_paragraph),
    ("\n", _by_line),
    ("", _by_sentence),
    ("", _clusters),
]


def _pack(pieces: list[str], joiner: str, limit: int) -> list[str]:
    """Join consecutive pieces (each within ``limit``) into as few parts within ``limit`` as possible."""
    parts: list[str] = []
    current = ""
    for piece in pieces:
        if not piece.strip():
            continue
        if not current:
            current = piece
        elif utf8_size(current) + utf8_size(joiner) + utf8_size(piece) <= limit:
            current += joiner + piece
        else:
            parts.append(current)
            current = piece
    if current:
        parts.append(current)
    return parts


def _split(text: str, limit: int, level: int) -> list[str]:
    if utf8_size(text) <= limit:
        return [text]
    joiner, splitter = _LEVELS[level]
    pieces: list[str] = []
    for piece in splitter(text):
        if utf8_size(piece) <= limit or level + 1 == len(_LEVELS):
            pieces.append(piece)
        else:
            pieces.extend(_split(piece, limit, level + 1))
    return _pack(pieces, joiner, limit)


def split_text(text: str, max_bytes: int = WECHAT_TEXT_LIMIT_BYTES) -> list[str]:
    """Split ``text`` into stripped parts of at most ``max_bytes`` UTF-8 bytes each; ``[]`` for blank text.

    A single character cluster larger than ``max_bytes`` (only possible with a tiny limit) is kept whole.
    """
    if max_bytes < 4:
        raise ValueError("max_bytes must allow at least one character (4 bytes)")
    text = text.replace("\r\n", "\n").strip()
    if not text:
        return []
    return [part.strip() for part in _split(text, max_bytes, 0) if part.strip()]


def pack_replies(replies: list[str], max_bytes: int = WECHAT_TEXT_LIMIT_BYTES) -> list[str]:
    """The replies of one turn packed into as few WeChat messages as fit, in order, paragraph breaks kept.

    Sent one reply per message, a cited answer used to be a passive reply and up to seven pushes, the
    last refused by WeChat's quota (45047); packed, it is the passive reply and at most one push.
    """
    return split_text("\n\n".join(reply.strip() for reply in replies if reply.strip()), max_bytes)
