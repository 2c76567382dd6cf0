"""WeChat Work (企业微信) group robots: a persistent outbox and the worker that empties it.

Messages are rows in ``handoff_outbox`` written in the same transaction as the ticket change that caused
them, so a card exists as soon as the ticket does and survives any crash. The worker sends what is due,
oldest first, per group; it honours the robot limit ("群机器人配置说明": 20 messages a minute per robot)
counting what was sent in the last 60 seconds plus what is in flight, so several workers or processes
together stay under it. A refusal is retried with backoff (45009, the frequency limit, after the window
frees); nothing is ever dropped. Rows are leased while being sent so two workers never send one twice;
a worker killed mid-send leaves a lease that expires and the row is sent again (at-least-once).

The same outbox carries the optional template messages (模板消息) from the official account to advisers who
follow it (``group_id`` ``wechat:<person id>``): sent through ``AdviserNotifier``, retried like the cards,
except for refusals retrying cannot cure (the adviser unfollowed, a wrong template id), which end ``failed``.

The webhook URL carries the robot's key: it is never logged.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from handoff._db import rowcount
from handoff._worker import Worker
from handoff.directory import Directory
from handoff.errors import HandoffError, TemplateRefused
from handoff.models import OutboxMessage
from handoff.ports import AdviserNotifier, Clock, aware, utc_now

__all__ = ["DEFAULT_WECOM_API_BASE", "TEMPLATE_TARGET", "RobotClient", "RobotError", "RobotSender",
           "enqueue_robot_message", "enqueue_template_message"]

log = logging.getLogger(__name__)

DEFAULT_WECOM_API_BASE = "https://qyapi.weixin.qq.com"
PER_MINUTE = 20
RATE_LIMITED = 45009
TEMPLATE_TARGET = "wechat:"  # group_id prefix of a template message to one adviser


class RobotError(HandoffError):
    """The robot webhook refused a message (``errcode``) or could not be reached (-1)."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"robot error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


def enqueue_robot_message(session: Session, group_id: str, kind: str, markdown: str, ticket_id: int | None,
                          now: dt.datetime) -> OutboxMessage:
    """Add a markdown message for ``group_id``'s robot to the outbox (the caller's transaction)."""
    row = OutboxMessage(group_id=group_id, ticket_id=ticket_id, kind=kind,
                        payload={"msgtype": "markdown", "markdown": {"content": markdown}}, state="pending",
                        attempts=0, created_at=now, next_attempt_at=now)
    session.add(row)
    return row


def enqueue_template_message(session: Session, person_id: str, openid: str, template_id: str, data: dict[str, str],
                             url: str | None, ticket_id: int | None, now: dt.datetime) -> OutboxMessage:
    """Add a template message for an adviser to the outbox (the caller's transaction)."""
    row = OutboxMessage(group_id=f"{TEMPLATE_TARGET}{person_id}", ticket_id=ticket_id, kind="template",
                        payload={"msgtype": "wechat_template", "touser": openid, "template_id": template_id,
                                 "url": url, "data": data},
                        state="pending", attempts=0, created_at=now, next_attempt_at=now)
    session.add(row)
    return row


class RobotClient:
    """``POST /cgi-bin/webhook/send?key=…``; ``api_base`` points at WeChat Work or a local stand-in."""

    def __init__(self, http: httpx.AsyncClient, api_base: str = DEFAULT_WECOM_API_BASE, timeout: float = 5.0) -> None:
        self._http = http
        self._base = api_base.rstrip("/")
        self._timeout = timeout

    async def send(self, robot_key: str, payload: dict[str, Any]) -> None:
        try:
            response = await self._http.post(f"{self._base}/cgi-bin/webhook/send", params={"key": robot_key},
                                             json=payload, timeout=self._timeout)
        except httpx.HTTPError as exc:
            raise RobotError(-1, f"network error: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise RobotError(-1, f"HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise RobotError(-2, "answer is not JSON") from None
        errcode = data.get("errcode", -2) if isinstance(data, dict) else -2
        if errcode != 0:
            raise RobotError(int(errcode) if isinstance(errcode, int) else -2, str(data.get("errmsg", ""))[:100])


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    group_id: str
    payload: dict[str, Any]
    attempts: int


class RobotSender(Worker):
    """Empties the outbox into the group robots; ``wake()`` after enqueuing for an immediate send."""

    name = "handoff-robot-sender"

    def __init__(self, sessions: sessionmaker[Session], directory: Directory, client: RobotClient, *,
                 clock: Clock = utc_now, per_minute: int = PER_MINUTE, lease_seconds: float = 30.0,
                 idle_seconds: float = 5.0, notifier: AdviserNotifier | None = None) -> None:
        self.sessions = sessions
        self.directory = directory
        self.client = client
        self.notifier = notifier
        self.clock = clock
        self.per_minute = per_minute
        self.lease = dt.timedelta(seconds=lease_seconds)
        super().__init__(idle_seconds)

    # -- running ---------------------------------------------------------------------------------------
    def _make_due(self) -> None:
        with self.sessions.begin() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.state == "pending")
                            .values(next_attempt_at=self.clock()))

    async def _round(self) -> float:
        return await self.run_once()

    async def run_once(self) -> float:
        """Send what is due now; the seconds until something else may be due."""
        claimed, wait = await asyncio.to_thread(self._claim)
        by_group: dict[str, list[_Claimed]] = defaultdict(list)
        for row in claimed:
            by_group[row.group_id].append(row)
        await asyncio.gather(*(self._send_group(rows) for rows in by_group.values()))
        return 0.0 if claimed else wait

    async def _send_group(self, rows: list[_Claimed]) -> None:
        for row in rows:
            if row.payload.get("msgtype") == "wechat_template":
                await self._send_template(row)
                continue
            group = self.directory.group(row.group_id)
            if group is None or not group.robot_key:
                await asyncio.to_thread(self._failed, row, "webhook not configured", 300.0)
                continue
            try:
                await self.client.send(group.robot_key, row.payload)
            except RobotError as exc:
                delay = 60.0 if exc.errcode == RATE_LIMITED else min(2.0 ** row.attempts, 300.0)
                log.warning("robot message %d for %s refused (%d); retry in %.0f s", row.id, row.group_id,
                            exc.errcode, delay)
                await asyncio.to_thread(self._failed, row, f"{exc.errcode}: {exc.errmsg}", delay)
                continue
            await asyncio.to_thread(self._sent, row)

    async def _send_template(self, row: _Claimed) -> None:
        if self.notifier is None:
            await asyncio.to_thread(self._failed, row, "official account not configured", 300.0)
            return
        p = row.payload
        try:
            await self.notifier.send_template(str(p["touser"]), str(p["template_id"]), dict(p["data"]), p.get("url"))
        except TemplateRefused as exc:
            if exc.permanent:
                log.warning("template message %d for %s refused for good (%d)", row.id, row.group_id, exc.errcode)
                await asyncio.to_thread(self._given_up, row, f"{exc.errcode}: {exc.errmsg}")
            else:
                delay = min(2.0 ** row.attempts, 300.0)
                log.warning("template message %d for %s refused (%d); retry in %.0f s", row.id, row.group_id,
                            exc.errcode, delay)
                await asyncio.to_thread(self._failed, row, f"{exc.errcode}: {exc.errmsg}", delay)
            return
        await asyncio.to_thread(self._sent, row)

    # -- database (worker threads) ---------------------------------------------------------------------
    def _claim(self) -> tuple[list[_Claimed], float]:
        now = self.clock()
        window = now - dt.timedelta(seconds=60)
        claimed: list[_Claimed] = []
        wait = 3600.0  # nothing due: the run loop caps the sleep at idle_seconds anyway
        with self.sessions.begin() as session:
            due = session.scalars(
                select(OutboxMessage).where(OutboxMessage.state == "pending", OutboxMessage.next_attempt_at <= now,
                                            (OutboxMessage.lease_until.is_(None)) | (OutboxMessage.lease_until < now))
                .order_by(OutboxMessage.id).limit(500)
            ).all()
            by_group: dict[str, list[OutboxMessage]] = defaultdict(list)
            for row in due:
                by_group[row.group_id].append(row)
            for group_id, rows in by_group.items():
                used = session.scalar(select(func.count()).select_from(OutboxMessage).where(
                    OutboxMessage.group_id == group_id,
                    ((OutboxMessage.sent_at > window)
                     | ((OutboxMessage.state == "pending") & (OutboxMessage.lease_until > now))))) or 0
                room = max(0, self.per_minute - used)
                if room < len(rows):
                    oldest = session.scalar(select(func.min(OutboxMessage.sent_at)).where(
                        OutboxMessage.group_id == group_id, OutboxMessage.sent_at > window))
                    oldest = aware(oldest)
                    if oldest is not None:
                        wait = min(wait, max(0.05, (oldest + dt.timedelta(seconds=60) - now).total_seconds()))
                for row in rows[:room]:
                    taken = rowcount(session.execute(
                        update(OutboxMessage).where(
                            OutboxMessage.id == row.id, OutboxMessage.state == "pending",
                            (OutboxMessage.lease_until.is_(None)) | (OutboxMessage.lease_until < now))
                        .values(lease_until=now + self.lease).execution_options(synchronize_session=False)
                    ))
                    if taken:
                        claimed.append(_Claimed(row.id, row.group_id, dict(row.payload), row.attempts))
            upcoming = session.scalar(select(func.min(OutboxMessage.next_attempt_at)).where(
                OutboxMessage.state == "pending", OutboxMessage.next_attempt_at > now))
            upcoming = aware(upcoming)
            if upcoming is not None:
                wait = min(wait, max(0.05, (upcoming - now).total_seconds()))
        return claimed, wait

    def _sent(self, row: _Claimed) -> None:
        now = self.clock()
        with self.sessions.begin() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(
                state="sent", sent_at=now, lease_until=None, attempts=row.attempts + 1, last_error=None))

    def _failed(self, row: _Claimed, error: str, delay: float) -> None:
        now = self.clock()
        with self.sessions.begin() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(
                lease_until=None, attempts=row.attempts + 1, last_error=error[:200],
                next_attempt_at=now + dt.timedelta(seconds=delay)))

    def _given_up(self, row: _Claimed, error: str) -> None:
        with self.sessions.begin() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(
                state="failed", lease_until=None, attempts=row.attempts + 1, last_error=error[:200]))
