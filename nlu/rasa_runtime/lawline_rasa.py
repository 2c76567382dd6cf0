"""``rasa`` as Lawline runs it: Rasa 3.6.21's own command line with six fixes installed first.

Run by Rasa's interpreter (``.venv-rasa/bin/python``, Python 3.10), never imported by the app::

    .venv-rasa/bin/python nlu/rasa_runtime/lawline_rasa.py run --enable-api …

Anything after the script name is ``rasa``'s usual arguments; the behaviour is Rasa's except:

1. **A custom action's response is validated against a schema compiled once.** Rasa 3.6's
   ``RemoteAction._validate_action_result`` calls ``jsonschema.validate(result, schema)`` on every action
   call, and ``validate`` first checks the *schema* against the JSON Schema 2020-12 meta-schema. That check
   of Rasa's own constant schema cost ≈ 30 ms of CPU per custom action here, more than the rest of the turn
   (profiled with cProfile, see docs/BENCHMARKS.md). The schema is checked once at start; every response is
   still validated, and an invalid one fails exactly as in Rasa (``ValidationError`` with Rasa's hint).
2. **The embedded SQLite tracker store runs in WAL mode with ``synchronous=NORMAL``.** Rasa's SQL tracker
   store is synchronous inside the server's event loop, so each commit's fsync (≈ 15 ms on this disk)
   stalled every conversation. With WAL and NORMAL a commit is not fsynced; a crash of Rasa loses nothing,
   a power cut may lose the last dialogue turns (the app's own database, which records every message and
   answer, keeps its full synchronisation). Only SQLite connections are touched; PostgreSQL is not.
3. **The SQLite tracker store keeps its connections.** With SQLAlchemy 1.4 (Rasa's pin) a file SQLite
   engine uses ``NullPool``: every tracker read and save opened a new connection and closed it, and closing
   the last connection of a WAL database checkpoints and deletes the WAL file — a third of Rasa's CPU per
   message in ``lawline bench load`` (py-spy, see docs/BENCHMARKS.md). The tracker store's SQLite engine now
   uses a ``QueuePool``; Rasa calls the tracker store only from its event-loop thread. Other databases keep
   Rasa's own engine arguments.
4. **An event's class is looked up in a table.** Rasa rebuilds the list of every ``Event`` subclass for each
   stored event it reads back (``Event.resolve_by_type``), per message for the whole conversation. The
   lookup now uses a table built from the same list, rebuilt when a name is not in it, and otherwise
   answers exactly as Rasa's (first class in Rasa's order, ``topic`` → None, default, the same error).

5. **The SQL tracker store reads and counts in SQL Core.** ``_retrieve`` (a turn's tracker) and
   ``_additional_events`` (how many of the tracker's events are stored already) ran Rasa's ORM query and
   its ``count()`` wrapper per message; they now run the same SQL — the sender's events since the latest
   ``session_started`` (or all of them), in id order — as Core statements reading only the ``data`` column.
   Results are Rasa's (SQLite and PostgreSQL, checked side by side with Rasa's own methods).

6. **The REST channel hands over each bot message whole.** Rasa's ``CollectingOutputChannel`` (behind
   ``/webhooks/rest/webhook``) split a text at every blank line into separate messages, so one composed
   answer reached the app as seven or eight: the official account pushed each as its own WeChat message
   (over WeChat's customer-service quota), the web chat showed each as a bubble with its own rating bar,
   and each was recorded as an answer, so the weekly report counted every question about eight times.
   Here a bot message is one message, as the action composed it; the app splits for each channel's limits.
   Nothing else of the message changes (buttons, custom payloads and images are sent as before).

All are small and checked by ``tests/nlu/test_rasa_runtime.py`` against the installed Rasa.
"""

from __future__ import annotations

import sqlite3
import sys
from typing import Any

__all__ = ["install", "main"]

_installed = False


def _compiled_action_response_validation() -> None:
    from jsonschema import ValidationError, exceptions, validators
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    schema = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)  # once, not per call
    validator = validator_class(schema)

    def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
        # What jsonschema.validate does after its schema check, then Rasa's own error text.
        error = exceptions.best_match(validator.iter_errors(result))
        if error is None:
            return True
        assert isinstance(error, ValidationError)
        error.message += (
            ". Failed to validate Action server response from API, "
            "make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise error

    RemoteAction._validate_action_result = _validate_action_result


def _sqlite_tracker_pragmas() -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _wal(dbapi_connection: Any, _record: Any) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()


def _pooled_sqlite_tracker_store() -> None:
    import rasa.core.tracker_store as tracker_store
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import QueuePool

    rasa_kwargs = tracker_store.create_engine_kwargs

    def create_engine_kwargs(url: Any) -> dict[str, Any]:
        parsed = make_url(url) if isinstance(url, str) else url
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            # The event loop's thread is the only user; the pool hands a connection back to it.
            return {"poolclass": QueuePool, "pool_size": 2, "max_overflow": 4,
                    "connect_args": {"check_same_thread": False}}
        kwargs: dict[str, Any] = rasa_kwargs(url)
        return kwargs

    tracker_store.create_engine_kwargs = create_engine_kwargs


def _event_class_table() -> None:
    from rasa.shared.core.events import Event
    from rasa.shared.utils.common import all_subclasses

    table: dict[str, type] = {}

    def rebuild() -> None:
        table.clear()
        for cls in all_subclasses(Event):
            table.setdefault(cls.type_name, cls)  # Rasa returns the first match in this order

    def resolve_by_type(type_name: str, default: Any = None) -> Any:
        cls = table.get(type_name)
        if cls is None:
            rebuild()
            cls = table.get(type_name)
        if cls is not None:
            return cls
        if type_name == "topic":
            return None  # as Rasa: old TopicSet events
        if default is not None:
            return default
        raise ValueError(f"Unknown event name '{type_name}'.")

    Event.resolve_by_type = staticmethod(resolve_by_type)


def _lean_sql_tracker_queries() -> None:
    import itertools
    import json
    import logging

    import sqlalchemy as sa
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.events import SessionStarted
    from rasa.shared.core.trackers import DialogueStateTracker

    logger = logging.getLogger("rasa.core.tracker_store")

    def events_query(store: Any, columns: list[Any], sender_id: str, all_sessions: bool) -> Any:
        # Rasa's _event_query in SQL Core: the sender's events from the latest session start (or all of them
        # when there is none), in id order.
        events = store.SQLEvent.__table__
        query = sa.select(*columns).where(events.c.sender_id == sender_id)
        if not all_sessions:
            start = (sa.select(sa.func.max(events.c.timestamp))
                     .where(events.c.sender_id == sender_id, events.c.type_name == SessionStarted.type_name)
                     .scalar_subquery())
            query = query.where(sa.or_(events.c.timestamp >= start, start.is_(None)))
        return query

    def _additional_events(self: Any, session: Any, tracker: Any) -> Any:
        counted = events_query(self, [sa.func.count()], tracker.sender_id, False)
        stored = session.execute(counted).scalar_one()
        return itertools.islice(tracker.events, stored, len(tracker.events))

    async def _retrieve(self: Any, sender_id: str, fetch_events_from_all_sessions: bool) -> Any:
        events = self.SQLEvent.__table__
        query = events_query(self, [events.c.data], sender_id, fetch_events_from_all_sessions)
        with self.session_scope() as session:
            rows = session.execute(query.order_by(events.c.id)).all()
        serialised = [json.loads(data) for (data,) in rows]
        if self.domain and len(serialised) > 0:
            logger.debug(f"Recreating tracker from sender id '{sender_id}'")
            return DialogueStateTracker.from_dict(sender_id, serialised, self.domain.slots)
        logger.debug(f"Can't retrieve tracker matching sender id '{sender_id}' from SQL storage. "
                     f"Returning `None` instead.")
        return None

    SQLTrackerStore._additional_events = _additional_events
    SQLTrackerStore._retrieve = _retrieve


def _whole_rest_messages() -> None:
    from rasa.core.channels.channel import CollectingOutputChannel

    async def send_text_message(self: Any, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._persist_message(self._message(recipient_id, text=text.strip()))

    CollectingOutputChannel.send_text_message = send_text_message


def install() -> None:
    """Install the fixes in this (Rasa) process; idempotent."""
    global _installed
    if _installed:
        return
    _compiled_action_response_validation()
    _sqlite_tracker_pragmas()
    _pooled_sqlite_tracker_store()
    _event_class_table()
    _lean_sql_tracker_queries()
    _whole_rest_messages()
    _installed = True


def main() -> None:
    """``rasa`` with the fixes installed; arguments as for ``rasa``."""
    install()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
