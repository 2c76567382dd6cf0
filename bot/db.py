"""Engine, sessions and schema migrations (Alembic) for SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["make_engine", "make_sessions", "upgrade_schema", "schema_is_current"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str) -> Engine:
    """Create the engine; for SQLite make the parent folder, turn on foreign keys and WAL.

    SQLite runs with ``synchronous=NORMAL``, the setting SQLite's documentation recommends with WAL: a
    committed transaction survives a crash of Lawline, and the database is never corrupted, but a power cut
    or an OS crash may roll back the last transactions before the next checkpoint. With the default (FULL)
    every commit waited for an fsync while holding SQLite's single writer lock, and a message commits
    several times (deduplication, the message, the answer, the handoff desk), so residents queued behind
    the disk (measured in ``lawline bench load``; docs/BENCHMARKS.md). A deployment that must not lose a
    committed write even to a power cut runs on PostgreSQL (``LAWLINE_DATABASE_URL``).
    """
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"future": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    return engine


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    """Session factory; objects stay readable after commit (the caller owns the transaction)."""
    return sessionmaker(engine, expire_on_commit=False)


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


# The PostgreSQL advisory lock the migrating transaction holds (bot/migrations/env.py), so that several nodes
# starting together migrate one after another (the number only has to differ from other advisory locks).
MIGRATION_LOCK_KEY = 1_234_800_001


def upgrade_schema(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema to ``revision`` (idempotent; safe when several processes start at once).

    PostgreSQL: the migration transaction takes an advisory lock. SQLite: a lock file beside the database
    (processes on one machine share the file); an in-memory database needs none.
    """
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        command.upgrade(_alembic_config(engine), revision)
        return
    import fcntl

    with open(f"{database}.migrate.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        command.upgrade(_alembic_config(engine), revision)


def schema_is_current(engine: Engine) -> bool:
    """True when the database is at the newest migration."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(_alembic_config(engine)).get_heads())
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return False
        return set(MigrationContext.configure(connection).get_current_heads()) == heads
