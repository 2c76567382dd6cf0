"""The daily retention purge inside the running app: one worker process a day does it.

Every app worker runs a ``RetentionWorker``; each tries, at start and then every ``check_seconds``, to claim
the day's key (``privacy:purge:<date>``, Asia/Shanghai) in the shared ``KeyValueStore`` — the database or
Redis every worker sees — so exactly one of them purges per day, whichever comes first. A failed purge is
logged (counts only) and tried again the next day; ``lawline privacy purge`` can always run by hand.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from bot.privacy.retention import PurgeReport, purge
from channels.storage import KeyValueStore
from nlu.trackers import TrackerStore

__all__ = ["RetentionWorker"]

log = logging.getLogger(__name__)
TZ = ZoneInfo("Asia/Shanghai")


class RetentionWorker:
    """Start in the app's lifespan (``start``), stop with ``aclose``; ``run_once`` is the day's attempt."""

    def __init__(self, sessions: sessionmaker[Session], store: KeyValueStore, *, days: int,
                 handoff_text: Callable[[], str], tracker: TrackerStore | None = None,
                 check_seconds: float = 3600.0, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.sessions = sessions
        self.store = store
        self.days = days
        self.handoff_text = handoff_text  # read at purge time: the reply texts may be reloaded
        self.tracker = tracker
        self.check_seconds = check_seconds
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> PurgeReport | None:
        """Purge if no worker has today; ``None`` when another one had."""
        now = self.clock()
        day = now.astimezone(TZ).date().isoformat()
        if not await self.store.set_if_absent(f"privacy:purge:{day}", "claimed", ttl=2 * 86400):
            return None
        report = await asyncio.to_thread(purge, self.sessions, days=self.days, handoff_text=self.handoff_text(),
                                         tracker=self.tracker, now=now, actor="retention-worker")
        if report.tracker_failed:
            log.warning("retention purge: Rasa's tracker store was not purged (%s)", report.tracker)
        return report

    async def _forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception as exc:  # never let the purge take a worker down; tried again tomorrow
                log.error("retention purge failed: %s", type(exc).__name__)
            await asyncio.sleep(self.check_seconds)

    def start(self) -> None:
        """Start on the running event loop."""
        self._task = asyncio.get_running_loop().create_task(self._forever(), name="privacy-retention")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self.tracker is not None:
            self.tracker.close()
