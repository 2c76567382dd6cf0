"""The one outbox for what is sent to a resident: a person's replies and the bot's own answers, never lost.

WeChat lets an account message a resident only within 48 hours of the resident's last message, and only
a few times before the resident writes again ("客服消息": 45015 window closed, 45047 quota used). Every
message is a row in ``handoff_deliveries``; the worker sends them while the window is open, in order, and
counts what was sent since the resident last wrote, once per row. The last message the quota allows is a
notice asking the resident to reply; everything after it, and everything once the window has closed, is
``held`` and handed over with the resident's next message (``take_for_inbound``). The web chat cannot be
pushed to: its replies wait for the next message the same way, unless its page is open and listening
(``take_live``: the page's event stream takes them as they come, ``bot.web_chat``). Either way a row is taken
once: both take it under a row lock (PostgreSQL) and only while it still waits.

The bot's answers (``hold_answer``, written in the same transaction as the answer) start ``awaiting``:
the official account takes the first part as its passive reply (``take_passive``) and releases the rest
(``release_answer``); if its process dies first, the worker pushes them all once the hold ends.

Outcomes: WeChat's refusals hold the rest; busy or network trouble before sending is retried with
backoff; a send that went out with no answer back (``DeliveryUnknown``: a read timeout) is retried once
per such timeout — a resident gets every message and, in the worst case, one copy more per timeout —
and counted against the quota only the first time. What a send's outcome writes is retried through a
database outage (``record_patiently``, within the lease): a message WeChat took is never sent again because
PostgreSQL was restarting when the worker noted it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from handoff._db import record_patiently, rowcount
from handoff._worker import Worker
from handoff.errors import DeliveryRefused, DeliveryUnknown
from handoff.models import Delivery, ResidentProfile
from handoff.ports import Clock, ResidentMessenger, aware, utc_now
from handoff.residents import profile

__all__ = ["CS_QUOTA", "CS_WINDOW", "DeliveryWorker", "LiveDelivery", "enqueue_delivery", "has_answer", "hold_answer",
           "release_answer", "take_for_inbound", "take_live", "take_passive"]

log = logging.getLogger(__name__)

T = TypeVar("T")
CS_WINDOW = dt.timedelta(hours=48)
CS_QUOTA = 5


def enqueue_delivery(session: Session, key: str, ticket_id: int | None, kind: str, text: str,
                     now: dt.datetime) -> Delivery:
    """Queue ``text`` for the resident (the caller's transaction)."""
    row = Delivery(ticket_id=ticket_id, conversation_key=key, kind=kind, text=text, state="pending", attempts=0,
                   created_at=now, next_attempt_at=now)
    session.add(row)
    return row


def take_for_inbound(session: Session, key: str, channel: str | None, openid: str | None,
                     now: dt.datetime) -> list[str]:
    """The resident wrote: reopen their window and hand over what waits for them (marked delivered)."""
    row = profile(session, key, now)
    row.last_inbound_at = now
    row.sent_since_inbound = 0
    if channel:
        row.channel = channel
        row.openid = openid
    row.updated_at = now
    waiting = session.scalars(
        select(Delivery).where(Delivery.conversation_key == key, Delivery.state.in_(("held", "pending")),
                               (Delivery.lease_until.is_(None)) | (Delivery.lease_until < now))
        .order_by(Delivery.id).with_for_update()  # an open web chat may be taking them now (take_live)
    ).all()
    texts = []
    for delivery in waiting:
        delivery.state = "sent"
        delivery.via = "passive"
        delivery.sent_at = now
        if delivery.kind != "notice":
            texts.append(delivery.text)
    return texts


@dataclass(frozen=True, slots=True)
class LiveDelivery:
    """A message an open web chat shows: ``new`` when taken just now (the caller records it as said)."""

    id: int
    kind: str
    text: str
    new: bool


def take_live(session: Session, key: str, now: dt.datetime, *, after: int = 0) -> list[LiveDelivery]:
    """An open web chat listens: what waits for the resident, taken (sent ``live``), in order (caller's transaction).

    Also what was taken live already with an id above ``after``: a page that lost its stream (or a second
    tab) asks again with the last id it showed, and gets what it missed; the page drops ids it has shown.
    """
    rows = session.scalars(
        select(Delivery).where(
            Delivery.conversation_key == key, Delivery.kind != "notice",
            (Delivery.state.in_(("held", "pending")) & (Delivery.lease_until.is_(None) | (Delivery.lease_until < now)))
            | ((Delivery.state == "sent") & (Delivery.via == "live") & (Delivery.id > after)))
        .order_by(Delivery.id).with_for_update()
    ).all()
    shown = []
    for row in rows:
        if row.state == "sent":
            shown.append(LiveDelivery(row.id, row.kind, row.text, False))
            continue
        taken = rowcount(session.execute(
            update(Delivery).where(Delivery.id == row.id, Delivery.state.in_(("held", "pending")))
            .values(state="sent", via="live", sent_at=now).execution_options(synchronize_session=False)))
        if taken:
            shown.append(LiveDelivery(row.id, row.kind, row.text, True))
    return shown


def hold_answer(session: Session, key: str, message_key: str, parts: list[str], now: dt.datetime,
                hold_until: dt.datetime, *, channel: str, openid: str | None) -> None:
    """Store the parts of an answer to ``message_key`` (the caller's transaction), awaiting the passive reply.

    The resident's message opened WeChat's window just now; the profile says so if nobody has yet.
    """
    row = profile(session, key, now)
    row.channel, row.openid = channel, openid
    last = aware(row.last_inbound_at)
    if last is None or now - last > dt.timedelta(minutes=1):
        row.last_inbound_at = now
        row.sent_since_inbound = 0
    for part in parts:
        session.add(Delivery(conversation_key=key, kind="answer", message_key=message_key, text=part,
                             state="awaiting", attempts=0, created_at=now, next_attempt_at=hold_until))


def has_answer(session: Session, message_key: str) -> bool:
    """Whether parts of an answer to ``message_key`` are stored."""
    return session.scalar(select(Delivery.id).where(Delivery.message_key == message_key).limit(1)) is not None


def take_passive(session: Session, message_key: str, now: dt.datetime) -> str | None:
    """The first part of the answer, for the passive reply (the caller's transaction).

    Taken once: marked sent ``passive``; asked again (WeChat retried the same message), the same part, since
    only one passive reply per message can reach the resident. None when the worker has it or sent it.
    """
    first = session.scalar(select(Delivery).where(Delivery.message_key == message_key)
                           .order_by(Delivery.id).limit(1))
    if first is None:
        return None
    if first.state == "sent" and first.via == "passive":
        return first.text
    taken = rowcount(session.execute(
        update(Delivery).where(Delivery.id == first.id, Delivery.state == "awaiting", Delivery.lease_until.is_(None))
        .values(state="sent", via="passive", sent_at=now).execution_options(synchronize_session=False)))
    return first.text if taken else None


def release_answer(session: Session, message_key: str, at: dt.datetime) -> int:
    """The channel is done with the answer: what it did not take is pushed from ``at`` on."""
    return rowcount(session.execute(
        update(Delivery).where(Delivery.message_key == message_key, Delivery.state == "awaiting",
                               Delivery.lease_until.is_(None))
        .values(state="pending", next_attempt_at=at).execution_options(synchronize_session=False)))


def _backoff(attempts: int) -> float:
    return min(2.0 ** (attempts + 1), 300.0)


@dataclass(frozen=True, slots=True)
class _Job:
    id: int
    key: str
    kind: str
    text: str
    attempts: int
    counted: bool


class DeliveryWorker(Worker):
    """Sends pending deliveries; ``wake()`` after enqueuing."""

    name = "handoff-delivery"

    def __init__(self, sessions: sessionmaker[Session], messenger: ResidentMessenger | None, window_notice: str, *,
                 clock: Clock = utc_now, quota: int = CS_QUOTA, window: dt.timedelta = CS_WINDOW,
                 lease_seconds: float = 30.0, idle_seconds: float = 5.0) -> None:
        self.sessions = sessions
        self.messenger = messenger
        self.window_notice = window_notice
        self.clock = clock
        self.quota = quota
        self.window = window
        self.lease = dt.timedelta(seconds=lease_seconds)
        super().__init__(idle_seconds)

    def _make_due(self) -> None:
        with self.sessions.begin() as session:
            session.execute(update(Delivery).where(Delivery.state == "pending").values(next_attempt_at=self.clock()))

    async def _round(self) -> float:
        if await self.run_once():
            return 0.0
        return await asyncio.to_thread(self._until_next)

    def _until_next(self) -> float:
        """Seconds until the next row is due (an answer's pushes follow its passive reply by half a second)."""
        now = self.clock()
        with self.sessions() as session:
            due = session.scalar(select(func.min(Delivery.next_attempt_at))
                                 .where(Delivery.state.in_(("pending", "awaiting"))))
        due = aware(due)
        return self.idle_seconds if due is None else max(0.0, min((due - now).total_seconds(), self.idle_seconds))

    async def run_once(self) -> int:
        """Send what can be sent now; returns how many were handled."""
        jobs = await asyncio.to_thread(self._claim)
        by_key: dict[str, list[_Job]] = defaultdict(list)
        for job in jobs:
            by_key[job.key].append(job)
        outcomes = await asyncio.gather(*(self._send_resident(key, items) for key, items in by_key.items()),
                                        return_exceptions=True)
        for outcome in outcomes:  # the others' sends went on; these rows wait for their lease to lapse
            if isinstance(outcome, Exception):
                log.error("deliveries of one resident failed: %s", type(outcome).__name__)
        return len(jobs)

    async def _send_resident(self, key: str, jobs: list[_Job]) -> None:
        for index, job in enumerate(jobs):
            decision, channel, openid = await self._record(self._window, key)
            if decision == "hold" or channel is None or openid is None or self.messenger is None:
                await asyncio.to_thread(self._hold, [j.id for j in jobs[index:]], "window_closed")
                return
            if decision == "last" and len(jobs) - index >= 1 and job.kind != "notice":
                # One message left before the quota: ask the resident to write; the replies wait for them.
                try:
                    await self.messenger.send_text(channel, openid, self.window_notice)
                    await self._record(self._count, key)
                except Exception as exc:
                    log.warning("window notice not sent: %s", type(exc).__name__)
                await self._record(self._hold, [j.id for j in jobs[index:]], "quota")
                return
            try:
                await self.messenger.send_text(channel, openid, job.text)
            except DeliveryRefused as exc:
                await self._record(self._refused, key, [j.id for j in jobs[index:]], exc.reason)
                return
            except DeliveryUnknown:
                log.warning("delivery %d: sent, no answer back; sent once more later", job.id)
                await self._record(self._unknown, job, key)
                await self._record(self._retry, jobs[index + 1:], job)
                return
            except Exception as exc:  # busy or network: retry later, keep the order
                log.warning("delivery %d failed (%s); will retry", job.id, type(exc).__name__)
                await self._record(self._retry, [j for j in jobs[index:]])
                return
            await self._record(self._sent, job, key)

    async def _record(self, call: Callable[..., T], *args: Any) -> T:
        """A read or an outcome's write, through a database outage of at most two thirds of the lease."""
        return await record_patiently(partial(call, *args), self.lease.total_seconds() * 2 / 3)

    # -- database (worker threads) ---------------------------------------------------------------------
    def _claim(self) -> list[_Job]:
        now = self.clock()
        jobs = []
        with self.sessions.begin() as session:
            # An answer still ``awaiting`` past its hold: its channel's process died before releasing it.
            # Residents who cannot be pushed to (the web chat) are left alone: a lease taken only to find that
            # out would hide their replies from their own next message (``take_for_inbound``).
            rows = session.scalars(
                select(Delivery)
                .join(ResidentProfile, ResidentProfile.conversation_key == Delivery.conversation_key)
                .where(Delivery.state.in_(("pending", "awaiting")), Delivery.next_attempt_at <= now,
                       (Delivery.lease_until.is_(None)) | (Delivery.lease_until < now),
                       ResidentProfile.channel.is_not(None), ResidentProfile.channel != "web")
                .order_by(Delivery.id).limit(200)
            ).all()
            for row in rows:
                taken = rowcount(session.execute(
                    update(Delivery).where(Delivery.id == row.id, Delivery.state.in_(("pending", "awaiting")),
                                           (Delivery.lease_until.is_(None)) | (Delivery.lease_until < now))
                    .values(state="pending", lease_until=now + self.lease)
                    .execution_options(synchronize_session=False)
                ))
                if taken:
                    jobs.append(_Job(row.id, row.conversation_key, row.kind, row.text, row.attempts,
                                     bool(row.counted)))
        return jobs

    def _window(self, key: str) -> tuple[str, str | None, str | None]:
        """``send``, ``last`` (one message left) or ``hold``, and where to send."""
        now = self.clock()
        with self.sessions() as session:
            row = session.get(ResidentProfile, key)
            if row is None or row.channel in (None, "web"):
                return "hold", None, None
            last = aware(row.last_inbound_at)
            if last is None or now - last >= self.window or row.sent_since_inbound >= self.quota:
                return "hold", row.channel, row.openid
            return ("last" if row.sent_since_inbound >= self.quota - 1 else "send"), row.channel, row.openid

    def _count(self, key: str) -> None:
        with self.sessions.begin() as session:
            row = profile(session, key, self.clock())
            row.sent_since_inbound += 1

    def _sent(self, job: _Job, key: str) -> None:
        now = self.clock()
        with self.sessions.begin() as session:
            session.execute(update(Delivery).where(Delivery.id == job.id).values(
                state="sent", via="customer_service", sent_at=now, lease_until=None, attempts=job.attempts + 1,
                counted=True))
            if not job.counted:
                profile(session, key, now).sent_since_inbound += 1

    def _unknown(self, job: _Job, key: str) -> None:
        """Sent, no answer: count it now (WeChat may have counted it) and send it once more after a pause."""
        now = self.clock()
        with self.sessions.begin() as session:
            session.execute(update(Delivery).where(Delivery.id == job.id).values(
                lease_until=None, attempts=job.attempts + 1, counted=True, last_error="unknown",
                next_attempt_at=now + dt.timedelta(seconds=_backoff(job.attempts))))
            if not job.counted:
                profile(session, key, now).sent_since_inbound += 1

    def _hold(self, ids: list[int], reason: str) -> None:
        with self.sessions.begin() as session:
            session.execute(update(Delivery).where(Delivery.id.in_(ids), Delivery.state == "pending").values(
                state="held", lease_until=None, last_error=reason))

    def _refused(self, key: str, ids: list[int], reason: str) -> None:
        """WeChat said no: believe it over our own count."""
        self._hold(ids, reason)
        with self.sessions.begin() as session:
            row = profile(session, key, self.clock())
            row.sent_since_inbound = self.quota

    def _retry(self, jobs: list[_Job], after: _Job | None = None) -> None:
        """Try ``jobs`` again after the backoff of the first (or of ``after``): all at once, so order holds."""
        if not jobs:
            return
        now = self.clock()
        delay = _backoff((after or jobs[0]).attempts)
        with self.sessions.begin() as session:
            for job in jobs:
                session.execute(update(Delivery).where(Delivery.id == job.id).values(
                    lease_until=None, attempts=job.attempts + 1, next_attempt_at=now + dt.timedelta(seconds=delay)))
