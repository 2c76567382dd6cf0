"""The ports the channels call, and who is speaking.

The bot implements ``Conversation`` and ``Outbox``; the channels only hand it a ``ChannelUser`` and the
resident's text and get back reply texts that are already composed (citations included). The channels
split, render and deliver them according to each channel's limits; what is pushed later goes through the
outbox, never straight to WeChat. ``ResidentRecords`` is what a resident's own client (the mini-program)
shows beside the replies, read from the bot's records; its payloads are the JSON the client reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, TypedDict

__all__ = ["CaseView", "ChannelName", "ChannelUser", "Conversation", "HistoryView", "Option", "Outbox", "Receipt",
           "ResidentRecords", "ServicePointView", "ServicePointsView", "ShownMessage", "TurnView"]

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


class Option(TypedDict):
    """A choice Lawline's last reply offers: typing ``number`` (or the title) means choosing it."""

    number: int
    title: str


class TurnView(TypedDict):
    """Beside a turn's ``replies``: ``kinds[i]`` says what ``replies[i]`` is (``answer``, ``bot``, ``staff``)."""

    kinds: list[str]
    options: list[Option]


class ShownMessage(TypedDict):
    """One message of the conversation as the resident sees it (``kind``: ``me``, ``answer``, ``bot``, ``staff``)."""

    kind: str
    text: str


class HistoryView(TypedDict):
    """The conversation so far (the last messages, oldest first) and the options still offered."""

    messages: list[ShownMessage]
    options: list[Option]


class CaseView(TypedDict):
    """One of the resident's cases (工单) in their words; ``state`` is the code, ``status`` the words for it."""

    id: int
    state: str
    status: str
    topic: str | None
    target: str
    opened: str
    updated: str
    callback: str | None
    outcome: str | None


class ServicePointView(TypedDict):
    """A service point of the directory; ``None`` is not configured, never guessed (coordinates included)."""

    id: str
    kind: str
    kind_label: str
    name: str
    address: str | None
    phone: str | None
    hours: str | None
    latitude: float | None
    longitude: float | None


class ServicePointsView(TypedDict):
    """The service points, nearest the resident's village first; ``configured`` False: the county has none yet."""

    configured: bool
    points: list[ServicePointView]


class ResidentRecords(Protocol):
    """What a resident's own client shows beside the replies; implemented by the bot over its records."""

    async def describe_turn(self, user: ChannelUser, replies: list[str]) -> TurnView:
        """What the ``replies`` just given to ``user`` are, and the options they offer."""
        ...

    async def history(self, user: ChannelUser) -> HistoryView:
        """The conversation of ``user`` so far (empty for a resident who has not written yet)."""
        ...

    async def cases(self, user: ChannelUser) -> list[CaseView]:
        """The cases of ``user``, newest first."""
        ...

    async def service_points(self, user: ChannelUser) -> ServicePointsView:
        """The county's service points, the ones at or above the resident's remembered village first."""
        ...
