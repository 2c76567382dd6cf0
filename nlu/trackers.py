"""Rasa's SQL tracker store as the app reaches it (issue #16): a resident's dialogue, read, erased or aged out.

Rasa keeps every event of a conversation — what the resident typed, the entities found, the slots set — in
the ``events`` table of its SQL tracker store (``nlu/rasa/endpoints.yml``): a SQLite file under
``<var>/rasa/`` by default, or the database the ``LAWLINE_RASA_TRACKER_*`` variables name. ``tracker_url``
reads the same variables with the same defaults Rasa is started with (``nlu._environment``), so the app
finds the store Rasa writes. Rows are handled with SQLAlchemy Core on a table declared like Rasa's own
``SQLEvent``; Rasa is never imported. Rasa reads a tracker from the database on every turn, so a sender
whose events are deleted simply starts a new conversation.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import (
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    create_engine,
    delete,
    func,
    inspect,
    select,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from nlu._environment import endpoint_defaults
from nlu.errors import TrackerStoreUnavailable
from nlu.layout import RasaLayout

__all__ = ["EVENTS", "TrackerStore", "tracker_url"]

_METADATA = MetaData()
EVENTS = Table(  # rasa.core.tracker_store.SQLTrackerStore.SQLEvent (Rasa 3.6)
    "events", _METADATA,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False, index=True),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)
SESSION_STARTED = "session_started"
_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}  # the app's driver
_CHUNK = 500


def tracker_url(layout: RasaLayout, environ: Mapping[str, str] | None = None) -> str:
    """The SQLAlchemy URL of the tracker store Rasa uses (``environ`` defaults to ``os.environ``).

    Follows Rasa's ``SQLTrackerStore.get_db_url``: a host that is a whole URL is used as it is; SQLite's
    ``db`` is a file (relative to the repository root, where Rasa runs).
    """
    given = os.environ if environ is None else environ
    env = {**endpoint_defaults(layout), **{k: v for k, v in given.items() if k.startswith("LAWLINE_RASA_TRACKER_")}}
    dialect = env["LAWLINE_RASA_TRACKER_DIALECT"] or "sqlite"
    host, db = env["LAWLINE_RASA_TRACKER_HOST"], env["LAWLINE_RASA_TRACKER_DB"]
    if "://" in host:
        return host
    if dialect == "sqlite":
        path = Path(db).expanduser()
        return f"sqlite:///{path if path.is_absolute() else layout.root / path}"
    parsed = urlsplit(f"scheme://{host}") if host else None
    return URL.create(_DRIVERS.get(dialect, dialect), username=env["LAWLINE_RASA_TRACKER_USER"] or None,
                      password=env["LAWLINE_RASA_TRACKER_PASSWORD"] or None,
                      host=parsed.hostname if parsed else None, port=parsed.port if parsed else None,
                      database=db or None).render_as_string(hide_password=False)


class TrackerStore:
    """The ``events`` table of one tracker store; every method raises ``TrackerStoreUnavailable`` on failure."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None

    @property
    def shown_url(self) -> str:
        """The URL without its password, for messages."""
        return make_url(self.url).render_as_string(hide_password=True)

    def _connect(self) -> Engine:
        if self._engine is None:
            self._engine = create_engine(self.url, future=True)
        return self._engine

    def present(self) -> bool:
        """Whether the store exists yet (Rasa creates it on its first conversation); never creates a file."""
        parsed = make_url(self.url)
        if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
            return False
        try:
            return inspect(self._connect()).has_table("events")
        except SQLAlchemyError as exc:
            raise TrackerStoreUnavailable(self.shown_url, type(exc).__name__) from None

    def events(self, senders: Collection[str]) -> list[dict[str, Any]]:
        """Every event of ``senders``, oldest first, as Rasa stored it (for a resident's export)."""
        rows: list[dict[str, Any]] = []
        try:
            with self._connect().connect() as connection:
                for chunk in _chunks(senders):
                    query = select(EVENTS.c.sender_id, EVENTS.c.data).where(EVENTS.c.sender_id.in_(chunk))
                    for sender, data in connection.execute(query.order_by(EVENTS.c.id)):
                        rows.append({"sender_id": sender, **_parsed(data)})
        except SQLAlchemyError as exc:
            raise TrackerStoreUnavailable(self.shown_url, type(exc).__name__) from None
        return rows

    def delete_senders(self, senders: Collection[str], *, dry_run: bool = False) -> int:
        """Delete every event of ``senders`` (a resident's erasure); the number of events."""
        try:
            with self._connect().begin() as connection:
                total = 0
                for chunk in _chunks(senders):
                    where = EVENTS.c.sender_id.in_(chunk)
                    total += int(connection.scalar(select(func.count()).select_from(EVENTS).where(where)) or 0)
                    if not dry_run:
                        connection.execute(delete(EVENTS).where(where))
                return total
        except SQLAlchemyError as exc:
            raise TrackerStoreUnavailable(self.shown_url, type(exc).__name__) from None

    def purge_before(self, cutoff: dt.datetime, *, dry_run: bool = False) -> int:
        """Delete events older than ``cutoff``, except those of a sender's session still going on.

        A sender whose last event is older goes entirely; otherwise only events before both the cutoff and
        the sender's latest ``session_started`` (Rasa rebuilds a tracker from that session only, carrying
        the slots over into it), so a conversation in progress keeps its state.
        """
        stamp = cutoff.timestamp()
        later = EVENTS.alias("later")
        session_start = (select(func.max(later.c.timestamp))
                         .where(later.c.sender_id == EVENTS.c.sender_id, later.c.type_name == SESSION_STARTED)
                         .scalar_subquery())
        gone = select(EVENTS.c.sender_id).group_by(EVENTS.c.sender_id).having(func.max(EVENTS.c.timestamp) < stamp)
        old = and_(EVENTS.c.timestamp < stamp, EVENTS.c.timestamp < session_start)
        try:
            with self._connect().begin() as connection:
                whole = EVENTS.c.sender_id.in_(gone.scalar_subquery())
                total = int(connection.scalar(select(func.count()).select_from(EVENTS).where(whole)) or 0)
                if not dry_run:
                    connection.execute(delete(EVENTS).where(whole))
                total += int(connection.scalar(select(func.count()).select_from(EVENTS).where(old, ~whole)) or 0)
                if not dry_run:
                    connection.execute(delete(EVENTS).where(old))
                return total
        except SQLAlchemyError as exc:
            raise TrackerStoreUnavailable(self.shown_url, type(exc).__name__) from None

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def _chunks(values: Collection[str]) -> list[list[str]]:
    items = sorted(set(values))
    return [items[i:i + _CHUNK] for i in range(0, len(items), _CHUNK)]


def _parsed(data: str | None) -> dict[str, Any]:
    try:
        value = json.loads(data or "{}")
    except ValueError:
        return {"data": data}
    return value if isinstance(value, dict) else {"data": value}
