"""The ports the channels call, and who is speaking.

The bot implements ``Conversation`` and ``Outbox``; the channels only hand it a ``ChannelUser`` and the
resident's text and get back reply texts that are already composed (citations included). The channels
split, render and deliver them according to each channel's limits; what is pushed later goes through the
outbox, never straight to WeChat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = ["ChannelName", "ChannelUser", "Conversation", "Outbox", "Receipt"]

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


@dataclass(frozen=True, slots=True)
class Receipt:
    """The inbound message an answer is for, on a channel that pushes (the official account).

    The answer's parts are stored in the outbox under ``message_key`` (in the same transaction as the answer),
    held for ``hold_seconds`` so that the channel can send the first one as the passive reply; whatever the
    channel does not take is pushed by the outbox's worker, retried until WeChat takes it.
    """

    message_key: str
    hold_seconds: float = 20.0


class Conversation(Protocol):
    """Answers one message of a resident; implemented by the conversation service."""

    async def respond(self, user: ChannelUser, text: str, receipt: Receipt | None = None) -> list[str]:
        """Return the reply texts for ``text`` (in order; may be empty), already composed for the resident.

        With a ``receipt`` the replies are also packed into WeChat-sized parts and held in the outbox.
        """
        ...


class Outbox(Protocol):
    """Everything sent to a resident after their message: stored, then pushed with retries (one quota count).

    A channel holds its own fixed replies here (a welcome, a menu text, the calm service-error text), takes
    the first part of an answer for the passive reply, and releases the rest to be pushed.
    """

    async def hold(self, user: ChannelUser, receipt: Receipt, replies: list[str]) -> None:
        """Store ``replies`` (packed into parts) for ``receipt``, held like an answer's."""
        ...

    async def held(self, receipt: Receipt) -> bool:
        """Whether an answer for ``receipt`` is stored already (it was prepared before a crash)."""
        ...

    async def take_first(self, receipt: Receipt) -> str | None:
        """The first part, for the passive reply.

        Marked sent; the same part again for a retry of the same message; None when there is none or the
        worker pushed it already.
        """
        ...

    async def release(self, receipt: Receipt, delay: float = 0.0) -> None:
        """Let the worker push what was not taken, ``delay`` seconds from now."""
        ...
