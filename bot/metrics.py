"""Prometheus metrics at ``GET /metrics`` (``prometheus-client``): what an operator watches on every node.

Two kinds, so that the figures hold however many processes and machines serve:

- **From the database, at scrape time** (``StoreCollector``): messages in and out by channel and engine,
  answers from the retrieval fallback, the outbox (deliveries waiting, held, awaiting a passive reply; group
  cards waiting), inbound messages not yet finished, tickets past their first-response deadline. Every node
  reports the same totals; scrape one, or take ``max`` across nodes.
- **In this process** (``ANSWER_SECONDS``): the time from a resident's message to its replies, by channel —
  a histogram per worker; with several uvicorn workers set ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's
  multiprocess mode) so that one scrape sees them all.

``/metrics`` answers loopback clients, or anyone presenting ``LAWLINE_METRICS_TOKEN`` as a bearer token; no
metric carries a resident's text or identifier.
"""

from __future__ import annotations

import datetime as dt
import hmac
import os
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.models import Message
from channels.client_address import TrustedProxies, client_address
from channels.storage import channel_inbox
from handoff.models import Delivery, OutboxMessage, Ticket

__all__ = ["ANSWER_SECONDS", "StoreCollector", "metrics_routes", "observe_answer"]

ANSWER_SECONDS = Histogram("lawline_answer_seconds", "Time from a resident's message to Lawline's replies",
                           ["channel"], buckets=(0.1, 0.25, 0.5, 1, 2, 3, 4, 5, 10, 30))


def observe_answer(channel: str, seconds: float) -> None:
    """Record one answer's time (``ConversationService`` calls it for every message)."""
    ANSWER_SECONDS.labels(channel=channel).observe(seconds)


class StoreCollector(Collector):
    """Figures read from the shared database when Prometheus scrapes."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[Metric]:
        now = dt.datetime.now(dt.UTC)
        with self.sessions() as session:
            messages = GaugeMetricFamily("lawline_messages", "Messages recorded, by direction, channel and engine",
                                         labels=["direction", "channel", "engine"])
            for direction, channel, engine, count in session.execute(
                    select(Message.direction, Message.channel, Message.engine, func.count())
                    .group_by(Message.direction, Message.channel, Message.engine)):
                messages.add_metric([direction, channel, engine or ""], count)
            yield messages
            outbox = GaugeMetricFamily("lawline_outbox", "Messages for residents and groups not yet sent, by state",
                                       labels=["queue", "state"])
            for state, count in session.execute(select(Delivery.state, func.count())
                                                .where(Delivery.state.in_(("pending", "awaiting", "held")))
                                                .group_by(Delivery.state)):
                outbox.add_metric(["resident", state], count)
            cards = session.scalar(select(func.count()).select_from(OutboxMessage)
                                   .where(OutboxMessage.state == "pending"))
            outbox.add_metric(["group", "pending"], cards or 0)
            yield outbox
            unfinished = session.scalar(select(func.count()).select_from(channel_inbox)
                                        .where(channel_inbox.c.state.in_(("working", "pushing"))))
            yield GaugeMetricFamily("lawline_inbox_unfinished", "Inbound WeChat messages still being answered",
                                    value=unfinished or 0)
            late = session.scalar(select(func.count()).select_from(Ticket).where(
                Ticket.state.in_(("open", "callback")), Ticket.first_response_at.is_(None),
                Ticket.first_response_due.is_not(None), Ticket.first_response_due < now))
            yield GaugeMetricFamily("lawline_tickets_past_due", "Open cases past their first-response deadline",
                                    value=late or 0)


def _registry(sessions: sessionmaker[Session]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # every worker's histogram
    else:
        registry.register(ANSWER_SECONDS)
    registry.register(StoreCollector(sessions))
    return registry


def metrics_routes(sessions: sessionmaker[Session], token: str | None,
                   trusted: TrustedProxies = ()) -> list[BaseRoute]:
    """``GET /metrics`` for loopback clients or the bearer of ``token``.

    The client is the one ``trusted`` proxies name: behind a proxy on the same host every request comes from
    loopback, and the public must not count as local.
    """
    registry = _registry(sessions)

    async def metrics(request: Request) -> Response:
        client = client_address(request.scope, trusted) or ""
        presented = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        allowed = client in ("127.0.0.1", "::1") or (token and hmac.compare_digest(presented, token))
        if not allowed:
            return PlainTextResponse("forbidden", status_code=403)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return [Route("/metrics", metrics)]
