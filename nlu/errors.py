"""Errors of the ``nlu`` package: one root, structured fields, never a resident's message text.

::

    NluError
    ├── RasaNotInstalled        .venv-rasa is missing: run scripts/bootstrap-rasa.sh
    ├── RasaCommandFailed       a ``rasa`` command exited non-zero (command, returncode, output)
    │   ├── TrainingFailed      ``rasa train``
    │   └── ValidationFailed    ``rasa data validate``
    ├── RasaStartFailed         ``rasa run`` exited or was not ready in time (log tail)
    ├── RasaUnavailable         the Rasa server cannot be reached: refused, reset, timed out
    ├── RasaResponseError       the Rasa server answered with an error status or an unexpected body
    ├── TrackerStoreUnavailable Rasa's SQL tracker store cannot be read or written (url without password)
    └── IntentBenchError        an intent benchmark file is malformed (file:line)

The app maps ``RasaUnavailable`` (and ``RasaResponseError``) to a calm Chinese message pointing to 12348.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "IntentBenchError",
    "NluError",
    "RasaCommandFailed",
    "RasaNotInstalled",
    "RasaResponseError",
    "RasaStartFailed",
    "RasaUnavailable",
    "TrackerStoreUnavailable",
    "TrainingFailed",
    "ValidationFailed",
]


class NluError(Exception):
    """Root of every error raised by the ``nlu`` package."""


class RasaNotInstalled(NluError):
    """Rasa's virtualenv is missing; ``scripts/bootstrap-rasa.sh`` builds it."""

    def __init__(self, rasa_bin: Path) -> None:
        super().__init__(f"Rasa is not installed at {rasa_bin}: run scripts/bootstrap-rasa.sh")
        self.rasa_bin = rasa_bin


class RasaCommandFailed(NluError):
    """A ``rasa`` command exited non-zero; ``output`` is its combined stdout and stderr."""

    def __init__(self, command: Sequence[str], returncode: int, output: str) -> None:
        super().__init__(f"{' '.join(command[:3])} exited with {returncode}:\n{output.strip()}")
        self.command = list(command)
        self.returncode = returncode
        self.output = output


class TrainingFailed(RasaCommandFailed):
    """``rasa train`` failed."""


class ValidationFailed(RasaCommandFailed):
    """``rasa data validate`` found errors in the Rasa project."""


class RasaStartFailed(NluError):
    """``rasa run`` exited early or did not report ready within the timeout."""

    def __init__(self, reason: str, log_tail: str = "") -> None:
        super().__init__(f"{reason}\n{log_tail}".strip())
        self.reason = reason
        self.log_tail = log_tail


class RasaUnavailable(NluError):
    """The Rasa server could not be reached (connection refused or reset, timeout)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"Rasa at {url} is unavailable: {reason}")
        self.url = url
        self.reason = reason


class RasaResponseError(NluError):
    """The Rasa server answered, but with an error status or a body that is not what the API promises."""

    def __init__(self, url: str, status: int, reason: str) -> None:
        super().__init__(f"Rasa at {url} answered {status}: {reason}")
        self.url = url
        self.status = status
        self.reason = reason


class TrackerStoreUnavailable(NluError):
    """Rasa's SQL tracker store could not be reached or changed; ``url`` never carries the password."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"Rasa's tracker store at {url} is unavailable: {reason}")
        self.url = url
        self.reason = reason


class IntentBenchError(NluError, ValueError):
    """An intent benchmark input is malformed; the message names file and line."""
