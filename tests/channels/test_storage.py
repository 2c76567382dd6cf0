"""The shared key-value storage on every backend: memory, SQL (SQLite and PostgreSQL), Redis."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from sqlalchemy import inspect

from bot.db import make_engine
from channels.storage import CHANNEL_METADATA, KeyValueStore, MemoryStore, RedisStore, SqlStore

pytestmark = pytest.mark.anyio


async def _exercise(store: KeyValueStore) -> None:
    key = f"k-{uuid.uuid4().hex}"
    assert await store.get(key) is None
    await store.set(key, "工资 1")
    assert await store.get(key) == "工资 1"
    await store.set(key, "工资 2", ttl=60)
    assert await store.get(key) == "工资 2"
    await store.delete(key)
    assert await store.get(key) is None
    await store.delete(key)  # absent: no error

    assert await store.set_if_absent(key, "first", ttl=60)
    assert not await store.set_if_absent(key, "second", ttl=60)
    assert await store.get(key) == "first"

    short = f"s-{uuid.uuid4().hex}"
    assert await store.set_if_absent(short, "claimed", ttl=0.2)
    assert not await store.set_if_absent(short, "again", ttl=0.2)
    await asyncio.sleep(0.35)
    assert await store.get(short) is None
    assert await store.set_if_absent(short, "after expiry", ttl=5)
    assert await store.get(short) == "after expiry"

    with pytest.raises(ValueError):
        await store.set(key, "x", ttl=0)


async def _counting(stores: list[KeyValueStore], calls: int = 30) -> None:
    """Concurrent increments from several workers count every call exactly once; the window expires."""
    key = f"count-{uuid.uuid4().hex}"
    counts = await asyncio.gather(*(stores[i % len(stores)].incr(key, ttl=30) for i in range(calls)))
    assert sorted(counts) == list(range(1, calls + 1))
    short = f"window-{uuid.uuid4().hex}"
    assert await stores[0].incr(short, ttl=0.2) == 1
    assert await stores[-1].incr(short, ttl=0.2) == 2
    await asyncio.sleep(0.35)
    assert await stores[0].incr(short, ttl=0.2) == 1, "a new window starts from one"


async def _race(stores: list[KeyValueStore], claims: int = 24) -> list[bool]:
    key = f"race-{uuid.uuid4().hex}"
    return await asyncio.gather(
        *(stores[index % len(stores)].set_if_absent(key, f"worker-{index}", ttl=30) for index in range(claims))
    )


async def test_memory_store():
    store = MemoryStore()
    await _exercise(store)
    assert sum(await _race([store])) == 1
    await _counting([store])


async def test_sql_store_on_sqlite_and_postgresql(database_url: str):
    # Two engines on one database stand for two workers.
    engines = [make_engine(database_url), make_engine(database_url)]
    try:
        stores = [SqlStore(engine) for engine in engines]
        stores[0].create_table()
        assert "channel_kv" in inspect(engines[0]).get_table_names()
        await _exercise(stores[0])
        for _ in range(3):
            assert sum(await _race(stores)) == 1
        await _counting(stores)
        await stores[0].set("old", "v", ttl=0.05)
        await asyncio.sleep(0.1)
        assert await stores[1].purge_expired() >= 1
    finally:
        for engine in engines:
            engine.dispose()


def test_channel_metadata_holds_the_channel_tables_for_the_migrations():
    assert list(CHANNEL_METADATA.tables) == ["channel_kv", "channel_inbox"]
    assert CHANNEL_METADATA.tables["channel_inbox"].c["key"].primary_key
    columns = CHANNEL_METADATA.tables["channel_kv"].c
    assert [column.name for column in columns] == ["key", "value", "expires_at"]
    assert columns["key"].primary_key


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("LAWLINE_TEST_REDIS_URL")
    if not url:
        pytest.skip("Redis not started: LAWLINE_TEST_REDIS_URL=$(scripts/redis.sh start)")
    return url


async def test_redis_store(redis_url: str):
    prefix = f"lawline-test-{uuid.uuid4().hex[:8]}:"
    stores = [RedisStore.from_url(redis_url, prefix=prefix), RedisStore.from_url(redis_url, prefix=prefix)]
    try:
        await _exercise(stores[0])
        assert sum(await _race(stores)) == 1
        await _counting(stores)
    finally:
        for store in stores:
            await store.aclose()
