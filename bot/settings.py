"""Typed, frozen settings read once from ``LAWLINE_*`` environment variables (and ``.env``).

Every setting is documented in README.md ("Settings"); ``tests/bot/test_settings.py`` checks that the
two lists agree. Values are cast here, once; a malformed value fails at start with the variable's name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TypeVar

from channels.client_address import TrustedProxies, parse_trusted_proxies

__all__ = ["Settings", "SettingsError", "load_settings"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
N = TypeVar("N", int, float)


class SettingsError(ValueError):
    """A ``LAWLINE_*`` variable is missing or cannot be cast."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


_DERIVED = {"rasa_managed"}  # computed from other variables, not read itself


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
    workers: int
    public_url: str
    log_level: str
    rasa_url: str
    rasa_port: int
    rasa_managed: bool
    engine_timeout: float
    action_secret: str | None  # what Rasa shows /webhook; None: generated in var/action.secret
    wechat_token: str | None
    wechat_appid: str | None
    wechat_appsecret: str | None
    wechat_aes_key: str | None
    wechat_api_base: str
    mp_appid: str | None
    mp_appsecret: str | None
    redis_url: str | None
    directory: Path
    wecom_api_base: str
    console_secret: str | None
    console_session_hours: int
    trusted_proxies: TrustedProxies
    reload_seconds: float
    danger_model: Path
    danger_dir: Path  # signals.yaml and danger/*.jsonl: what the console publishes, shared by every node
    danger_tuned: Path | None  # the fine-tuned encoder's adapters (`lawline danger tune`); None: "off"
    retention_days: int
    metrics_token: str | None  # who may read /metrics from elsewhere than loopback (a bearer token)
    passive_reply_seconds: float  # how long /wechat waits for an answer before it answers "success" and pushes

    @property
    def env_names(self) -> list[str]:
        """Names of the environment variables behind the fields, for documentation checks."""
        return [f"LAWLINE_{f.name.upper()}" for f in fields(self) if f.name not in _DERIVED]


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


def _number(env: Mapping[str, str], name: str, default: N, low: N, high: N, cast: Callable[[str], N]) -> N:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = cast(raw)
    except ValueError:
        raise SettingsError(name, f"expected {'an integer' if cast is int else 'a number'}, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(name, f"must be between {low} and {high}, got {value}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    return _number(env, name, default, low, high, int)


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    return _number(env, name, default, low, high, float)


def _danger_tuned(env: Mapping[str, str]) -> Path | None:
    value = (env.get("LAWLINE_DANGER_TUNED") or "").strip()
    if value.lower() == "off":
        return None
    return Path(value).expanduser() if value else PROJECT_ROOT / "handoff" / "data" / "danger_tuned"


def _optional(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _wechat(env: Mapping[str, str]) -> tuple[str | None, str | None, str | None, str | None]:
    """The official account's credentials: all or nothing (no defaults for secrets)."""
    token, appid, secret = (_optional(env, f"LAWLINE_WECHAT_{k}") for k in ("TOKEN", "APPID", "APPSECRET"))
    aes_key = _optional(env, "LAWLINE_WECHAT_AES_KEY")
    if token or appid or secret or aes_key:
        for name, value in (("TOKEN", token), ("APPID", appid), ("APPSECRET", secret)):
            if not value:
                raise SettingsError(f"LAWLINE_WECHAT_{name}", "required when the official account is configured")
    if aes_key is not None and len(aes_key) != 43:
        raise SettingsError("LAWLINE_WECHAT_AES_KEY", "EncodingAESKey must be 43 characters")
    return token, appid, secret, aes_key


def _public_url(env: Mapping[str, str]) -> str:
    """Where residents and staff reach this server from outside (links in WeChat messages and menus)."""
    url = (env.get("LAWLINE_PUBLIC_URL") or "").strip().rstrip("/")
    if not url:
        host = env.get("LAWLINE_HOST") or "127.0.0.1"
        return f"http://{host}:{env.get('LAWLINE_PORT') or 8000}"
    if not url.startswith(("https://", "http://")):
        raise SettingsError("LAWLINE_PUBLIC_URL", f"must start with https:// (got {url!r})")
    return url


def _action_secret(env: Mapping[str, str]) -> str | None:
    """The secret the Rasa server sends the action webhook; unset means ``<var>/action.secret`` (both sides).

    It travels in an HTTP header and through Rasa's ``${…}`` substitution, hence RFC 6750's token characters.
    """
    secret = _optional(env, "LAWLINE_ACTION_SECRET")
    if secret is not None and not re.fullmatch(r"[A-Za-z0-9._~+/=-]{32,}", secret):
        raise SettingsError("LAWLINE_ACTION_SECRET", "must be at least 32 letters, digits or ._~+/=-")
    return secret


def _console_secret(env: Mapping[str, str]) -> str | None:
    """The console's signing key; unset means one is generated once and kept in ``LAWLINE_VAR_DIR``."""
    secret = _optional(env, "LAWLINE_CONSOLE_SECRET")
    if secret is not None and len(secret) < 32:
        raise SettingsError("LAWLINE_CONSOLE_SECRET", "must be at least 32 characters")
    return secret


def _trusted_proxies(env: Mapping[str, str]) -> TrustedProxies:
    """The reverse proxies whose ``X-Forwarded-For`` is believed (``channels.client_address``); none by default."""
    try:
        return parse_trusted_proxies(env.get("LAWLINE_TRUSTED_PROXIES") or "")
    except ValueError as exc:
        raise SettingsError("LAWLINE_TRUSTED_PROXIES", str(exc)) from None


def load_settings(environ: Mapping[str, str] | None = None, dotenv: Path | None = None) -> Settings:
    """Read the settings once; call from the CLI or the app factory, never at import time."""
    env: dict[str, str] = _read_dotenv(dotenv if dotenv is not None else PROJECT_ROOT / ".env")
    env.update(os.environ if environ is None else environ)

    var_dir = Path(env.get("LAWLINE_VAR_DIR") or PROJECT_ROOT / "var").expanduser()
    database_url = env.get("LAWLINE_DATABASE_URL") or f"sqlite:///{var_dir / 'lawline.sqlite3'}"
    log_level = (env.get("LAWLINE_LOG_LEVEL") or "INFO").upper()
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise SettingsError("LAWLINE_LOG_LEVEL", f"unknown level {log_level!r}")
    rasa_port = _int(env, "LAWLINE_RASA_PORT", 5005, 1, 65535)
    rasa_url = (env.get("LAWLINE_RASA_URL") or f"http://127.0.0.1:{rasa_port}").rstrip("/")
    token, appid, secret, aes_key = _wechat(env)
    if bool(_optional(env, "LAWLINE_MP_APPID")) != bool(_optional(env, "LAWLINE_MP_APPSECRET")):
        raise SettingsError("LAWLINE_MP_APPSECRET", "LAWLINE_MP_APPID and LAWLINE_MP_APPSECRET go together")
    return Settings(
        var_dir=var_dir,
        database_url=database_url,
        corpus_dir=Path(env.get("LAWLINE_CORPUS_DIR") or PROJECT_ROOT / "corpus" / "data").expanduser(),
        index_dir=Path(env.get("LAWLINE_INDEX_DIR") or var_dir / "index").expanduser(),
        embedding_model=env.get("LAWLINE_EMBEDDING_MODEL") or "use-multilingual-v3",
        embedding_batch_size=_int(env, "LAWLINE_EMBEDDING_BATCH_SIZE", 64, 1, 4096),
        host=env.get("LAWLINE_HOST") or "127.0.0.1",
        port=_int(env, "LAWLINE_PORT", 8000, 1, 65535),
        workers=_int(env, "LAWLINE_WORKERS", 1, 1, 32),
        public_url=_public_url(env),
        log_level=log_level,
        rasa_url=rasa_url,
        rasa_port=rasa_port,
        rasa_managed=not env.get("LAWLINE_RASA_URL"),
        engine_timeout=_float(env, "LAWLINE_ENGINE_TIMEOUT", 3.0, 0.1, 30.0),
        action_secret=_action_secret(env),
        wechat_token=token,
        wechat_appid=appid,
        wechat_appsecret=secret,
        wechat_aes_key=aes_key,
        wechat_api_base=(env.get("LAWLINE_WECHAT_API_BASE") or "https://api.weixin.qq.com").rstrip("/"),
        mp_appid=_optional(env, "LAWLINE_MP_APPID"),
        mp_appsecret=_optional(env, "LAWLINE_MP_APPSECRET"),
        redis_url=_optional(env, "LAWLINE_REDIS_URL"),
        directory=Path(env.get("LAWLINE_DIRECTORY") or PROJECT_ROOT / "handoff" / "data" / "county.yaml").expanduser(),
        wecom_api_base=(env.get("LAWLINE_WECOM_API_BASE") or "https://qyapi.weixin.qq.com").rstrip("/"),
        console_secret=_console_secret(env),
        console_session_hours=_int(env, "LAWLINE_CONSOLE_SESSION_HOURS", 8, 1, 24 * 30),
        trusted_proxies=_trusted_proxies(env),
        reload_seconds=_float(env, "LAWLINE_RELOAD_SECONDS", 10.0, 0.0, 3600.0),
        danger_model=Path(env.get("LAWLINE_DANGER_MODEL") or var_dir / "danger" / "model.joblib").expanduser(),
        danger_dir=Path(env.get("LAWLINE_DANGER_DIR") or PROJECT_ROOT / "handoff" / "data").expanduser(),
        danger_tuned=_danger_tuned(env),
        retention_days=_int(env, "LAWLINE_RETENTION_DAYS", 365, 30, 3650),
        metrics_token=_optional(env, "LAWLINE_METRICS_TOKEN"),
        passive_reply_seconds=_float(env, "LAWLINE_PASSIVE_REPLY_SECONDS", 4.0, 0.01, 4.5),
    )
