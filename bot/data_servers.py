"""PostgreSQL and Redis as ``scripts/postgres.sh`` and ``scripts/redis.sh`` run them, for benches that hurt them.

``lawline bench faults`` restarts the database (fast mode: every session is cut, as in a restart in
production) and kills Redis with SIGKILL (it comes back empty: the scripts' Redis saves nothing). Only a server
the scripts run on loopback can be hurt: the port comes from the URL, the data folder from the scripts'
own ``LAWLINE_PG_DATA`` / ``LAWLINE_REDIS_DATA`` (default ``var/postgres``, ``var/redis``).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

__all__ = ["DataServers", "ensure_rasa_database", "rasa_stores_env"]

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _script(name: str, action: str, env: dict[str, str]) -> None:
    done = subprocess.run([str(SCRIPTS / name), action], env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"scripts/{name} {action} failed: {done.stderr.strip()[-300:]}")


@dataclass(frozen=True, slots=True)
class DataServers:
    """The database and Redis a stack runs on; either may be absent (then its fault cannot run)."""

    database_url: str | None
    redis_url: str | None

    def missing_for(self, fault: str) -> str | None:
        """Why ``fault`` cannot run on these servers (None: it can)."""
        if fault == "restart_postgres":
            if self.database_url is None or make_url(self.database_url).get_backend_name() != "postgresql":
                return ("restart_postgres needs the stack on PostgreSQL: set LAWLINE_DATABASE_URL or "
                        "--database-url to the URL `scripts/postgres.sh start` prints")
            if make_url(self.database_url).host not in _LOOPBACK:
                return "restart_postgres restarts only the loopback PostgreSQL of scripts/postgres.sh"
        if fault == "kill_redis":
            if not self.redis_url:
                return ("kill_redis needs Redis: set LAWLINE_REDIS_URL or --redis-url to the URL "
                        "`scripts/redis.sh start` prints")
            if _redis_parts(self.redis_url)[0] not in _LOOPBACK:
                return "kill_redis kills only the loopback Redis of scripts/redis.sh"
        return None

    def _pg_env(self) -> dict[str, str]:
        assert self.database_url is not None
        return {"LAWLINE_PG_PORT": str(make_url(self.database_url).port or 5432)}

    def _redis_env(self) -> dict[str, str]:
        assert self.redis_url is not None
        return {"LAWLINE_REDIS_PORT": str(_redis_parts(self.redis_url)[1])}

    def restart_postgres(self) -> None:
        """``pg_ctl restart -m fast``: sessions cut, the server back within a second or so."""
        _script("postgres.sh", "restart", self._pg_env())

    def kill_redis(self) -> None:
        """``kill -9`` of Redis; it stays down until ``start_redis``."""
        _script("redis.sh", "kill", self._redis_env())

    def start_redis(self) -> None:
        _script("redis.sh", "start", self._redis_env())

    def ensure_running(self) -> None:
        """Both servers up again, whatever a fault left (idempotent: the scripts start only what is down)."""
        if self.database_url is not None and make_url(self.database_url).get_backend_name() == "postgresql":
            _script("postgres.sh", "start", self._pg_env())
        if self.redis_url:
            self.start_redis()


def _redis_parts(url: str) -> tuple[str, int, int]:
    """Host, port and database number of a ``redis://`` URL."""
    parts = urlsplit(url)
    db = parts.path.strip("/")
    return parts.hostname or "127.0.0.1", parts.port or 6379, int(db) if db.isdigit() else 0


def ensure_rasa_database(database_url: str) -> None:
    """Create ``<name>_rasa`` beside a PostgreSQL database: Rasa 3.6 falls back to memory when it is missing."""
    from sqlalchemy import create_engine, text

    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            name = f"{url.database}_rasa"
            if connection.scalar(text("select 1 from pg_database where datname = :name"), {"name": name}) is None:
                connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\''))
    finally:
        engine.dispose()


def rasa_stores_env(database_url: str | None, redis_url: str | None) -> dict[str, str]:
    """Rasa's tracker on the same PostgreSQL (database ``<name>_rasa``) and its locks in the same Redis.

    As deploy/lawline.env.example sets them, so that a restart or a kill reaches Rasa too (the database must
    exist: ``ensure_rasa_database``); SQLite stays Rasa's own default.
    """
    env: dict[str, str] = {}
    if database_url is not None:
        url = make_url(database_url)
        if url.get_backend_name() == "postgresql":
            env.update({"LAWLINE_RASA_TRACKER_DIALECT": "postgresql",
                        "LAWLINE_RASA_TRACKER_HOST": f"{url.host}:{url.port or 5432}",
                        "LAWLINE_RASA_TRACKER_DB": f"{url.database}_rasa",
                        "LAWLINE_RASA_TRACKER_USER": url.username or "",
                        "LAWLINE_RASA_TRACKER_PASSWORD": url.password or ""})
    if redis_url:
        host, port, db = _redis_parts(redis_url)
        env.update({"LAWLINE_RASA_LOCK_REDIS_HOST": host, "LAWLINE_RASA_LOCK_REDIS_PORT": str(port),
                    "LAWLINE_RASA_LOCK_REDIS_DB": str(db + 1 if db < 15 else db - 1),
                    "LAWLINE_RASA_LOCK_REDIS_PASSWORD": urlsplit(redis_url).password or ""})
    return env
