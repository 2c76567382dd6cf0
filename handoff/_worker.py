"""The loop shared by the handoff workers (robot outbox, resident deliveries): rounds on the app's event loop.

A round sends what is due and says how long until something else may be; between rounds the worker sleeps
until woken (``wake()``, safe from any thread, after something is queued) or until ``idle_seconds`` pass, so
rows queued by another process are picked up too. A round that fails is logged and the rows stay queued.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod

__all__ = ["Worker"]

log = logging.getLogger(__name__)


class Worker(ABC):
    """Subclasses give ``name``, ``_make_due()`` (on start: what waited for a retry is due now) and ``_round()``."""

    name = "worker"

    def __init__(self, idle_seconds: float) -> None:
        self.idle_seconds = idle_seconds
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    @abstractmethod
    def _make_due(self) -> None:
        """Make every queued row due now (called once, on start)."""

    @abstractmethod
    async def _round(self) -> float:
        """One round; the seconds until the next one may have work (0: at once)."""

    def start(self) -> None:
        """Run on the current loop; what waited for a retry before a restart is due at once."""
        self._make_due()
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        self._task = self._loop.create_task(self.run(), name=self.name)

    def wake(self) -> None:
        """Safe from any thread."""
        if self._loop is not None and self._event is not None:
            self._loop.call_soon_threadsafe(self._event.set)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def run(self) -> None:
        assert self._event is not None
        while True:
            try:
                wait = await self._round()
            except Exception as exc:  # keep the worker alive; the rows stay queued
                log.error("%s round failed: %s", self.name, type(exc).__name__)
                wait = self.idle_seconds
            self._event.clear()
            if wait <= 0:
                continue
            try:
                await asyncio.wait_for(self._event.wait(), timeout=max(0.05, min(wait, self.idle_seconds)))
            except TimeoutError:
                pass
