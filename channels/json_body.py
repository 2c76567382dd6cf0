r"""JSON request bodies, read one careful way: bounded while streaming, strict UTF-8, shallow, typed.

Every JSON endpoint reads its body here: the mini-program (this package) and, in ``bot``, the web chat, its
👍/👎 and the Rasa action webhook. It lives in ``channels`` because that is where residents' input enters
and ``channels`` may not import ``bot``; ``bot`` imports it from here, so there is one reader, not two.
It is a leaf: Starlette's ``Request`` and the standard library only.

What is refused, each as ``BodyRejected`` with the HTTP status and a short reason code (for logs and
machine clients; each endpoint words its own reply, a calm Chinese one for residents):

- 413 ``too_large``: a declared ``Content-Length`` over the limit, before a byte is read; a body without
  one (chunked) as soon as the bytes read pass the limit. A 50 MB body is never held in memory.
- 400 ``bad_length``: a ``Content-Length`` that is not a number.
- 400 ``not_utf8``: bytes that are not strict UTF-8 (RFC 8259 §8.1). ``json.loads`` would guess UTF-16/32
  from bytes; the body is decoded here instead.
- 400 ``not_json``: malformed or empty JSON, ``NaN``/``Infinity``, a number that overflows a float, an
  integer of more than 4,300 digits.
- 400 ``too_deep``: arrays and objects nested deeper than ``max_depth``, found before parsing (``_shallow``),
  so the parser never recurses into a hostile body: no ``RecursionError``, whatever the recursion limit.
- 400 ``lone_surrogate``: a ``\ud800``-style escape without its pair. ``json.loads`` accepts it, but the
  string cannot be encoded to UTF-8 afterwards (the database, jieba, the response would fail).
- 400 ``not_object``, ``missing:<field>``, ``wrong_type:<field>``: not the shape the endpoint reads.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any, TypeVar

from starlette.requests import Request

__all__ = [
    "MAX_DEPTH", "BodyRejected", "optional", "parse_json", "read_body", "read_json", "read_json_object", "required",
]

MAX_DEPTH = 32  # Rasa's action calls nest about 8 deep (domain → responses → buttons); residents' bodies 1
T = TypeVar("T")

# A JSON string, possessive and running to the end when never closed: one linear pass even on hostile input
# (an unterminated string hides the brackets after it, but the parser refuses the body at that quote).
_STRING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]++")
_PAIR = re.compile(r"\[\]|\{\}")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # cheap pre-check: only escapes can make surrogates
_SURROGATE = re.compile("[\ud800-\udfff]")


class BodyRejected(Exception):
    """A request body refused before any processing; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The body, refused with 413 as soon as it exceeds ``max_bytes`` (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):  # "²".isdigit() too; int() would fail on it
            raise BodyRejected(400, "bad_length")
        if int(declared) > max_bytes:
            raise BodyRejected(413, "too_large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise BodyRejected(413, "too_large")
    return bytes(body)


async def read_json(request: Request, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """The body as a JSON value (see the module docstring for what is refused)."""
    return parse_json(await read_body(request, max_bytes), max_depth=max_depth)


async def read_json_object(request: Request, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """The body as a JSON object; anything else is ``not_object``."""
    data = await read_json(request, max_bytes=max_bytes, max_depth=max_depth)
    if not isinstance(data, dict):
        raise BodyRejected(400, "not_object")
    return data


def parse_json(body: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """Strict UTF-8, depth-checked, surrogate-free JSON from ``body``."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyRejected(400, "not_utf8") from None
    if not _shallow(text, max_depth):
        raise BodyRejected(400, "too_deep")
    try:
        data = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError; so are the two hooks' refusals
        raise BodyRejected(400, "not_json") from None
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(data):
        raise BodyRejected(400, "lone_surrogate")
    return data


def required(data: Mapping[str, Any], name: str, kind: type[T]) -> T:
    """``data[name]``, present, not null and a ``kind`` (a bool is no int or float here)."""
    if data.get(name) is None:
        raise BodyRejected(400, f"missing:{name}")
    return _typed(data[name], name, kind)


def optional(data: Mapping[str, Any], name: str, kind: type[T], *, nullable: bool = True) -> T | None:
    """``data[name]`` as a ``kind``, or ``None`` when absent (or null, unless ``nullable`` is False)."""
    if name not in data:
        return None
    if data[name] is None:
        if nullable:
            return None
        raise BodyRejected(400, f"wrong_type:{name}")
    return _typed(data[name], name, kind)


def _typed(value: Any, name: str, kind: type[T]) -> T:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise BodyRejected(400, f"wrong_type:{name}")
    return value


def _shallow(text: str, max_depth: int) -> bool:
    """False if the parser could recurse deeper than ``max_depth`` into ``text``.

    The brackets outside strings are kept, then innermost pairs (``[]``, ``{}``) removed, one level a pass,
    each pass a regular expression (no Python loop per character). After ``k`` passes the depth is at most
    ``k`` plus the openers left, so the answer comes within ``max_depth`` passes, for malformed text too.
    """
    if text.count("[") + text.count("{") <= max_depth:
        return True
    skeleton = _NOT_BRACKET.sub("", _STRING.sub("", text))
    for passes in range(max_depth + 1):
        if passes + skeleton.count("[") + skeleton.count("{") <= max_depth:
            return True
        skeleton, removed = _PAIR.subn("", skeleton)
        if not removed:
            return False
    return False


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _has_lone_surrogate(data: Any) -> bool:
    """Any string (or key) holding a surrogate: after strict decoding, only a lone escape makes one."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False
