"""What the handoff package needs from the rest of Lawline, as small Protocols (wired in ``bot.services``).

- ``TranscriptSource``: the conversation so far (the bot's records), for case cards and the console.
- ``AdviserNotifier``: sends an adviser who follows the official account a template message about a case;
  raises ``handoff.errors.TemplateRefused``.
- ``ResidentMessenger``: sends a text to a resident through WeChat's customer-service API; raises
  ``handoff.errors.DeliveryRefused`` when WeChat will not take it now (48-hour window closed, quota used,
  or a channel that cannot push, like the web chat).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["AdviserNotifier", "Clock", "ResidentMessenger", "TranscriptLine", "TranscriptSource", "aware", "utc_now"]

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    """The current time, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """A stored time as an aware UTC datetime (SQLite hands back naive ones)."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    """One message of the conversation: ``direction`` is ``in`` (resident) or ``out`` (Lawline)."""

    direction: str
    text: str
    at: dt.datetime | None
    citations: tuple[str, ...] = ()
    engine: str | None = None


class TranscriptSource(Protocol):
    """The conversation records."""

    def recent(self, conversation_key: str, limit: int) -> list[TranscriptLine]:
        """The last ``limit`` messages, oldest first."""
        ...


class ResidentMessenger(Protocol):
    """Customer-service messages to residents."""

    async def send_text(self, channel: str, openid: str, text: str) -> None:
        """Send ``text`` now, or raise ``DeliveryRefused``."""
        ...


class AdviserNotifier(Protocol):
    """Template messages (模板消息) from the official account to advisers."""

    async def send_template(self, openid: str, template_id: str, data: dict[str, str], url: str | None) -> None:
        """Send now, or raise ``TemplateRefused``."""
        ...
