"""The port the channels call, and who is speaking.

The lead's conversation service implements ``Conversation``; the channels only hand it a ``ChannelUser``
and the resident's text and get back reply texts that are already composed (citations included). The
channels split, render and deliver them according to each channel's limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = ["ChannelName", "ChannelUser", "Conversation", "PushLedger"]

ChannelName = Literal["official_account", "mini_program", "web"]


@dataclass(frozen=True, slots=True)
class ChannelUser:
    """A resident as one channel knows them.

    ``openid`` is per app (the official account and the mini-program give the same person different
    openids); ``unionid`` is the same across the apps bound to one Open Platform account. The
    conversation service keys a resident's conversation on ``unionid`` when present, so that the same
    person keeps one conversation across the official account and the mini-program.
    """

    channel: ChannelName
    openid: str | None
    unionid: str | None = None

    def __repr__(self) -> str:
        # Ids are personal data: keep them out of reprs that end up in logs and tracebacks.
        def shown(value: str | None) -> str:
            return "<set>" if value else "None"

        return f"ChannelUser(channel={self.channel!r}, openid={shown(self.openid)}, unionid={shown(self.unionid)})"


class Conversation(Protocol):
    """Answers one message of a resident; implemented by the conversation service."""

    async def respond(self, user: ChannelUser, text: str) -> list[str]:
        """Return the reply texts for ``text`` (in order; may be empty), already composed for the resident."""
        ...


class PushLedger(Protocol):
    """Told how many customer-service messages a channel pushed to a resident after their message.

    WeChat counts every customer-service message against one quota per message the resident sends (5, for
    48 hours); whoever else pushes to the resident (a person's replies, the handoff) must know what the
    channel already used.
    """

    async def pushed(self, user: ChannelUser, count: int) -> None:
        """Record ``count`` (> 0) customer-service messages sent to ``user``."""
        ...
