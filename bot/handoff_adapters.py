"""The handoff package's ports implemented with the bot's records and the WeChat channels.

- ``ConversationTranscript``: a resident's recent messages from ``bot.models`` (with the citations the bot
  gave), for case cards and the console.
- ``WeChatMessenger``: a person's reply to the resident through the customer-service API of the channel the
  resident last wrote from; WeChat's refusals become ``handoff.errors.DeliveryRefused``, a send with no
  answer back ``DeliveryUnknown``.
- ``AdviserTemplates``: template messages from the official account to advisers who follow it; WeChat's
  refusals become ``handoff.errors.TemplateRefused``.
- ``LegalAidPoints`` and ``pre_application_hook``: the legal-aid check's (issue #4) directory and submit
  hook, served by the service directory and the tickets.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.eligibility.ports import LegalAidPoint, SubmitHook, SubmittedPreApplication
from bot.models import Conversation, Message
from channels.errors import OutcomeUnknown, QuotaExceeded, ResponseWindowClosed, WeChatError
from channels.splitting import split_text
from channels.wechat_api import WeChatClient
from handoff.directory import Directory
from handoff.errors import DeliveryRefused, DeliveryUnknown, TemplateRefused
from handoff.ports import TranscriptLine
from handoff.tickets import TicketService

__all__ = ["AdviserTemplates", "ConversationTranscript", "LegalAidPoints", "WeChatMessenger",
           "conversation_key_for_sender", "pre_application_hook"]


class ConversationTranscript:
    """``handoff.ports.TranscriptSource`` over the bot's conversation records."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def recent(self, conversation_key: str, limit: int) -> list[TranscriptLine]:
        with self.sessions() as session:
            conversation = session.scalar(select(Conversation).where(Conversation.key == conversation_key))
            if conversation is None:
                return []
            rows = session.scalars(select(Message).where(Message.conversation_id == conversation.id,
                                                         Message.text != "")  # "" is erased (bot.privacy)
                                   .order_by(Message.id.desc()).limit(limit)).all()
        lines = []
        for row in reversed(rows):
            meta = row.meta or {}
            cited = meta.get("citations")
            cited = cited if isinstance(cited, list) else []
            lines.append(TranscriptLine(row.direction, row.text, row.created_at, tuple(str(c) for c in cited),
                                        row.engine))
        return lines


class WeChatMessenger:
    """``handoff.ports.ResidentMessenger``: official account and mini-program customer-service messages."""

    def __init__(self, clients: dict[str, WeChatClient]) -> None:
        self.clients = clients  # by channel name: "official_account", "mini_program"

    async def send_text(self, channel: str, openid: str, text: str) -> None:
        client = self.clients.get(channel)
        if client is None:
            raise DeliveryRefused("no_channel")
        try:
            for part in split_text(text):
                await client.send_text(openid, part)
        except ResponseWindowClosed:
            raise DeliveryRefused("window_closed") from None
        except QuotaExceeded:
            raise DeliveryRefused("quota") from None
        except OutcomeUnknown:
            raise DeliveryUnknown() from None


# 40003 invalid openid, 40036/40037 invalid template id, 43004 not following, 43019 blocked, 47003 bad data
TEMPLATE_PERMANENT = frozenset({40003, 40036, 40037, 43004, 43019, 47003})


class AdviserTemplates:
    """``handoff.ports.AdviserNotifier`` through the official account's client (when it is configured)."""

    def __init__(self, clients: dict[str, WeChatClient]) -> None:
        self.clients = clients

    async def send_template(self, openid: str, template_id: str, data: dict[str, str], url: str | None) -> None:
        client = self.clients.get("official_account")
        if client is None:
            raise TemplateRefused(-1, "official account not configured", permanent=False)
        try:
            await client.send_template(openid, template_id, data, url)
        except WeChatError as exc:
            raise TemplateRefused(exc.errcode, exc.errmsg, permanent=exc.errcode in TEMPLATE_PERMANENT) from None


class LegalAidPoints:
    """``bot.eligibility.ports.LegalAidDirectory`` over the service directory (issue #4 wires it).

    The directory covers one county: its legal-aid centres are offered when the resident's province is the
    county's (or the directory is the sample, which stands in for any place and is marked as such).
    """

    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def legal_aid_points(self, province: str, place: str | None) -> list[LegalAidPoint]:
        county = self.directory.county.name
        if not self.directory.sample and (not province or province.removesuffix("市").removesuffix("省") not in county):
            return []
        near = None
        if place:
            found = self.directory.find_village(place)
            near = found[0].code if len(found) == 1 else None
        return [LegalAidPoint(self.directory.mark(p.name), p.address, p.phone, p.hours)
                for p in self.directory.service_points("legal_aid_centre", near=near)]


def conversation_key_for_sender(sessions: sessionmaker[Session], sender: str | None) -> str | None:
    """The conversation behind a Rasa sender id (the pseudonym ``bot.conversation.sender_id`` gives Rasa)."""
    if not sender:
        return None
    with sessions() as session:
        return session.scalar(select(Conversation.key).where(Conversation.sender == sender).limit(1))


def pre_application_hook(tickets: TicketService, sessions: sessionmaker[Session]) -> SubmitHook:
    """``bot.eligibility`` submit hook: a sent pre-application becomes a ticket for a person (issue #4 wires it)."""

    async def hook(application: SubmittedPreApplication) -> None:
        key = await asyncio.to_thread(conversation_key_for_sender, sessions, application.sender)
        answers = "\n".join(f"{q}：{a}" for q, a in application.answers[:12])
        outcome = application.result.get("decision_label") or application.decision.get("decision")
        summary = f"法律援助预申请 {application.code}（结论：{outcome}）\n{answers}"
        if application.contact is not None:  # the name and number stay off the card: shown on the case page
            summary += "\n居民同意留下姓名和电话，请在工作台的案件页查看并回电。"
        if application.page_url:
            summary += f"\n{application.page_url}"
        situation = application.situation
        codes = {"matter": situation.get("matter"), "province": situation.get("province"),
                 "area": situation.get("area"), "decision": application.decision.get("decision"),
                 "means_test": application.decision.get("means_test"), "code": application.code}
        await asyncio.to_thread(tickets.open, key or f"pre-application:{application.code}",
                                reason="legal_aid_pre_application", summary=summary, legal_aid=codes)

    return hook
