"""``channels.ports.ResidentRecords`` over the bot's records: what the mini-program shows beside the replies.

One conversation, however the resident writes: ``describe_turn`` and ``history`` are the web chat's own
(``bot.web_chat``) on the key the conversation service gives the resident (``bot.conversation``; the UnionID
joins the official account and the mini-program). Cases are the handoff's tickets on that key, in the words of
``handoff/data/texts.yaml``; service points are the directory's as loaded now (an editor's publish shows at
once), the ones at or above the resident's remembered village first. Nothing is guessed: a figure the
directory does not have is ``None``, and sample data are marked as such (``Directory.mark``).
"""

from __future__ import annotations

import asyncio

from bot.conversation import conversation_key
from bot.web_chat import conversation_so_far, describe_turn
from channels.ports import CaseView, ChannelUser, HistoryView, ServicePointsView, ServicePointView, TurnView
from handoff.cards import REASONS
from handoff.directory import SPECIALTIES, TOPIC_SPECIALTY, ServicePoint
from handoff.models import Ticket
from handoff.residents import village_of
from handoff.service import HandoffService
from handoff.tickets import ACTIVE, OUTCOMES

__all__ = ["MAX_CASES", "ResidentRecords"]

MAX_CASES = 20  # the resident's newest cases; older closed ones are in the centre's records
PRE_APPLICATION = "legal_aid_pre_application"  # a sent legal-aid pre-application: its matter is legal aid


class ResidentRecords:
    """The mini-program's reads, from the conversation records and the handoff service."""

    def __init__(self, handoff: HandoffService) -> None:
        self.handoff = handoff
        self.sessions = handoff.tickets.sessions

    async def describe_turn(self, user: ChannelUser, replies: list[str]) -> TurnView:
        return await asyncio.to_thread(describe_turn, self.sessions, conversation_key(user), replies)

    async def history(self, user: ChannelUser) -> HistoryView:
        found = await asyncio.to_thread(conversation_so_far, self.sessions, conversation_key(user))
        return found[0] if found is not None else HistoryView(messages=[], options=[])

    async def cases(self, user: ChannelUser) -> list[CaseView]:
        key = conversation_key(user)
        tickets = await asyncio.to_thread(self.handoff.tickets.queue, states=(*ACTIVE, "closed"),
                                          where=Ticket.conversation_key == key)
        return [self._case(t) for t in sorted(tickets, key=lambda t: t.id, reverse=True)[:MAX_CASES]]

    def _case(self, ticket: Ticket) -> CaseView:
        texts, tickets = self.handoff.texts, self.handoff.tickets
        return CaseView(
            id=ticket.id, state=ticket.state, status=texts.case_states.get(ticket.state, ticket.state),
            topic=REASONS[ticket.reason] if ticket.reason == PRE_APPLICATION
            else SPECIALTIES.get(TOPIC_SPECIALTY.get(ticket.topic or "", "")),
            target=texts.targets.get(ticket.target, ticket.target),
            opened=tickets.local_time(ticket.created_at), updated=tickets.local_time(ticket.updated_at),
            callback=tickets.local_time(ticket.callback_at) if ticket.callback_at and ticket.state == "callback"
            else None,
            outcome=OUTCOMES.get(ticket.outcome or "", ticket.outcome) if ticket.state == "closed" else None)

    async def service_points(self, user: ChannelUser) -> ServicePointsView:
        directory = self.handoff.directory
        village = await asyncio.to_thread(self._village, conversation_key(user))
        return ServicePointsView(configured=directory.configured,
                                 points=[self._point(p) for p in directory.service_points(near=village)])

    def _village(self, key: str) -> str | None:
        with self.sessions() as session:
            return village_of(session, key)

    def _point(self, point: ServicePoint) -> ServicePointView:
        latitude, longitude = point.coordinates if point.coordinates is not None else (None, None)
        return ServicePointView(id=point.id, kind=point.kind, kind_label=point.kind_label,
                                name=self.handoff.directory.mark(point.name), address=point.address, phone=point.phone,
                                hours=point.hours, latitude=latitude, longitude=longitude)
