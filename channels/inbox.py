"""Inbound messages recorded before they are worked on, owned by a process that is alive.

WeChat delivers a message, waits 5 s, and retries it three times; a process killed while it answered used
to leave a de-duplication mark "working" for five minutes, so the retries got ``success`` and the resident
never heard back. Here every delivery is a row of ``channel_inbox`` (one per MsgId, or per openid + time
for events), written before anything else, with the process that works on it:

- a retry finds the row: ``replied`` → the same passive reply; ``working`` under a live owner → wait a
  little, then ``success`` (the owner pushes the answer); ``working`` under a dead owner → the retry takes
  the row over (one atomic UPDATE on the old owner) and answers it;
- ``orphans()`` lists the unfinished rows of dead owners, and this process's own that it no longer works on
  (``busy``: its work failed in an outage of the database or Redis): the channel's sweeper (on start, then
  every few seconds) takes them over and answers by push.

A process is alive while its heartbeat key (``proc:<owner>`` in the shared ``KeyValueStore``) exists; it is
refreshed every ``beat_seconds`` and expires after ``lease_seconds``. On the owner's own host a dead pid is
seen at once (``kill -9`` then restart: the retry that follows is answered, not parked for the lease).

Rows hold the resident's text only until they are ``done``; ``purge`` deletes finished rows after a day.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import secrets
import socket
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine, delete, false, insert, select, update
from sqlalchemy.exc import IntegrityError

from channels.storage import CHANNEL_METADATA, KeyValueStore, channel_inbox

__all__ = ["Heartbeat", "Inbox", "InboxRow", "InboxState", "channel_inbox"]

log = logging.getLogger(__name__)

InboxState = Literal["working", "replied", "pushing", "done"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class InboxRow:
    """One recorded delivery; ``kind`` ``ask`` sends ``text`` to the conversation, ``reply`` sends it as is."""

    key: str
    channel: str
    openid: str
    kind: str
    text: str
    state: str
    owner: str
    reply: str | None
    created_at: dt.datetime


class Heartbeat:
    """The name and liveness of this process, in the shared store (see the module docstring)."""

    def __init__(self, store: KeyValueStore, *, beat_seconds: float = 3.0, lease_seconds: float = 10.0) -> None:
        if not 0 < beat_seconds < lease_seconds:
            raise ValueError("beat_seconds must be positive and shorter than lease_seconds")
        self.owner = f"{socket.gethostname()[:60]}/{os.getpid()}/{secrets.token_hex(4)}"
        self._store = store
        self.beat_seconds = beat_seconds
        self.lease_seconds = lease_seconds
        self._task: asyncio.Task[None] | None = None

    def _key(self, owner: str) -> str:
        return f"proc:{owner}"

    async def beat(self) -> None:
        await self._store.set(self._key(self.owner), "alive", ttl=self.lease_seconds)

    def start(self) -> None:
        """Beat at once on the running loop, then every ``beat_seconds``."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="inbox-heartbeat")

    async def _run(self) -> None:
        while True:
            try:
                await self.beat()
                pause = self.beat_seconds
            except Exception as exc:
                # The store is down, or back empty after a crash: beat again soon, before the lease runs out
                # and another node takes this process's work for a dead one's.
                log.warning("heartbeat not written: %s", type(exc).__name__)
                pause = min(0.5, self.beat_seconds)
            await asyncio.sleep(pause)

    async def aclose(self) -> None:
        """Stop beating and say so: what this process still owns is taken over at once."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        try:
            await self._store.delete(self._key(self.owner))
        except Exception as exc:
            log.warning("heartbeat not removed: %s", type(exc).__name__)

    async def alive(self, owner: str) -> bool:
        if owner == self.owner:
            return True
        host, _, rest = owner.partition("/")
        pid = rest.partition("/")[0]
        if host == socket.gethostname()[:60] and pid.isdigit() and not _pid_running(int(pid)):
            return False
        return await self._store.get(self._key(owner)) is not None


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Inbox:
    """The ``channel_inbox`` table (SQLite or PostgreSQL through SQLAlchemy Core; calls run in a thread)."""

    def __init__(self, engine: Engine, heartbeat: Heartbeat) -> None:
        self._engine = engine
        self.heartbeat = heartbeat

    @property
    def owner(self) -> str:
        return self.heartbeat.owner

    def create_table(self) -> None:
        """For tests and embedded use; production uses the migrations."""
        CHANNEL_METADATA.create_all(self._engine, tables=[channel_inbox])

    async def claim(self, key: str, channel: str, openid: str, kind: str, text: str) -> InboxRow | None:
        """Record a delivery as this process's work; None when new, else the row an earlier delivery wrote."""
        return await asyncio.to_thread(self._claim, key, channel, openid, kind, text)

    def _claim(self, key: str, channel: str, openid: str, kind: str, text: str) -> InboxRow | None:
        now = _now()
        try:
            with self._engine.begin() as connection:
                connection.execute(insert(channel_inbox).values(
                    key=key, channel=channel, openid=openid, kind=kind, text=text, state="working",
                    owner=self.owner, reply=None, created_at=now, updated_at=now))
            return None
        except IntegrityError:
            return self._get(key)

    async def get(self, key: str) -> InboxRow | None:
        return await asyncio.to_thread(self._get, key)

    def _get(self, key: str) -> InboxRow | None:
        with self._engine.connect() as connection:
            row = connection.execute(select(channel_inbox).where(channel_inbox.c.key == key)).mappings().first()
        if row is None:
            return None
        return InboxRow(row["key"], row["channel"], row["openid"], row["kind"], row["text"], row["state"],
                        row["owner"], row["reply"], _aware(row["created_at"]))

    async def take_over(self, row: InboxRow) -> bool:
        """Make this process the owner of ``row`` if its owner is still the dead one (exactly one winner)."""
        def run() -> bool:
            with self._engine.begin() as connection:
                result = connection.execute(
                    update(channel_inbox).where(channel_inbox.c.key == row.key, channel_inbox.c.owner == row.owner,
                                                channel_inbox.c.state.in_(("working", "pushing")))
                    .values(owner=self.owner, updated_at=_now()))
            return bool(result.rowcount)

        return await asyncio.to_thread(run)

    async def mark(self, key: str, state: InboxState, reply: str | None = None) -> None:
        """Move a row this process owns on (``replied`` and ``done`` forget the resident's text)."""
        values: dict[str, object] = {"state": state, "updated_at": _now()}
        if reply is not None:
            values["reply"] = reply
        if state in ("replied", "done"):
            values["text"] = ""

        def run() -> None:
            with self._engine.begin() as connection:
                connection.execute(update(channel_inbox).where(channel_inbox.c.key == key).values(**values))

        await asyncio.to_thread(run)

    async def orphans(self, older_than: dt.timedelta = dt.timedelta(0), limit: int = 50, *,
                      busy: Collection[str] | None = None) -> list[InboxRow]:
        """Unfinished rows, first delivered before ``older_than`` ago, whose owner is dead.

        With ``busy`` (the keys this process works on now) also this process's own rows that are not busy.
        """
        mine = (channel_inbox.c.owner == self.owner) & channel_inbox.c.key.not_in(list(busy)) if busy is not None \
            else false()

        def rows() -> list[InboxRow]:
            with self._engine.connect() as connection:
                found = connection.execute(
                    select(channel_inbox.c.key).where(channel_inbox.c.state.in_(("working", "pushing")),
                                                      (channel_inbox.c.owner != self.owner) | mine,
                                                      channel_inbox.c.created_at < _now() - older_than)
                    .order_by(channel_inbox.c.created_at).limit(limit)).scalars().all()
            return [row for key in found if (row := self._get(key)) is not None]

        candidates = await asyncio.to_thread(rows)
        verdicts: dict[str, bool] = {}
        orphaned = []
        for row in candidates:
            if row.owner == self.owner:
                orphaned.append(row)
                continue
            if row.owner not in verdicts:
                verdicts[row.owner] = await self.heartbeat.alive(row.owner)
            if not verdicts[row.owner]:
                orphaned.append(row)
        return orphaned

    async def purge(self, older_than: dt.timedelta = dt.timedelta(days=1)) -> int:
        """Delete rows older than ``older_than`` that are finished; unfinished ones stay for the sweeper."""
        def run() -> int:
            with self._engine.begin() as connection:
                result = connection.execute(delete(channel_inbox).where(
                    channel_inbox.c.state.in_(("replied", "done")), channel_inbox.c.created_at < _now() - older_than))
            return int(result.rowcount)

        return await asyncio.to_thread(run)
