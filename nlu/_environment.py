"""The environment every ``rasa`` subprocess gets: no telemetry, no training cache, quiet TensorFlow.

Also the defaults for the variables ``nlu/rasa/endpoints.yml`` needs: Rasa substitutes ``${NAME}`` there
but has no default syntax and stops on an unset variable, so the embedded SQLite defaults are exported here,
the lock store's type (``lock_store_type``: Redis once ``LAWLINE_RASA_LOCK_REDIS_HOST`` names a server, for
several Rasa servers on one tracker store), and the secret Rasa shows the app's action webhook
(``action_secret``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from nlu.layout import RasaLayout

__all__ = ["ACTION_SECRET_FILE", "DEFAULT_LAWLINE_PORT", "REDIS_LOCK_LIFETIME_SECONDS", "action_secret",
           "endpoint_defaults", "lock_store_type", "rasa_environment"]

DEFAULT_LAWLINE_PORT = 8000
ACTION_SECRET_FILE = "action.secret"

# Variables that would make Rasa's Python 3.10 import the app's packages or the app's virtualenv.
_DROPPED = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTHONNOUSERSITE")


def rasa_environment(cache_dir: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``base`` (default ``os.environ``) fit for running ``rasa`` offline from the repository."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in _DROPPED}
    env.update(
        {
            "RASA_TELEMETRY_ENABLED": "false",
            # Training happens only when our own fingerprint changed (nlu/project.py): no graph cache.
            "RASA_MAX_CACHE_SIZE": "0",
            "RASA_CACHE_DIRECTORY": str(cache_dir),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            "PYTHONUNBUFFERED": "1",
            "PYTHONIOENCODING": "utf-8",
        }
    )
    return env


def endpoint_defaults(layout: RasaLayout) -> dict[str, str]:
    """Values for the ``${…}`` in endpoints.yml: the app's action webhook and an embedded SQLite tracker.

    Used only for variables the environment does not set, so a deployment can point the tracker store at
    PostgreSQL (``LAWLINE_RASA_TRACKER_DIALECT=postgresql``, ``…_HOST=db:5432``, …) and the lock store at
    Redis (``LAWLINE_RASA_LOCK_REDIS_HOST=…``) without code changes.
    """
    return {
        "LAWLINE_PORT": str(DEFAULT_LAWLINE_PORT),
        "LAWLINE_RASA_TRACKER_DIALECT": "sqlite",
        "LAWLINE_RASA_TRACKER_HOST": "",
        "LAWLINE_RASA_TRACKER_DB": str(layout.tracker_db),
        "LAWLINE_RASA_TRACKER_USER": "",
        "LAWLINE_RASA_TRACKER_PASSWORD": "",
        "LAWLINE_RASA_LOCK_REDIS_HOST": "",
        "LAWLINE_RASA_LOCK_REDIS_PORT": "6379",
        "LAWLINE_RASA_LOCK_REDIS_DB": "1",
        "LAWLINE_RASA_LOCK_REDIS_PASSWORD": "",
    }


# How long a Rasa server's claim on a conversation lasts (Rasa's ``TICKET_LOCK_LIFETIME``, 60 s by default)
# when the locks are in Redis. A Rasa server killed mid-turn leaves its claim there until it lapses, and
# another node's Rasa waits on that conversation meanwhile (its app answers from retrieval). Longer than
# a Rasa turn may take (LAWLINE_ENGINE_TIMEOUT, 3 s by default), shorter than the 20 s after which another
# node's inbox sweeper answers the dead node's messages (channels.official_account).
REDIS_LOCK_LIFETIME_SECONDS = 15


def lock_store_type(env: Mapping[str, str]) -> str:
    """``LAWLINE_RASA_LOCK_STORE`` for endpoints.yml: ``redis`` when ``env`` names a lock Redis, else ``in_memory``.

    Rasa 3.6 locks a conversation while it handles a message; its in-memory lock store holds only within one
    server, so several Rasa servers on one tracker store (one per app node) need the Redis one.
    """
    return "redis" if env.get("LAWLINE_RASA_LOCK_REDIS_HOST", "").strip() else "in_memory"


def action_secret(var_dir: Path) -> str:
    """The secret Rasa sends the app's ``/webhook`` with, kept in ``<var_dir>/action.secret`` (mode 600).

    Used by both sides when ``LAWLINE_ACTION_SECRET`` is not set: ``lawline serve`` gives Rasa the var
    folder the app uses, so they read the same file. Generated once; written beside and linked into place,
    so a second process starting at the same moment reads the same, complete secret.
    """
    path = var_dir / ACTION_SECRET_FILE
    if not path.is_file():
        var_dir.mkdir(parents=True, exist_ok=True)
        draft = var_dir / f".{ACTION_SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(32))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process was first: its secret stands
        finally:
            draft.unlink()
    return path.read_text(encoding="ascii").strip()
