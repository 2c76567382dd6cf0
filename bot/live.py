"""Live updates for an open page: server-sent events, with a long poll where a browser cannot keep a stream.

One mechanism for every page that listens — the resident's web chat (``bot.web_chat``) and the adviser
console's queue and case pages (``bot.console.live_cases``). The caller gives ``take(after)``: what happened
after the cursor ``after`` (a growing integer id), as ``(id, payload)`` pairs, read from the database, so it
works whichever process (or machine) wrote it. ``live_response`` then answers:

- with ``Accept: text/event-stream``: server-sent events (WHATWG HTML, "Server-sent events"), one stream for
  about a minute, then the browser reconnects by itself, sending ``Last-Event-ID``;
- otherwise a long poll, answered as soon as something comes or after ``wait`` seconds (at most 25), as
  ``{**extra, "events": [payload, …], "after": the last id}``. Pages fall back to it where ``EventSource`` is
  missing or its stream fails (an old in-app browser, a proxy that buffers).

``cursor`` and ``wait`` read the request's ``after`` / ``Last-Event-ID`` and ``wait``; ``None`` means malformed
(answer 400). The pages' side is one listener too, ``bot/templates/live.js``, included in each page's script.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

__all__ = ["HEARTBEAT_SECONDS", "LONG_POLL_SECONDS", "STREAM_SECONDS", "Event", "Take", "cursor", "live_response",
           "wait"]

LONG_POLL_SECONDS = 25.0  # below the 30–60 s proxies and carriers allow an idle request
STREAM_SECONDS = 60.0  # then the browser reconnects (bounded, so a restart never waits long for open streams)
HEARTBEAT_SECONDS = 15.0

Event = tuple[int, dict[str, Any]]  # (id, what the page is told)
Take = Callable[[int], Awaitable[list[Event]]]


def cursor(request: Request) -> int | None:
    """The last event id the page showed: ``after``, or the stream's ``Last-Event-ID`` when it reconnects."""
    values = [request.query_params.get("after") or "0", request.headers.get("last-event-id") or "0"]
    if not all(v.isascii() and v.isdigit() and len(v) < 16 for v in values):
        return None
    return max(int(v) for v in values)


def wait(request: Request) -> float | None:
    """How long a long poll may wait (``wait``, default and at most ``LONG_POLL_SECONDS``)."""
    value = request.query_params.get("wait")
    if value is None:
        return LONG_POLL_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        return None
    return min(max(seconds, 0.0), LONG_POLL_SECONDS) if seconds == seconds else None  # NaN is not a wait


async def live_response(request: Request, take: Take, after: int, *, poll: float,
                        extra: dict[str, Any] | None = None) -> Response:
    """A stream or a long poll of ``take`` after ``after`` (see the module docstring); 400 for a bad ``wait``."""
    headers = {"Cache-Control": "no-store"}
    if "text/event-stream" in request.headers.get("accept", ""):
        return StreamingResponse(_stream(take, after, poll), media_type="text/event-stream",
                                 headers={**headers, "X-Accel-Buffering": "no"})
    seconds = wait(request)
    if seconds is None:
        return JSONResponse({"error": "bad wait"}, status_code=400, headers=headers)
    deadline = time.monotonic() + seconds
    while True:
        shown = await take(after)
        if shown or time.monotonic() >= deadline or await request.is_disconnected():
            break
        await anyio.sleep(poll)
    return JSONResponse({**(extra or {}), "events": [payload for _, payload in shown],
                         "after": max([after, *(i for i, _ in shown)])}, headers=headers)


async def _stream(take: Take, after: int, poll: float) -> AsyncIterator[str]:
    """``id`` and ``data`` lines per event, a comment now and then to keep the connection alive."""
    yield "retry: 3000\n\n"
    started = last_write = time.monotonic()
    while time.monotonic() - started < STREAM_SECONDS:
        for event_id, payload in await take(after):
            after = max(after, event_id)
            yield f"id: {event_id}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n"
            last_write = time.monotonic()
        if time.monotonic() - last_write >= HEARTBEAT_SECONDS:
            yield ": keep-alive\n\n"
            last_write = time.monotonic()
        await anyio.sleep(poll)
