"""Riding out a short outage of the database or the shared store (a PostgreSQL restart, Redis killed).

A restart in fast mode cuts every session and refuses connections for about a second; a Redis brought back
after a crash refuses them meanwhile. Neither is a reason to drop a resident's message: ``patiently`` calls
again, with a short backoff, for as long as the failure is one of those (``unavailable``) and the patience
lasts, then lets the failure through, so that the message is left for the inbox's recovery.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

__all__ = ["patiently", "unavailable"]

T = TypeVar("T")


def unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database or Redis cannot be reached right now (not that a call was wrong)."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, ConnectionError):  # the OS's, e.g. a refused connection (not a timeout: that is slowness)
        return True
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError:  # pragma: no cover - redis is a dependency, but only the Redis store needs it
        return False
    return isinstance(exc, (RedisConnectionError, RedisTimeoutError))


async def patiently(call: Callable[[], Awaitable[T]], seconds: float) -> T:
    """``await call()``, called again while it fails with ``unavailable`` and ``seconds`` have not passed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    pause = 0.1
    while True:
        try:
            return await call()
        except Exception as exc:
            if not unavailable(exc) or loop.time() + pause > deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, 1.0)
