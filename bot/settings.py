"""Typed, frozen settings read once from ``LAWLINE_*`` environment variables (and ``.env``).

Every setting is documented in README.md ("Settings"); ``tests/bot/test_settings.py`` checks that the
two lists agree. Values are cast here, once; a malformed value fails at start with the variable's name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

__all__ = ["Settings", "SettingsError", "load_settings"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A ``LAWLINE_*`` variable is missing or cannot be cast."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything Lawline reads from its environment.

    Paths default to folders under the project's ``var/`` so that ``make run`` needs no configuration.
    """

    var_dir: Path
    database_url: str
    corpus_dir: Path
    index_dir: Path
    embedding_model: str
    embedding_batch_size: int
    host: str
    port: int
    log_level: str

    @property
    def env_names(self) -> list[str]:
        """Names of the environment variables behind the fields, for documentation checks."""
        return [f"LAWLINE_{f.name.upper()}" for f in fields(self)]


def _read_dotenv(path: Path) -> dict[str, str]:
    """Parse a minimal ``KEY=VALUE`` ``.env`` file (development convenience; real env wins)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(name, f"expected an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(name, f"must be between {low} and {high}, got {value}")
    return value


def load_settings(environ: Mapping[str, str] | None = None, dotenv: Path | None = None) -> Settings:
    """Read the settings once; call from the CLI or the app factory, never at import time."""
    env: dict[str, str] = _read_dotenv(dotenv if dotenv is not None else PROJECT_ROOT / ".env")
    env.update(os.environ if environ is None else environ)

    var_dir = Path(env.get("LAWLINE_VAR_DIR") or PROJECT_ROOT / "var").expanduser()
    database_url = env.get("LAWLINE_DATABASE_URL") or f"sqlite:///{var_dir / 'lawline.sqlite3'}"
    log_level = (env.get("LAWLINE_LOG_LEVEL") or "INFO").upper()
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise SettingsError("LAWLINE_LOG_LEVEL", f"unknown level {log_level!r}")
    return Settings(
        var_dir=var_dir,
        database_url=database_url,
        corpus_dir=Path(env.get("LAWLINE_CORPUS_DIR") or PROJECT_ROOT / "corpus" / "data").expanduser(),
        index_dir=Path(env.get("LAWLINE_INDEX_DIR") or var_dir / "index").expanduser(),
        embedding_model=env.get("LAWLINE_EMBEDDING_MODEL") or "use-multilingual-v3",
        embedding_batch_size=_int(env, "LAWLINE_EMBEDDING_BATCH_SIZE", 64, 1, 4096),
        host=env.get("LAWLINE_HOST") or "127.0.0.1",
        port=_int(env, "LAWLINE_PORT", 8000, 1, 65535),
        log_level=log_level,
    )
