"""The one JSON body reader: what it refuses, with which status, and that hostile bodies stay cheap."""

from __future__ import annotations

import time

import pytest
from starlette.requests import Request

from channels.json_body import BodyRejected, optional, parse_json, read_body, read_json_object, required

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(("body", "reason"), [
    (b'{"text": "\\ud800"}', "lone_surrogate"),
    (b'{"\\udfff": 1}', "lone_surrogate"),
    (b'["ok", ["\\ud83d"]]', "lone_surrogate"),
    (b"[" * 1000 + b"]" * 1000, "too_deep"),
    (b'{"a":' * 33 + b"1" + b"}" * 33, "too_deep"),
    (b"[" * 100_000 + b'"', "too_deep"),
    (b"", "not_json"),
    (b"{oops", "not_json"),
    (b"NaN", "not_json"),
    (b'{"n": -Infinity}', "not_json"),
    (b"1e999", "not_json"),
    (b"1" * 5000, "not_json"),
    (b"\xef\xbb\xbf{}", "not_json"),
    (b'"' + b'\\"' * 1000, "not_json"),
    ('{"text": "你好"}'.encode("utf-16"), "not_utf8"),
    (b'{"text": "\xed\xa0\x80"}', "not_utf8"),  # a surrogate encoded in UTF-8 bytes
])
def test_bad_bodies_are_refused_with_a_reason(body, reason):
    with pytest.raises(BodyRejected) as info:
        parse_json(body)
    assert (info.value.status, info.value.reason) == (400, reason)


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize(("body", "value"), [
    (b'{"text": "\\ud83d\\ude00"}', {"text": "😀"}),  # a pair is one character
    (b'{"text": "\\\\ud800"}', {"text": "\\ud800"}),  # an escaped backslash, not an escape
    (b'{"text": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', {"text": "[" * 40}),
    (b"[" * 32 + b"]" * 32, _nested(32)),
    ('{"text": "老板欠钱"}'.encode(), {"text": "老板欠钱"}),
])
def test_good_bodies_parse(body, value):
    assert parse_json(body) == value


@pytest.mark.parametrize("body", [
    b"[" + b"[]," * 300_000 + b"[]]",
    b'"' + b'\\"' * 500_000 + b"\\",
    (b"[" * 32 + b"]" * 32) * 15_000,
    b"[" + b'"a",' * 200_000 + b'"a"]',
])
def test_hostile_megabytes_stay_linear(body):
    """About a second on a busy machine; a quadratic scan of these would take hours."""
    started = time.perf_counter()
    try:
        parse_json(body)
    except BodyRejected:
        pass
    assert time.perf_counter() - started < 10


def test_fields_are_typed():
    data = {"text": "你好", "n": True, "none": None}
    assert required(data, "text", str) == "你好" and optional(data, "none", str) is None
    for call, reason in [(lambda: required(data, "none", str), "missing:none"),
                         (lambda: required(data, "n", int), "wrong_type:n"),
                         (lambda: optional(data, "none", dict, nullable=False), "wrong_type:none"),
                         (lambda: required(data, "text", dict), "wrong_type:text")]:
        with pytest.raises(BodyRejected) as info:
            call()
        assert info.value.reason == reason
    assert optional(data, "absent", dict, nullable=False) is None


def _request(headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[Request, list[int]]:
    read: list[int] = []

    async def receive():
        if not chunks:
            return {"type": "http.request", "body": b"", "more_body": False}
        chunk = chunks.pop(0)
        read.append(len(chunk))
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers}, receive), read


async def test_the_limit_holds_while_streaming_and_before_it():
    request, read = _request([], [b" " * 1000] * 100)
    with pytest.raises(BodyRejected) as info:
        await read_body(request, 4096)
    assert info.value.status == 413 and sum(read) <= 5000, "stopped at the limit, not at the end"
    request, read = _request([(b"content-length", b"52428800")], [b" " * 1000])
    with pytest.raises(BodyRejected) as info:
        await read_body(request, 4096)
    assert info.value.status == 413 and read == [], "refused before reading"
    for value in (b"12x", "²".encode("latin-1"), b"-1"):
        request, _ = _request([(b"content-length", value)], [b"{}"])
        with pytest.raises(BodyRejected) as info:
            await read_body(request, 4096)
        assert (info.value.status, info.value.reason) == (400, "bad_length")
    request, _ = _request([], [b'{"text":', b' "ok"}'])
    assert await read_json_object(request, max_bytes=4096) == {"text": "ok"}
    request, _ = _request([], [b"[1]"])
    with pytest.raises(BodyRejected) as info:
        await read_json_object(request, max_bytes=4096)
    assert info.value.reason == "not_object"
