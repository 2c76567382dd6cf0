"""Assemble the console: its state, the publisher, and every route under one ``Mount("/console")``.

``bot.services.build_services`` calls ``build_console`` and adds ``Console.routes`` to the app. Route
modules of other issues pass their routes as ``extra_routes`` so they sit under the same mount and can use
``bot.console.auth``.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from bot.answers import AnswerComposer
from bot.console.auth import ConsoleMiddleware, ConsoleState
from bot.console.context import ConsoleContext
from bot.console.datafiles import data_sets
from bot.console.publishing import Publisher
from bot.settings import Settings

if TYPE_CHECKING:
    from handoff.directory import Directory
    from nlu.client import RasaClient

__all__ = ["Console", "build_console", "console_secret"]

log = logging.getLogger(__name__)


@dataclass
class Console:
    """The console's routes (add them to the app), its shared state and the publisher."""

    routes: list[BaseRoute]
    state: ConsoleState
    publisher: Publisher


def console_secret(settings: Settings) -> bytes:
    """``LAWLINE_CONSOLE_SECRET``, or a random key generated once and kept in ``var/console.secret``."""
    if settings.console_secret:
        return settings.console_secret.encode("utf-8")
    path = settings.var_dir / "console.secret"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(32))
        log.info("generated the console's signing key in %s", path)
    return path.read_text(encoding="ascii").strip().encode("ascii")


async def _to_console(_request: Request) -> Response:
    return RedirectResponse("/console/", status_code=307)


def build_console(settings: Settings, sessions: sessionmaker[Session], composer: AnswerComposer,
                  rasa: RasaClient | None, *, extra_routes: Sequence[BaseRoute] = (),
                  directory: Callable[[], Directory] | None = None) -> Console:
    """The console for the running app; ``composer`` answers from the newly published index at once.

    ``directory`` gives the service directory as loaded now (the accounts page offers its towns and villages).
    """
    from bot.console.routes_account import account_routes
    from bot.console.routes_corpus import corpus_routes
    from bot.console.routes_data import data_routes
    from bot.console.routes_drafts import draft_routes
    from bot.console.routes_tools import chat_feedback_routes, tool_routes

    publisher = Publisher(
        sessions, Path(settings.corpus_dir), Path(settings.index_dir), settings.embedding_model,
        lambda: composer.retriever.encoder, batch_size=settings.embedding_batch_size,
        on_retriever=composer.use_retriever, data_sets=data_sets(settings),
    )
    recovered = publisher.recover()
    if recovered:
        log.warning("%d draft(s) were left publishing by a stopped process; marked failed (nothing published)",
                    recovered)
    context = ConsoleContext(settings=settings, composer=composer, rasa=rasa, publisher=publisher,
                             corpus_dir=Path(settings.corpus_dir))
    state = ConsoleState(sessions, console_secret(settings), settings.console_session_hours,
                         services={"context": context, "directory": directory},
                         trusted_proxies=settings.trusted_proxies)
    routes = [*account_routes(), *corpus_routes(), *draft_routes(), *data_routes(), *tool_routes(),
              *extra_routes]
    mount = Mount("/console", routes=routes, middleware=[Middleware(ConsoleMiddleware, state=state)])
    return Console([Route("/console", _to_console), mount, *chat_feedback_routes(sessions)], state, publisher)
