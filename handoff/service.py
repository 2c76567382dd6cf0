"""The handoff side wired together: directory, tickets, desk, robot sender, deliveries and the deadline sweep.

``bot.services`` builds one ``HandoffService`` per app from the settings and starts its workers in the
app's lifespan (``start``); ``aclose`` stops them. Everything they work on is in the database, so a
restart picks up exactly where the last process stopped.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
from sqlalchemy.orm import Session, sessionmaker

from handoff.danger import Triage
from handoff.delivery import DeliveryWorker
from handoff.desk import HandoffDesk
from handoff.directory import Directory
from handoff.ports import AdviserNotifier, Clock, ResidentMessenger, TranscriptSource, utc_now
from handoff.robot import DEFAULT_WECOM_API_BASE, RobotClient, RobotSender
from handoff.routing import Router
from handoff.signals import SignalDetector, load_signals
from handoff.texts import HandoffTexts, load_texts
from handoff.tickets import TicketService

__all__ = ["HandoffService", "ticket_path"]

log = logging.getLogger(__name__)


def ticket_path(ticket_id: int) -> str:
    """Where a ticket is handled in the console (relative to the public URL)."""
    return f"/console/cases/{ticket_id}"


class HandoffService:
    """One per app: ``tickets`` (staff and other packages), ``desk`` (the conversation), workers."""

    def __init__(self, sessions: sessionmaker[Session], directory: Directory, *, http: httpx.AsyncClient,
                 messenger: ResidentMessenger | None, transcript: TranscriptSource | None,
                 public_url: str | None = None, wecom_api_base: str = DEFAULT_WECOM_API_BASE,
                 clock: Clock = utc_now, texts: HandoffTexts | None = None, signals: SignalDetector | None = None,
                 sweep_seconds: float = 60.0, robot_per_minute: int = 20,
                 notifier: AdviserNotifier | None = None, triage: Triage | None = None) -> None:
        self.directory = directory
        self.texts = texts or load_texts()
        self.signals = signals or load_signals()
        self.robots = RobotSender(sessions, directory, RobotClient(http, wecom_api_base), clock=clock,
                                  per_minute=robot_per_minute, notifier=notifier)
        self.deliveries = DeliveryWorker(sessions, messenger, self.texts["window_notice"], clock=clock)
        base = public_url.rstrip("/") if public_url else None
        self.tickets = TicketService(sessions, directory, self.texts, clock=clock,
                                     link=(lambda i: f"{base}{ticket_path(i)}") if base else (lambda _i: None),
                                     wake_robots=self.robots.wake, wake_deliveries=self.deliveries.wake)
        self.desk = HandoffDesk(sessions, self.tickets, directory, self.texts, self.signals, transcript, clock=clock,
                                triage=triage)
        self.sweep_seconds = sweep_seconds
        self._sweeper: asyncio.Task[None] | None = None

    def use_directory(self, directory: Directory) -> None:
        """Route and describe with ``directory`` from now on (an editor published a new one; bot.reloading)."""
        self.directory = directory
        self.robots.directory = directory
        self.tickets.directory = directory
        self.tickets.router = Router(directory)
        self.desk.directory = directory
        for note in directory.notes():
            log.warning("handoff directory: %s", note)

    def use_triage(self, triage: Triage) -> None:
        """Check danger with ``triage`` from now on (staff published new patterns or examples; bot.reloading)."""
        self.signals = triage.signals
        self.desk.signals = triage.signals
        self.desk.triage = triage

    def start(self) -> None:
        """Start the workers on the running event loop (the app's lifespan)."""
        self.robots.start()
        self.deliveries.start()
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever(), name="handoff-sweep")
        for note in self.directory.notes():
            log.warning("handoff directory: %s", note)

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.tickets.sweep)
            except Exception as exc:
                log.error("handoff sweep failed: %s", type(exc).__name__)
            await asyncio.sleep(self.sweep_seconds)

    async def aclose(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        await self.robots.aclose()
        await self.deliveries.aclose()
