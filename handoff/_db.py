"""Small database helpers shared by the handoff modules."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import CursorResult, Result
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

__all__ = ["record_patiently", "rowcount"]

T = TypeVar("T")


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE matched (the claim/lease pattern: 0 means someone else got there first)."""
    return result.rowcount if isinstance(result, CursorResult) else 0


def _unreachable(exc: Exception) -> bool:
    return isinstance(exc, (OperationalError, InterfaceError)) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated)


async def record_patiently(write: Callable[[], T], seconds: float) -> T:
    """Run the blocking ``write`` in a thread, again while the database cannot be reached, for ``seconds``.

    For what must be written after a message went out (sent, or sent with no answer back): given up at once,
    the row's lease would lapse and the message be sent a second time. A PostgreSQL restart refuses
    connections for about a second; ``seconds`` stays below the lease so that no other worker sends it meanwhile.
    """
    deadline = time.monotonic() + seconds
    pause = 0.1
    while True:
        try:
            return await asyncio.to_thread(write)
        except Exception as exc:
            if not _unreachable(exc) or time.monotonic() + pause > deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, 1.0)
