"""Keep the Rasa child process running next to the app: start it in the background, restart it if it dies.

The app answers from retrieval while Rasa starts or restarts (``ConversationService`` falls back), so a
slow or crashed Rasa never blocks a resident; when Rasa is back, conversations go through it again.
"""

from __future__ import annotations

import logging
import threading

from nlu.errors import NluError
from nlu.process import RasaServer

__all__ = ["RasaSupervisor"]

log = logging.getLogger(__name__)


class RasaSupervisor:
    """Starts ``server`` in a thread and restarts it (with a growing pause) whenever it exits."""

    def __init__(self, server: RasaServer, *, check_every: float = 5.0, max_pause: float = 60.0) -> None:
        self.server = server
        self.check_every = check_every
        self.max_pause = max_pause
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rasa-supervisor", daemon=True)
        self.restarts = 0

    def start(self) -> RasaSupervisor:
        self._thread.start()
        return self

    def _run(self) -> None:
        pause = self.check_every
        while not self._stop.is_set():
            if not self.server.is_alive():
                try:
                    self.server.start()
                    pause = self.check_every
                    log.info("Rasa is serving at %s", self.server.url)
                except NluError as exc:
                    self.restarts += 1
                    log.error("Rasa did not start (%s); retrying in %.0fs", type(exc).__name__, pause)
                    pause = min(pause * 2, self.max_pause)
            self._stop.wait(pause)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.server.stop()
