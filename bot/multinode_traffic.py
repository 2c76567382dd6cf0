"""Residents writing to several app nodes through WeChat and a load balancer, and what reached them.

For ``lawline bench multinode`` (``bot.multinodebench``). A message goes the way WeChat and the county's
reverse proxy (``deploy/nginx/lawline.conf``) send it: WeChat waits 5 s for an answer and, without one,
sends the same MsgId again, three times at most ("接收普通消息"); the proxy sends each delivery to the next
node in turn, starting with the resident's own, and passes it to the next one at once when a node refuses
the connection or drops it mid-request (nginx's ``proxy_next_upstream error non_idempotent``: safe, the inbox
deduplicates by MsgId). So a retry of one MsgId, or even one delivery, may reach another node.

What reached the residents is judged against what the nodes stored, as ``lawline bench faults`` does: the
parts of each message's answer in ``handoff_deliveries`` (the outbox both nodes share); a message is
answered when one of its parts arrived (as the passive reply or as a customer-service push to the stand-in),
lost when none did; a text that arrived more often than the outbox holds it is duplicated.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from channels.simulator import CallbackSimulator, WeChatApiStandIn
from channels.storage import channel_inbox
from handoff.models import Delivery

__all__ = ["Message", "Traffic"]

_TRIES = 4  # WeChat: the first delivery and three retries


@dataclass
class Message:
    """One resident message and how it went: the nodes its deliveries reached, the passive reply."""

    openid: str
    home: int  # the node (index) the balancer tries first for this resident
    msg_id: int
    text: str
    sent_at: float = 0.0
    passive: str | None = None
    passive_at: float | None = None
    route: list[str] = field(default_factory=list)  # "node1", "node2" … per delivery that reached a node


class Traffic:
    """WeChat's servers and the proxy in front of ``bases`` (one URL per node, ``node1`` first)."""

    def __init__(self, sim: CallbackSimulator, api: WeChatApiStandIn, appid: str, bases: Sequence[str],
                 *, degraded_note: str = "") -> None:
        self.sim, self.api, self.appid, self.bases = sim, api, appid, list(bases)
        self.degraded_note = degraded_note
        self.http = httpx.AsyncClient(timeout=5.0, trust_env=False,
                                      limits=httpx.Limits(max_connections=200, max_keepalive_connections=64))
        self._last_id = int(time.time()) * 1000

    async def aclose(self) -> None:
        await self.http.aclose()

    def key(self, message: Message) -> str:
        """The message's key in ``channel_inbox`` and ``handoff_deliveries`` (``channels.official_account``)."""
        return f"wechat:oa:{self.appid}:msg:{message.msg_id}"

    async def deliver(self, message: Message) -> None:
        """Deliver until a node answers 200 (a passive reply or ``success``) or WeChat's tries are used up."""
        for attempt in range(_TRIES):
            outcome = "refused"
            for step in range(len(self.bases)):
                node = (message.home + attempt + step) % len(self.bases)
                query, body = self.sim.delivery(message.openid, message.text, message.msg_id)
                try:
                    response = await self.http.post(f"{self.bases[node]}/wechat", params=query, content=body)
                except httpx.ConnectError:
                    continue  # refused: the proxy passes it to the next node at once
                except httpx.TimeoutException:
                    message.route.append(f"node{node + 1}")
                    outcome = "timeout"  # no answer in 5 s: WeChat sends it again now
                    break
                except httpx.TransportError:
                    message.route.append(f"node{node + 1}")
                    continue  # the node died mid-request: the proxy passes it on (non_idempotent)
                message.route.append(f"node{node + 1}")
                if response.status_code == 200:
                    reply = self.sim.reply_text(response.text)
                    if reply:
                        message.passive, message.passive_at = reply, time.monotonic()
                    return
                outcome = f"http {response.status_code}"
                break
            if outcome != "timeout" and attempt < _TRIES - 1:
                await asyncio.sleep(1.0)

    async def converse(self, openid: str, home: int, texts: Sequence[str], *, read_seconds: float = 30.0,
                       into: list[Message] | None = None) -> list[Message]:
        """One resident writes ``texts``, each once the answer to the one before arrived (or ``read_seconds``)."""
        sent = [] if into is None else into
        for text in texts:
            pushed = len(self.api.pushed_to(openid))
            self._last_id += 1
            message = Message(openid, home, self._last_id, text, time.monotonic())
            sent.append(message)
            await self.deliver(message)
            deadline = time.monotonic() + read_seconds
            while (message.passive is None and len(self.api.pushed_to(openid)) == pushed
                   and time.monotonic() < deadline):
                await asyncio.sleep(0.1)
        return sent

    async def settle(self, engine: Engine, messages: Sequence[Message], timeout: float = 120.0) -> None:
        """Until every message is finished in the inbox, the outbox holds none of their parts and pushes stop."""
        keys = [self.key(m) for m in messages]
        openids = {m.openid for m in messages}
        deadline, quiet, last = time.monotonic() + timeout, 0, -1
        while time.monotonic() < deadline and quiet < 4:
            count = sum(len(self.api.pushed_to(openid)) for openid in openids)
            waiting = await asyncio.to_thread(_unfinished, engine, keys)
            quiet, last = (quiet + 1 if count == last and not waiting else 0), count
            await asyncio.sleep(0.5)

    def tally(self, engine: Engine, messages: Sequence[Message]) -> dict[str, Any]:
        """Sent, answered, lost, duplicated, the slowest first text, throughput, and which node answered."""
        keys = {self.key(m): m for m in messages}
        openids = sorted({m.openid for m in messages})
        parts, allowed, owners = _stored(engine, list(keys), openids)
        received: dict[str, list[tuple[str, float]]] = {openid: list(self.api.pushed_with_times(openid))
                                                        for openid in openids}
        for m in messages:
            if m.passive is not None and m.passive_at is not None:
                received[m.openid].append((m.passive, m.passive_at))
        answered = fallback = 0
        arrivals: list[tuple[float, float]] = []  # (sent, first text)
        for key, m in keys.items():
            stored = set(parts.get(key, ()))
            times = [at for text, at in received[m.openid] if text in stored and at >= m.sent_at - 0.01]
            if times:
                answered += 1
                arrivals.append((m.sent_at, min(times)))
            fallback += any(text.startswith(self.degraded_note) for text in stored) if self.degraded_note else 0
        duplicated = 0
        for openid in openids:
            seen = Counter(text for text, _ in received[openid])
            duplicated += sum(max(0, n - max(1, allowed[(openid, text)])) for text, n in seen.items())
        wall = (max(a for _, a in arrivals) - min(s for s, _ in arrivals)) if arrivals else 0.0
        by_node = Counter(_node_of(owner) for owner in owners.values())
        return {"sent": len(messages), "answered": answered, "lost": len(messages) - answered,
                "duplicated": duplicated, "fallback": fallback,
                "slowest_s": round(max((a - s for s, a in arrivals), default=0.0), 1),
                "wall_s": round(wall, 1), "msg_per_s": round(answered / wall, 2) if wall else 0.0,
                "answered_by": dict(sorted(by_node.items())),
                "delivered_to_both": sum(1 for m in messages if len(set(m.route)) > 1),
                "deliveries": sum(len(m.route) for m in messages)}


def _node_of(owner: str) -> str:
    """``lawline-node2/4711/ab12cd34`` → ``node2`` (the inbox owner's host name is its namespace's)."""
    return owner.partition("/")[0].rsplit("-", 1)[-1]


def _unfinished(engine: Engine, keys: list[str]) -> int:
    with engine.connect() as connection:
        waiting = connection.scalar(select(func.count()).select_from(Delivery.__table__).where(
            Delivery.message_key.in_(keys), Delivery.state.in_(("pending", "awaiting")))) or 0
        working = connection.scalar(select(func.count()).select_from(channel_inbox).where(
            channel_inbox.c.key.in_(keys), channel_inbox.c.state.in_(("working", "pushing")))) or 0
    return int(waiting) + int(working)


def _stored(engine: Engine, keys: list[str], openids: list[str]
            ) -> tuple[dict[str, list[str]], Counter[tuple[str, str]], dict[str, str]]:
    """Each message's stored answer parts, the rows per (resident, text), and each message's inbox owner."""
    with Session(engine) as session:
        rows = session.execute(select(Delivery.message_key, Delivery.text)
                               .where(Delivery.message_key.in_(keys)).order_by(Delivery.id)).all()
        every = session.execute(select(Delivery.conversation_key, Delivery.text).where(
            Delivery.conversation_key.in_([f"official_account:{openid}" for openid in openids]))).all()
        owners = session.execute(select(channel_inbox.c.key, channel_inbox.c.owner)
                                 .where(channel_inbox.c.key.in_(keys))).all()
    parts: dict[str, list[str]] = {}
    for key, text in rows:
        parts.setdefault(str(key), []).append(text)
    allowed: Counter[tuple[str, str]] = Counter((key.removeprefix("official_account:"), text) for key, text in every)
    return parts, allowed, {str(key): str(owner) for key, owner in owners}
