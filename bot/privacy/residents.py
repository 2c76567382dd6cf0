"""A resident's own request: find what is held about them, export it, erase it (个人信息保护法 第四十五条、第四十七条).

``who`` is what the resident (or the staff member who checked who they are) gives:

- a conversation key (``official_account:<openid>``, ``union:<unionid>``, ``web:<session>``);
- an openid or a unionid;
- a phone number. It finds the cases whose callback number it is and the conversations whose legal-aid
  pre-application it was left with — the resident gave it as theirs. A
  conversation where the number only appears in a message is listed as a *mention* and included only when
  asked (``include_mentions``): residents also write down their landlord's or their boss's number, and one
  resident's request must never export or erase another's conversation.

Found: their conversations and messages (with the ratings they gave), cases with their history, deliveries
and feedback, the handoff profile, legal-aid pre-applications and decisions (linked by the Rasa pseudonym),
questions the editors judged, inbox rows, and Rasa's tracker events for their sender ids. Erasure is
``bot.privacy.erasure`` (the analytics keep their counts); a case still being handled stops it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from bot.console.auth import utcnow
from bot.console.models import AnswerRating, RetrievalJudgement
from bot.conversation import sender_id
from bot.eligibility.models import EligibilityDecision, PreApplication
from bot.models import Conversation, Message
from bot.privacy.erasure import (
    erase_conversation,
    erase_messages,
    erase_pre_applications,
    erase_ticket,
    has_inbox,
)
from bot.privacy.errors import CaseStillOpen, ResidentNotFound
from channels.storage import channel_inbox
from handoff.models import Delivery, Feedback, ResidentProfile, Ticket
from handoff.tickets import ACTIVE
from nlu.trackers import TrackerStore

__all__ = ["EXPORT_FORMAT", "Resident", "delete_resident", "export_resident", "find_resident", "kind_of"]

EXPORT_FORMAT = "lawline.privacy.export/1"
_PHONE = re.compile(r"^(?:1[3-9]\d{9}|0\d{9,11})$")
_NOT_DIGITS = re.compile(r"[\s()（）+-]")


@dataclass
class Resident:
    """What a request found: conversation keys (some only of a case), their rows, Rasa sender ids, mentions."""

    kind: str  # key | openid | phone
    keys: list[str]
    conversation_ids: list[int]
    senders: list[str]
    openids: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)  # keys where a phone number only appears in a message


def _phone(who: str) -> str | None:
    digits = _NOT_DIGITS.sub("", who)
    digits = digits[2:] if digits.startswith("86") and len(digits) == 13 else digits
    return digits if _PHONE.match(digits) else None


def kind_of(who: str) -> str:
    """``phone``, ``key`` (it has a colon) or ``openid``."""
    if _phone(who):
        return "phone"
    return "key" if ":" in who else "openid"


def _live(keys: set[str]) -> set[str]:
    return {k for k in keys if k and not k.startswith("erased")}


def find_resident(session: Session, who: str, *, include_mentions: bool = False) -> Resident:
    """Everything ``who`` leads to; raises ``ResidentNotFound`` when nothing does."""
    who = who.strip()
    kind = kind_of(who)
    keys: set[str] = set()
    mentions: set[str] = set()
    if kind == "key":
        for column in (Conversation.key, Ticket.conversation_key, ResidentProfile.conversation_key):
            keys |= set(session.scalars(select(column).where(column == who)))
    elif kind == "openid":
        keys |= set(session.scalars(select(Conversation.key).where(or_(Conversation.openid == who,
                                                                        Conversation.unionid == who))))
        keys |= set(session.scalars(select(Ticket.conversation_key).where(Ticket.openid == who)))
        keys |= set(session.scalars(select(ResidentProfile.conversation_key).where(ResidentProfile.openid == who)))
    else:
        phone = _phone(who) or ""
        keys |= set(session.scalars(select(Ticket.conversation_key).where(Ticket.callback_phone == phone)))
        given = select(PreApplication.sender).where(PreApplication.contact_phone == phone)  # left with consent
        keys |= set(session.scalars(select(Conversation.key).where(Conversation.sender.in_(given))))
        mentioned = (select(Conversation.key).join(Message, Message.conversation_id == Conversation.id)
                     .where(Message.direction == "in", Message.text.contains(phone, autoescape=True)))
        mentions = _live(set(session.scalars(mentioned))) - keys
        if include_mentions:
            keys |= mentions
    keys = _live(keys)
    if not keys:
        raise ResidentNotFound(kind)
    conversations = session.scalars(select(Conversation).where(Conversation.key.in_(keys))).all()
    senders = {c.sender or sender_id(c.key) for c in conversations} | {sender_id(k) for k in keys}
    openids = {c.openid for c in conversations if c.openid} | ({who} if kind == "openid" else set())
    return Resident(kind, sorted(keys), sorted(c.id for c in conversations), sorted(senders), sorted(openids),
                    sorted(mentions - keys))


def _at(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _who(actor: str) -> str:
    """Staff are named as a role, not by their directory id (their replies are signed anyway)."""
    return actor if actor in ("resident", "bot", "system") else "staff"


def _case(session: Session, ticket: Ticket) -> dict[str, Any]:
    deliveries = session.scalars(select(Delivery).where(Delivery.ticket_id == ticket.id).order_by(Delivery.id))
    feedback = session.scalars(select(Feedback).where(Feedback.ticket_id == ticket.id).order_by(Feedback.id))
    return {
        "id": ticket.id, "state": ticket.state, "reason": ticket.reason, "topic": ticket.topic,
        "summary": ticket.summary, "village": ticket.village, "target": ticket.target, "urgent": ticket.urgent,
        "created_at": _at(ticket.created_at), "closed_at": _at(ticket.closed_at),
        "callback_at": _at(ticket.callback_at), "callback_phone": ticket.callback_phone,
        "outcome": ticket.outcome, "outcome_note": ticket.outcome_note, "rating": ticket.rating,
        "events": [{"at": _at(e.at), "kind": e.kind, "by": _who(e.actor), "text": e.text} for e in ticket.events],
        "messages_to_resident": [{"at": _at(d.created_at), "kind": d.kind, "text": d.text, "state": d.state}
                                 for d in deliveries],
        "feedback": [{"at": _at(f.created_at), "kind": f.kind, "score": f.score, "comment": f.comment}
                     for f in feedback],
    }


def _conversations(session: Session, resident: Resident) -> list[dict[str, Any]]:
    out = []
    for conversation in session.scalars(select(Conversation).where(Conversation.id.in_(resident.conversation_ids))
                                        .order_by(Conversation.id)):
        ratings = session.scalars(select(AnswerRating).where(AnswerRating.conversation_id == conversation.id))
        out.append({
            "key": conversation.key, "channel": conversation.channel, "openid": conversation.openid,
            "unionid": conversation.unionid, "created_at": _at(conversation.created_at),
            "last_seen_at": _at(conversation.last_seen_at),
            "messages": [{"at": _at(m.created_at), "direction": m.direction, "channel": m.channel, "text": m.text}
                         for m in conversation.messages if m.text],
            "ratings": [{"at": _at(r.created_at), "rating": r.rating} for r in ratings],
        })
    return out


def _checks(session: Session, resident: Resident) -> list[dict[str, Any]]:
    rows = session.scalars(select(PreApplication).where(PreApplication.sender.in_(resident.senders))
                           .order_by(PreApplication.id))
    return [{
        "created_at": _at(p.created_at), "submitted_at": _at(p.submitted_at), "answers": p.answers,
        "contact_name": p.contact_name, "contact_phone": p.contact_phone, "consented_at": _at(p.consented_at),
        "result": p.result, "decision": _decision(p.decision)} for p in rows]


def _decision(d: EligibilityDecision) -> dict[str, Any]:
    return {"decision": d.decision, "means_test": d.means_test, "matter": d.matter, "province": d.province,
            "basis": d.basis, "explanation": d.explanation, "input": d.input, "rules_version": d.rules_version}


def export_resident(session: Session, resident: Resident, tracker: TrackerStore | None) -> dict[str, Any]:
    """Everything held about ``resident`` as one JSON-ready object (nobody else's rows)."""
    tickets = session.scalars(select(Ticket).where(Ticket.conversation_key.in_(resident.keys)).order_by(Ticket.id))
    profiles = session.scalars(select(ResidentProfile).where(ResidentProfile.conversation_key.in_(resident.keys)))
    message_ids = select(Message.id).where(Message.conversation_id.in_(resident.conversation_ids))
    judged = session.scalars(select(RetrievalJudgement).where(RetrievalJudgement.message_id.in_(message_ids)))
    feedback = session.scalars(select(Feedback).where(Feedback.conversation_key.in_(resident.keys),
                                                      Feedback.ticket_id.is_(None)).order_by(Feedback.id))
    inbox: list[dict[str, Any]] = []
    if resident.openids and has_inbox(session):
        inbox = [{"at": _at(row.created_at), "channel": row.channel, "text": row.text} for row in session.execute(
            select(channel_inbox).where(channel_inbox.c.openid.in_(resident.openids)))]
    rasa: dict[str, Any] = {"status": "not configured", "events": []}
    if tracker is not None:
        present = tracker.present()
        rasa = {"status": "ok" if present else f"no tracker store at {tracker.shown_url}",
                "events": tracker.events(resident.senders) if present else []}
    return {
        "format": EXPORT_FORMAT, "generated_at": _at(utcnow()), "found_by": resident.kind,
        "conversations": _conversations(session, resident),
        "cases": [_case(session, t) for t in tickets],
        "profiles": [{"village": p.village, "last_topic": p.last_topic, "channel": p.channel,
                      "updated_at": _at(p.updated_at)} for p in profiles],
        "complaints_and_suggestions": [{"at": _at(f.created_at), "kind": f.kind, "score": f.score,
                                        "comment": f.comment} for f in feedback],
        "legal_aid_checks": _checks(session, resident),
        "judged_questions": [{"at": _at(j.created_at), "question": j.question, "citation": j.citation}
                             for j in judged],
        "inbox": inbox,
        "rasa_tracker": rasa,
    }


def delete_resident(session: Session, resident: Resident, *, handoff_text: str, tracker: TrackerStore | None,
                    dry_run: bool = False) -> dict[str, int]:
    """Erase everything found (the caller commits, and audits); Rasa's events go first, in their own store.

    Refuses with ``CaseStillOpen`` while a case of theirs is active, before anything changes.
    """
    active = list(session.scalars(select(Ticket.id).where(Ticket.conversation_key.in_(resident.keys),
                                                          Ticket.state.in_(ACTIVE))))
    if active:
        raise CaseStillOpen(sorted(active))
    counts: dict[str, int] = {}
    if tracker is not None and tracker.present():
        counts["rasa events"] = tracker.delete_senders(resident.senders, dry_run=dry_run)
    closed = session.scalars(select(Ticket.id).where(Ticket.conversation_key.in_(resident.keys))).all()
    counts["cases"] = sum(erase_ticket(session, ticket_id) for ticket_id in closed)
    in_conversations = Message.conversation_id.in_(resident.conversation_ids)
    judged = RetrievalJudgement.message_id.in_(select(Message.id).where(in_conversations))
    counts["judged questions"] = len(session.scalars(select(RetrievalJudgement.id).where(judged)).all())
    session.execute(delete(RetrievalJudgement).where(judged))
    counts["messages"] = erase_messages(session, in_conversations, handoff_text)
    applications = session.scalars(select(PreApplication.id).where(PreApplication.sender.in_(resident.senders))).all()
    counts["pre-applications"] = erase_pre_applications(session, applications)
    if resident.openids and has_inbox(session):
        session.execute(delete(channel_inbox).where(channel_inbox.c.openid.in_(resident.openids)))
    conversations = session.scalars(select(Conversation).where(Conversation.id.in_(resident.conversation_ids))).all()
    counts["conversations"] = sum(erase_conversation(session, c) for c in conversations)
    for model in (Delivery, Feedback, ResidentProfile):  # rows keyed by a key with no conversation row
        session.execute(delete(model).where(model.conversation_key.in_(resident.keys)))
    return counts
