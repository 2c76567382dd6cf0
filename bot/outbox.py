"""``channels.ports.Outbox`` over the handoff's deliveries: the bot's answers go out the way a person's do.

The official account used to push the parts of a late or long answer itself, once, with no record: a 45015,
a −1 or an HTTP 500 lost them while the database said the answer was sent. Now every part is a row of
``handoff_deliveries`` (``handoff.delivery``), stored in the same transaction as the answer
(``ConversationService`` with a ``Receipt``), and the delivery worker sends, retries and counts it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from bot.conversation import hold_replies
from channels.ports import ChannelUser, Receipt
from handoff.delivery import has_answer, release_answer, take_passive
from handoff.ports import Clock, utc_now

__all__ = ["AnswerOutbox"]


class AnswerOutbox:
    """Implements ``channels.ports.Outbox``; ``wake`` is the delivery worker's (``HandoffService.deliveries``)."""

    def __init__(self, sessions: sessionmaker[Session], wake: Callable[[], None], *, clock: Clock = utc_now) -> None:
        self.sessions = sessions
        self.wake = wake
        self.clock = clock

    async def hold(self, user: ChannelUser, receipt: Receipt, replies: list[str]) -> None:
        def run() -> None:
            with self.sessions.begin() as session:
                hold_replies(session, user, receipt, replies, self.clock())

        await asyncio.to_thread(run)

    async def held(self, receipt: Receipt) -> bool:
        def run() -> bool:
            with self.sessions() as session:
                return has_answer(session, receipt.message_key)

        return await asyncio.to_thread(run)

    async def take_first(self, receipt: Receipt) -> str | None:
        def run() -> str | None:
            with self.sessions.begin() as session:
                return take_passive(session, receipt.message_key, self.clock())

        return await asyncio.to_thread(run)

    async def release(self, receipt: Receipt, delay: float = 0.0) -> None:
        def run() -> int:
            with self.sessions.begin() as session:
                return release_answer(session, receipt.message_key, self.clock() + dt.timedelta(seconds=delay))

        if await asyncio.to_thread(run):
            self.wake()
