"""The Rasa server as a child process on loopback: start, wait until ready, tell if alive, stop.

``rasa run --enable-api`` runs from Rasa's own virtualenv (Python 3.10) with the environment
``nlu/rasa/endpoints.yml`` needs; its output goes to ``<var>/rasa/rasa.log``. Rasa logs user messages
only at DEBUG, which is never turned on here.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import httpx

from nlu._environment import (
    REDIS_LOCK_LIFETIME_SECONDS,
    action_secret,
    endpoint_defaults,
    lock_store_type,
    rasa_environment,
)
from nlu.errors import RasaStartFailed
from nlu.layout import RasaLayout

__all__ = ["RasaServer", "free_port"]

log = logging.getLogger(__name__)

_LOG_TAIL_BYTES = 4000


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to send SIGTERM when the parent dies (no orphaned Rasa).

    ``prctl(PR_SET_PDEATHSIG)``; a no-op where it is unavailable.
    """
    import ctypes
    import signal

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except OSError:
        pass


class RasaServer:
    """One ``rasa run`` child process serving ``model``; a context manager that starts and stops it.

    ``lawline_port`` is where the app serves the custom actions (default: ``LAWLINE_PORT`` from the
    environment, else 8000). ``env`` overrides variables of the child's environment, e.g. the
    ``LAWLINE_RASA_TRACKER_*`` ones.
    """

    def __init__(
        self,
        model: Path,
        layout: RasaLayout,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        lawline_port: int | None = None,
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 180.0,
        plain: bool = False,
    ) -> None:
        self.model = model
        self.layout = layout
        self.host = host
        self.port = port or free_port(host)
        self.startup_timeout = startup_timeout
        self._lawline_port = lawline_port
        self._env_overrides = dict(env or {})
        self._process: subprocess.Popen[bytes] | None = None
        self.plain = plain  # Rasa's own ``rasa run``, without the launcher's fixes (``lawline bench load`` compares)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        """The ``rasa run`` command line, through ``nlu/rasa_runtime/lawline_rasa.py`` (Rasa's own CLI).

        ``plain``: Rasa's ``rasa`` script itself, as a project without those fixes would run it.
        """
        self.layout.require_rasa()
        launcher = [str(self.layout.rasa_python), str(self.layout.launcher)]
        runner = [str(self.layout.rasa_bin)] if self.plain else launcher
        return [
            *runner, "run",
            "--enable-api",
            "-i", self.host,
            "-p", str(self.port),
            "--model", str(self.model),
            "--endpoints", str(self.layout.endpoints),
            "--credentials", str(self.layout.credentials),
        ]

    def environment(self) -> dict[str, str]:
        """The child's environment: offline Rasa settings, then endpoint defaults for unset variables.

        The lock store is Redis exactly when ``LAWLINE_RASA_LOCK_REDIS_HOST`` is set (``lock_store_type``);
        its claims then lapse after ``REDIS_LOCK_LIFETIME_SECONDS`` unless ``TICKET_LOCK_LIFETIME`` is set.

        ``LAWLINE_ACTION_SECRET`` (what Rasa shows the app's ``/webhook``) comes from ``env``, the
        environment, or else the var folder's ``action.secret`` file, which the app reads too.
        """
        env = rasa_environment(self.layout.rasa_var / "cache")
        for name, value in endpoint_defaults(self.layout).items():
            env.setdefault(name, value)
        if self._lawline_port is not None:
            env["LAWLINE_PORT"] = str(self._lawline_port)
        env.update(self._env_overrides)
        env["LAWLINE_RASA_LOCK_STORE"] = lock_store_type(env)
        if env["LAWLINE_RASA_LOCK_STORE"] == "redis":
            env.setdefault("TICKET_LOCK_LIFETIME", str(REDIS_LOCK_LIFETIME_SECONDS))
        if not env.get("LAWLINE_ACTION_SECRET"):
            env["LAWLINE_ACTION_SECRET"] = action_secret(self.layout.var_dir)
        return env

    def start(self) -> RasaServer:
        """Start ``rasa run`` and return once ``/status`` reports the model loaded.

        Raises ``RasaStartFailed`` (with the end of the log) if Rasa exits or is not ready in time.
        """
        if self.is_alive():
            return self
        command = self.command()
        self.layout.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.layout.tracker_db.parent.mkdir(parents=True, exist_ok=True)
        log.info("starting Rasa on %s with model %s", self.url, self.model.name)
        with self.layout.log_file.open("ab") as log_file:
            log_file.write(f"\n==== rasa run on {self.url} ({self.model.name})\n".encode())
            log_file.flush()
            self._process = subprocess.Popen(
                command, cwd=self.layout.root, env=self.environment(), stdin=subprocess.DEVNULL,
                stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        """Poll ``/`` until the server answers, then ask ``/status`` once whether the model loaded.

        Rasa loads the model before it serves; polling ``/status`` itself would log an error per poll.
        """
        deadline = time.monotonic() + self.startup_timeout
        with httpx.Client(base_url=self.url, timeout=5.0) as http:
            while time.monotonic() < deadline:
                if not self.is_alive():
                    code = self._process.returncode if self._process else None
                    raise RasaStartFailed(f"rasa run exited with {code}", self._log_tail())
                try:
                    up = http.get("/").status_code == 200
                    status = http.get("/status") if up else None
                except httpx.TransportError:
                    status = None
                if status is not None:
                    if status.status_code == 200 and status.json().get("model_file"):
                        log.info("Rasa is ready on %s", self.url)
                        return
                    raise RasaStartFailed(f"Rasa on {self.url} runs without a model ({self.model})", self._log_tail())
                time.sleep(0.5)
        raise RasaStartFailed(f"Rasa was not ready on {self.url} within {self.startup_timeout:.0f}s", self._log_tail())

    def _log_tail(self) -> str:
        try:
            with self.layout.log_file.open("rb") as handle:
                handle.seek(0, 2)
                handle.seek(max(0, handle.tell() - _LOG_TAIL_BYTES))
                return handle.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs (benchmarks count its CPU)."""
        return self._process.pid if self._process is not None else None

    def is_alive(self) -> bool:
        """Whether the child process is running (not whether it answers)."""
        return self._process is not None and self._process.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        """Terminate the child, and kill it if it has not exited within ``timeout`` seconds."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("Rasa did not stop within %.0fs; killing it", timeout)
                process.kill()
                process.wait()
        log.info("Rasa on %s stopped (exit %s)", self.url, process.returncode)

    def __enter__(self) -> RasaServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
