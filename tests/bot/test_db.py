"""The embedded SQLite engine's settings."""

from __future__ import annotations

from sqlalchemy import text

from bot.db import make_engine


def test_sqlite_engine_uses_wal_normal_sync_and_foreign_keys(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'lawline.sqlite3'}")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()
    assert (tmp_path / "sub" / "lawline.sqlite3").is_file()


def test_httpcore_detects_asyncio_through_sniffio():
    # httpcore 1.0 imports sniffio on every async request; without it each request searched sys.path
    # for the missing module (the largest CPU cost per message in `lawline bench load`).
    import asyncio
    import sys

    from httpcore._synchronization import current_async_library

    async def detect() -> str:
        return current_async_library()

    assert asyncio.run(detect()) == "asyncio"
    assert "sniffio" in sys.modules
