"""What the console's own routes need besides the database: settings, the composer, Rasa, the publisher."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from bot.answers import AnswerComposer
from bot.console.auth import console_state
from bot.console.publishing import Publisher
from bot.settings import Settings

if TYPE_CHECKING:
    from handoff.directory import Directory
    from nlu.client import RasaClient

__all__ = ["ConsoleContext", "context", "directory_now"]


@dataclass
class ConsoleContext:
    """The running services the console's pages use."""

    settings: Settings
    composer: AnswerComposer
    rasa: RasaClient | None
    publisher: Publisher
    corpus_dir: Path


def context(request: Request) -> ConsoleContext:
    """The console's services for this request (set by ``build_console``)."""
    value = console_state(request).services.get("context")
    if not isinstance(value, ConsoleContext):
        raise RuntimeError("the console was not built with build_console")
    return value


def directory_now(request: Request) -> Directory | None:
    """The service directory as the app has it loaded now (``build_console(directory=…)``), or None."""
    found: Any = console_state(request).services.get("directory")
    return found() if callable(found) else None
