"""Small shared key-value storage for state that every worker must see.

The channels keep three kinds of short-lived state here: the access token and its refresh lock
(``wechat:token:*``), message de-duplication claims (``wechat:oa:*``) and mini-program session tokens
(``mp:session:*``), plus rate-limit counters (``mp:rate:*``). The interface is wechatpy's three-method
session storage (get / set with ttl / delete) made async, plus ``set_if_absent``: an atomic claim, so that
exactly one worker wins a race, and ``incr``: an atomic counter for fixed-window rate limits.

Backends:

- ``MemoryStore``: one process (tests, a single worker).
- ``SqlStore``: the app's database through SQLAlchemy 2 Core (SQLite or PostgreSQL); the table is in
  ``CHANNEL_METADATA`` for the Alembic migrations. Calls run in a worker thread.
- ``RedisStore``: ``redis.asyncio``; ``SET NX PX`` for claims.

Values are strings; ``ttl`` is in seconds (``None``: no expiry). An expired key reads as absent.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any, Protocol

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    cast,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

__all__ = ["CHANNEL_METADATA", "KeyValueStore", "MemoryStore", "RedisStore", "SqlStore", "channel_inbox", "channel_kv"]

CHANNEL_METADATA = MetaData()

channel_kv = Table(
    "channel_kv",
    CHANNEL_METADATA,
    Column("key", String(200), primary_key=True),
    Column("value", Text, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True, index=True),
)

# Inbound messages recorded before they are worked on: ``channels.inbox`` (defined here, with the other
# channel table, so that the migrations always see it).
channel_inbox = Table(
    "channel_inbox",
    CHANNEL_METADATA,
    Column("key", String(200), primary_key=True),
    Column("channel", String(30), nullable=False),
    Column("openid", String(100), nullable=False),
    Column("kind", String(10), nullable=False),  # ask: the conversation answers; reply: a fixed text
    Column("text", Text, nullable=False),
    Column("state", String(10), nullable=False, index=True),
    Column("owner", String(100), nullable=False),
    Column("reply", Text, nullable=True),  # the passive reply, for WeChat's retries
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


class KeyValueStore(Protocol):
    """Async shared storage with expiry; every backend below implements it."""

    async def get(self, key: str) -> str | None:
        """The value of ``key``, or ``None`` when absent or expired."""
        ...

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        """Store ``value`` under ``key``, replacing any value, expiring after ``ttl`` seconds."""
        ...

    async def set_if_absent(self, key: str, value: str, ttl: float | None = None) -> bool:
        """Store ``value`` only if ``key`` is absent or expired; True if this call stored it (atomically)."""
        ...

    async def delete(self, key: str) -> None:
        """Remove ``key`` (no error when absent)."""
        ...

    async def incr(self, key: str, ttl: float) -> int:
        """Add one to the counter ``key`` and return the new count; a new counter expires after ``ttl``."""
        ...


def _check_ttl(ttl: float | None) -> None:
    if ttl is not None and ttl <= 0:
        raise ValueError(f"ttl must be positive, got {ttl}")


class MemoryStore:
    """In-process storage: atomic within one event loop because no method awaits between read and write."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[str, float | None]] = {}

    def _live(self, key: str) -> str | None:
        item = self._data.get(key)
        if item is None:
            return None
        value, expires_at = item
        if expires_at is not None and expires_at <= time.monotonic():
            del self._data[key]
            return None
        return value

    def _put(self, key: str, value: str, ttl: float | None) -> None:
        _check_ttl(ttl)
        self._data[key] = (value, None if ttl is None else time.monotonic() + ttl)

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        self._put(key, value, ttl)

    async def set_if_absent(self, key: str, value: str, ttl: float | None = None) -> bool:
        if self._live(key) is not None:
            return False
        self._put(key, value, ttl)
        return True

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    async def incr(self, key: str, ttl: float) -> int:
        _check_ttl(ttl)
        current = self._live(key)
        if current is None:
            self._put(key, "1", ttl)
            return 1
        count = int(current) + 1
        self._data[key] = (str(count), self._data[key][1])
        return count


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SqlStore:
    """Storage in the ``channel_kv`` table of the app's database (SQLite or PostgreSQL).

    ``set_if_absent`` deletes an expired row, then inserts with ``ON CONFLICT DO NOTHING RETURNING key``,
    in one transaction (SQLite 3.35+): PostgreSQL makes a concurrent inserter wait on the primary key and
    then do nothing; SQLite serialises writers. Other dialects fall back to a plain INSERT and take the
    integrity error as "taken". Expired rows are ignored on read; ``purge_expired`` removes them (call
    it now and then). Times are computed here in UTC, so the database clock does not matter.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name

    def create_table(self) -> None:
        """Create ``channel_kv`` when missing: for tests and embedded use; production uses the migrations."""
        CHANNEL_METADATA.create_all(self._engine)

    def _expiry(self, ttl: float | None) -> dt.datetime | None:
        _check_ttl(ttl)
        return None if ttl is None else _utcnow() + dt.timedelta(seconds=ttl)

    def _live(self) -> Any:
        return (channel_kv.c.expires_at.is_(None)) | (channel_kv.c.expires_at > _utcnow())

    def _get(self, key: str) -> str | None:
        with self._engine.connect() as connection:
            row = connection.execute(select(channel_kv.c.value).where(channel_kv.c.key == key, self._live())).first()
        return None if row is None else str(row[0])

    def _upsert_statement(self, key: str, value: str, expires_at: dt.datetime | None, *, replace: bool) -> Any:
        values = {"key": key, "value": value, "expires_at": expires_at}
        statement: Any
        if self._dialect == "postgresql":
            from sqlalchemy.dialects import postgresql

            statement = postgresql.insert(channel_kv).values(values)
        elif self._dialect == "sqlite":
            from sqlalchemy.dialects import sqlite

            statement = sqlite.insert(channel_kv).values(values)
        else:
            return None
        if replace:
            return statement.on_conflict_do_update(
                index_elements=[channel_kv.c.key], set_={"value": value, "expires_at": expires_at}
            )
        # RETURNING tells reliably whether the row went in (psycopg reports rowcount -1 here).
        return statement.on_conflict_do_nothing(index_elements=[channel_kv.c.key]).returning(channel_kv.c.key)

    def _set(self, key: str, value: str, ttl: float | None) -> None:
        expires_at = self._expiry(ttl)
        statement = self._upsert_statement(key, value, expires_at, replace=True)
        with self._engine.begin() as connection:
            if statement is None:
                connection.execute(delete(channel_kv).where(channel_kv.c.key == key))
                connection.execute(insert(channel_kv).values(key=key, value=value, expires_at=expires_at))
            else:
                connection.execute(statement)

    def _set_if_absent(self, key: str, value: str, ttl: float | None) -> bool:
        expires_at = self._expiry(ttl)
        statement = self._upsert_statement(key, value, expires_at, replace=False)
        expired = delete(channel_kv).where(channel_kv.c.key == key, channel_kv.c.expires_at <= _utcnow())
        try:
            with self._engine.begin() as connection:
                connection.execute(expired)
                if statement is None:
                    connection.execute(insert(channel_kv).values(key=key, value=value, expires_at=expires_at))
                    return True
                return connection.execute(statement).first() is not None
        except IntegrityError:
            return False

    def _delete(self, key: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(delete(channel_kv).where(channel_kv.c.key == key))

    def _incr(self, key: str, ttl: float) -> int:
        # Claim the counter at 0 if absent (as set_if_absent does), then add one with an UPDATE: PostgreSQL
        # locks the row, so concurrent increments queue up; SQLite serialises writers.
        self._set_if_absent(key, "0", ttl)
        bump = (
            update(channel_kv).where(channel_kv.c.key == key)
            .values(value=cast(cast(channel_kv.c.value, Integer) + 1, Text))
            .returning(channel_kv.c.value)
        )
        with self._engine.begin() as connection:
            row = connection.execute(bump).first()
        if row is None:  # deleted between the two statements: count this call as the first
            return 1 if self._set_if_absent(key, "1", ttl) else self._incr(key, ttl)
        return int(row[0])

    def _purge_expired(self) -> int:
        with self._engine.begin() as connection:
            result = connection.execute(delete(channel_kv).where(channel_kv.c.expires_at <= _utcnow()))
        return int(result.rowcount)

    async def get(self, key: str) -> str | None:
        return await asyncio.to_thread(self._get, key)

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        await asyncio.to_thread(self._set, key, value, ttl)

    async def set_if_absent(self, key: str, value: str, ttl: float | None = None) -> bool:
        return await asyncio.to_thread(self._set_if_absent, key, value, ttl)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._delete, key)

    async def incr(self, key: str, ttl: float) -> int:
        return await asyncio.to_thread(self._incr, key, ttl)

    async def purge_expired(self) -> int:
        """Delete expired rows; returns how many."""
        return await asyncio.to_thread(self._purge_expired)


class RedisStore:
    """Storage in Redis (``redis.asyncio``); keys are prefixed so one Redis can serve several apps."""

    def __init__(self, redis: Any, prefix: str = "lawline:") -> None:
        self._redis = redis
        self._prefix = prefix

    @classmethod
    def from_url(cls, url: str, prefix: str = "lawline:") -> RedisStore:
        """Connect lazily to ``url`` (``redis://host:port/db``); close with ``aclose``.

        A command on a pooled connection that Redis dropped (a restart) reconnects and is sent again, up to
        three times within about a second: otherwise every stale connection of the pool failed one call each.
        """
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import ExponentialBackoff
        from redis.exceptions import ConnectionError, TimeoutError

        return cls(Redis.from_url(url, decode_responses=True, retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 3),
                                  retry_on_error=[ConnectionError, TimeoutError]), prefix)

    def _key(self, key: str) -> str:
        return self._prefix + key

    @staticmethod
    def _px(ttl: float | None) -> int | None:
        _check_ttl(ttl)
        return None if ttl is None else max(1, round(ttl * 1000))

    async def get(self, key: str) -> str | None:
        value = await self._redis.get(self._key(key))
        if value is None:
            return None
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        await self._redis.set(self._key(key), value, px=self._px(ttl))

    async def set_if_absent(self, key: str, value: str, ttl: float | None = None) -> bool:
        return bool(await self._redis.set(self._key(key), value, px=self._px(ttl), nx=True))

    async def delete(self, key: str) -> None:
        await self._redis.delete(self._key(key))

    async def incr(self, key: str, ttl: float) -> int:
        # SET NX PX starts the window with its expiry; INCR keeps the expiry.
        await self._redis.set(self._key(key), 0, px=self._px(ttl), nx=True)
        return int(await self._redis.incr(self._key(key)))

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()
