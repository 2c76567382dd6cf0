"""Answers that outlive their HTTP request.

When an answer misses WeChat's passive-reply window, the request returns ``success`` and the answer is
pushed later from a task. ``BackgroundTasks`` keeps those tasks referenced (asyncio holds only weak
references) and lets the app wait for them at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

__all__ = ["BackgroundTasks"]

logger = logging.getLogger(__name__)


class BackgroundTasks:
    """A set of fire-and-forget tasks that are awaited, then cancelled, when the app stops."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coroutine: Coroutine[Any, Any, None], name: str | None = None) -> asyncio.Task[None]:
        """Run ``coroutine`` as a task; an exception it raises is logged (by type only) and dropped."""
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            logger.error("background task %s failed: %s", task.get_name(), type(exc).__name__)

    async def join(self, timeout: float | None = None) -> bool:
        """Wait until every task (including ones spawned meanwhile) is done; False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self._tasks:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=remaining)
        return True

    async def aclose(self, timeout: float = 10.0) -> None:
        """Give pending pushes ``timeout`` seconds to finish, then cancel the rest (app shutdown)."""
        if await self.join(timeout):
            return
        pending = list(self._tasks)
        logger.warning("cancelling %d unfinished channel tasks at shutdown", len(pending))
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
