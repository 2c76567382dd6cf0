"""The resident's side of an escalation, called by the conversation service around the bot.

``before_bot`` runs first on every message: it hands over replies that waited for the resident, checks
for danger (emergency numbers first, urgent ticket), answers what the bot asked last (village, phone,
rating, complaint), handles 结束人工 and 转人工, and — while a person handles the case — passes the
message to that person and keeps the bot out. What it asks can be given up in the resident's own words
(算了, 太麻烦了); a question of their own in place of the village goes to the bot, and the village question
waits. A rating is taken only once its question reached the resident, and only asked for a case a person
took part in. ``after_bot`` opens the ticket the dialogue asked for (the
``action_handoff`` signal), remembers a handoff offer (the two-stage fallback's last step), and offers a
person when the case is beyond self-help (a court date, a large claim, several parties).

All methods are synchronous (database work): call them through ``asyncio.to_thread``.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from handoff.cards import summarise
from handoff.danger import DangerAssessment, Triage
from handoff.delivery import take_for_inbound
from handoff.directory import Directory
from handoff.models import Delivery, Feedback, ResidentProfile, Ticket
from handoff.ports import Clock, TranscriptSource
from handoff.residents import (
    clear_pending,
    clear_safety_check,
    pending_of,
    profile,
    safety_check_of,
    set_pending,
    set_safety_check,
)
from handoff.robot import enqueue_robot_message
from handoff.routing import supervisor_group
from handoff.signals import Signal, SignalDetector
from handoff.texts import HandoffTexts, normalise_command
from handoff.tickets import TicketService, mask_phone

__all__ = ["DeskReply", "HandoffDesk", "Resident"]

log = logging.getLogger(__name__)
_MOBILE = re.compile(r"1[3-9]\d{9}")
SAFETY_CHECK_LASTS = dt.timedelta(hours=24)  # asked at most once a day; 危险 answers it meanwhile
_RATING = re.compile(r"^\s*([1-5])\s*(分|星)?\s*$")


@dataclass(frozen=True, slots=True)
class Resident:
    """Who wrote: the conversation key, and the channel identity to reach them again."""

    key: str
    channel: str
    openid: str | None


@dataclass
class DeskReply:
    """Replies for the resident; ``handled`` True means the bot must not answer this message."""

    replies: list[str]
    handled: bool
    meta: dict[str, Any] = field(default_factory=dict)
    preface: str | None = None  # said at the start of the bot's answer (the safety check)
    postscript: str | None = None  # said after the bot's answer (the village question still waits)


class HandoffDesk:
    """Resident-facing escalation logic over the ticket service."""

    def __init__(self, sessions: sessionmaker[Session], tickets: TicketService, directory: Directory,
                 texts: HandoffTexts, signals: SignalDetector, transcript: TranscriptSource | None, *,
                 clock: Clock, triage: Triage | None = None) -> None:
        self.sessions = sessions
        self.tickets = tickets
        self.directory = directory
        self.texts = texts
        self.signals = signals
        self.triage = triage or Triage(signals)
        self.transcript = transcript
        self.clock = clock

    # -- before the bot --------------------------------------------------------------------------------
    def before_bot(self, who: Resident, text: str, *, in_form: bool = False) -> DeskReply:
        """Triage first, whatever state the conversation is in; ``in_form``: Lawline just asked a form's question.

        Danger always wins: the form (or the case a person handles) is left as it was, so the resident can go
        on with it afterwards.
        """
        now = self.clock()
        with self.sessions.begin() as session:
            row = session.get(ResidentProfile, who.key)
            pending, data = pending_of(row, now)
            checked = safety_check_of(row, now)
            # Typed before the rating question reached them (it comes with this reply): not a rating.
            unseen = pending == "rating" and not _reached(session, data)
            waiting = take_for_inbound(session, who.key, who.channel, who.openid, now)
        assessment = self.triage.assess(text)
        if not assessment.danger and checked is not None and self.texts.is_command("in_danger", text):
            labels = self.triage.signals.labels()
            kinds = tuple(Signal(k, labels[k]) for k in checked if k in labels)
            assessment = DangerAssessment(kinds or (Signal("threat", labels["threat"]),), "check_in")
            self._record_check(who.key, None)
        if assessment.danger:
            return DeskReply(waiting + self._danger(who, assessment, text, in_form=in_form),
                             True, {"handoff": "danger", "danger": assessment.evidence()})
        reply = self._route(who, text, pending, data, unseen, waiting)
        if (not assessment.check or checked is not None or self._is_any_command(text)
                or reply.meta.get("handoff") == "forwarded"):  # a person reads it: they judge, not the model
            return reply
        # Unsure: the safety numbers come first, at most once a day, before the bot's answer or before the
        # reply to a pending question (the village, a rating); 危险 then turns it into the emergency reply.
        self._record_check(who.key, list(assessment.likely))
        meta = {**reply.meta, "safety_check": assessment.evidence()}
        if not reply.handled:
            return DeskReply(reply.replies, False, meta, preface=self.texts["safety_check"],
                             postscript=reply.postscript)
        own = reply.replies[len(waiting):]
        first = f"{self.texts['safety_check']}\n\n{own[0]}" if own else self.texts["safety_check"]
        return DeskReply([*waiting, first, *own[1:]], True, meta)

    def _route(self, who: Resident, text: str, pending: str | None, data: dict[str, Any], unseen: bool,
               waiting: list[str]) -> DeskReply:
        """No danger: the pending question's answer, a command, the person's case, or on to the bot."""
        postscript = None
        if pending is not None and not unseen:
            answer = self._answer_pending(who, pending, data, text)
            if answer is not None:
                return DeskReply(waiting + answer, True, {"handoff": pending})
            if pending == "ask_village":  # a question of their own: the bot answers, the village question waits
                postscript = self.directory.mark(self.texts.format("village_waiting", example=self._example_place()))
        if self.texts.is_command("end", text):
            return DeskReply(waiting + self._end(who), True, {"handoff": "end"})
        for kind in ("complaint", "suggestion"):
            if self.texts.is_command(kind, text):
                self._set_pending(who.key, "feedback", {"kind": kind})
                return DeskReply(waiting + [self.texts[f"feedback_ask_{kind}"]], True, {"handoff": "feedback"})
        ticket = self.tickets.active_for(who.key)
        if ticket is not None and _waits_after_danger(ticket):
            # An urgent case nobody has claimed yet: the person will see this message, and meanwhile the
            # resident can go back to what they were doing (the legal-aid check, a question).
            self.tickets.resident_message(who.key, text)
        elif ticket is not None and _person_handles(ticket):
            self.tickets.resident_message(who.key, text)
            replies = list(waiting)
            if self.texts.is_command("handoff", text):
                replies.append(self.texts["already_open"])
            elif ticket.state == "open" and not replies:
                replies.append(self.texts["waiting_ack"])
            return DeskReply(replies, True, {"handoff": "forwarded", "ticket": ticket.id})
        if self.texts.is_command("handoff", text):
            reason = data.get("reason") if pending == "offered" else None
            return DeskReply(waiting + self.escalate(who, reason=str(reason or "requested")), True,
                             {"handoff": "requested"})
        return DeskReply(waiting, False, postscript=postscript)

    def _record_check(self, key: str, kinds: list[str] | None) -> None:
        """The safety check shown now about ``kinds``, or (None) answered."""
        now = self.clock()
        with self.sessions.begin() as session:
            row = profile(session, key, now)
            if kinds is None:
                clear_safety_check(row, now)
            else:
                set_safety_check(row, kinds, now, SAFETY_CHECK_LASTS)

    def _danger(self, who: Resident, assessment: DangerAssessment, text: str, *, in_form: bool) -> list[str]:
        labels = [s.label for s in assessment.kinds]
        evidence = assessment.evidence()
        opened = self.tickets.open(who.key, reason="danger", urgent=True, danger=labels, summary=self._summary(who)[0],
                                   topic=self._last_topic(who.key), channel=who.channel, openid=who.openid,
                                   evidence=evidence)
        if opened.created is False:
            self.tickets.resident_message(who.key, text)
        ticket = opened.ticket
        women = ""
        points = [p for p in self.directory.service_points("womens_federation", near=ticket.village) if p.phone]
        if points:
            women = self.directory.mark(self.texts.format("women_local_known", name=points[0].name,
                                                          phone=points[0].phone))
        national = self.directory.national.get("mental_health")
        mental = f"{national.number} {national.name}" if national else "12356 心理援助热线"
        lines = [p for p in self.directory.service_points("mental_health", near=ticket.village) if p.phone]
        if lines:
            mental = self.directory.mark(f"{lines[0].phone}（{lines[0].name}），或 {mental}")
        log.warning("danger signalled (%s by %s, score %s); urgent ticket %d", ",".join(evidence["kinds"]),
                    evidence["rule"] or "model", evidence["score"], ticket.id)
        return [self.texts.emergency.compose([k.kind for k in assessment.kinds], in_form=in_form,
                                             women_local=women, mental_line=mental)]

    # -- what the bot asked last -------------------------------------------------------------------------
    def _answer_pending(self, who: Resident, pending: str, data: dict[str, Any], text: str) -> list[str] | None:
        """The reply when ``text`` answers the pending question; None lets the message go on as usual."""
        if pending == "ask_village":
            return self._village_answer(who, data, text)
        if pending == "ask_phone":
            return self._phone_answer(who, data, text)
        if pending == "rating":
            match = _RATING.match(text)
            if match is None and self.texts.gives_up(text):
                self._clear_pending(who.key)
                return [self.texts["rating_skipped"]]
            if match is None:
                self._clear_pending(who.key)
                return None
            self._store_feedback(who.key, data.get("ticket"), "rating", int(match.group(1)), None)
            self._set_pending(who.key, "rating_comment", data)
            return [self.texts["rating_thanks"]]
        if pending == "rating_comment":
            self._clear_pending(who.key)
            if self._is_any_command(text):
                return None if not self.texts.is_command("no_comment", text) else [self.texts["rating_comment_thanks"]]
            self._store_feedback(who.key, data.get("ticket"), "rating_comment", None, text)
            return [self.texts["rating_comment_thanks"]]
        if pending == "feedback":
            self._clear_pending(who.key)
            if self._is_any_command(text):
                return None
            self._store_feedback(who.key, None, str(data.get("kind") or "suggestion"), None, text)
            return [self.texts["feedback_thanks"]]
        return None  # "offered": remembered for 转人工, nothing to answer

    def _is_any_command(self, text: str) -> bool:
        said = normalise_command(text)
        return any(said in phrases for phrases in self.texts.commands.values())

    def _village_answer(self, who: Resident, data: dict[str, Any], text: str) -> list[str] | None:
        example = self._example_place()
        if self.texts.is_command("unknown_place", text):
            self._clear_pending(who.key)
            return self.escalate(who, reason=str(data.get("reason") or "requested"), topic=data.get("topic"),
                                 ask_village=False)
        if self.texts.gives_up(text):
            self._clear_pending(who.key)
            return [self.texts["handoff_dropped"]]
        found = self.directory.find_village(text)
        if len(found) == 1:
            village = found[0]
            now = self.clock()
            with self.sessions.begin() as session:
                row = profile(session, who.key, now)
                row.village = village.code
                clear_pending(row, now)
            place = self.directory.mark(self.texts.format("village_remembered",
                                                          place=self.directory.full_name(village.code)))
            return [place, *self.escalate(who, reason=str(data.get("reason") or "requested"),
                                          topic=data.get("topic"))]
        if not found and self.texts.asks(text) and not self.texts.is_command("handoff", text):
            return None  # their own question, not a place: answered by the bot (before_bot adds the reminder)
        tries = int(data.get("tries", 0)) + 1
        if tries >= 3 or self.texts.is_command("handoff", text):
            self._clear_pending(who.key)
            return self.escalate(who, reason=str(data.get("reason") or "requested"), topic=data.get("topic"),
                                 ask_village=False)
        self._set_pending(who.key, "ask_village", {**data, "tries": tries})
        if len(found) > 1:
            choices = "、".join(self.directory.full_name(v.code) for v in found[:6])
            return [self.directory.mark(self.texts.format("village_ambiguous", choices=choices))]
        return [self.directory.mark(self.texts.format("village_unknown", example=example))]

    def _phone_answer(self, who: Resident, data: dict[str, Any], text: str) -> list[str] | None:
        ticket_id = data.get("ticket")
        if self.texts.is_command("decline", text):
            self._clear_pending(who.key)
            return [self.texts["callback_declined"]]
        digits = re.sub(r"[\s\-]", "", text)
        match = _MOBILE.search(digits)
        if match is None or not isinstance(ticket_id, int):
            if re.search(r"\d{5,}", digits):
                return [self.texts["phone_invalid"]]
            self._clear_pending(who.key)
            return None
        ticket = self.tickets.book_callback(ticket_id, match.group())
        self._clear_pending(who.key)
        return [self.texts.format("callback_booked", when=self.tickets.local_time(ticket.callback_at),
                                  phone=mask_phone(match.group()))]

    def _end(self, who: Resident) -> list[str]:
        """结束人工: a rating is asked (and awaited) only when a person took part in the case."""
        ticket = self.tickets.end_by_resident(who.key)
        if ticket is None:
            return [self.texts["nothing_to_end"]]
        if not _person_took_part(ticket):
            return [self.texts["ended_unattended"]]
        self._set_pending(who.key, "rating", {"ticket": ticket.id})
        return [self.texts["ended_by_resident"], self.texts["rating_ask"]]

    # -- escalating ------------------------------------------------------------------------------------
    def escalate(self, who: Resident, *, reason: str = "requested", topic: str | None = None,
                 ask_village: bool = True) -> list[str]:
        """Open a ticket for the resident (asking their village first, once) and say what happens next."""
        now = self.clock()
        active = self.tickets.active_for(who.key)
        if active is not None and _person_handles(active):
            return [self.texts["already_open"]]
        with self.sessions() as session:
            row = session.get(ResidentProfile, who.key)
            village = row.village if row is not None else None
            topic = topic or (row.last_topic if row is not None else None)
        if ask_village and village is None and self.directory.configured and self.directory.villages():
            self._set_pending(who.key, "ask_village", {"reason": reason, "topic": topic, "tries": 0})
            return [self.directory.mark(self.texts.format("ask_village", example=self._example_place()))]
        summary, cited = self._summary(who)
        opened = self.tickets.open(who.key, reason=reason, topic=topic, summary=summary, answered=cited,
                                   channel=who.channel, openid=who.openid)
        route = opened.route
        if not route.configured:
            return [self.texts["escalated_unconfigured"]]
        if not route.on_duty:
            with self.sessions.begin() as session:
                set_pending(profile(session, who.key, now), "ask_phone", {"ticket": opened.ticket.id}, now)
            if route.next_duty is None:
                return [self.texts["out_of_hours_unknown"]]
            return [self.texts.format("out_of_hours", next=self.tickets.local_time(route.next_duty))]
        if route.target == "adviser":
            person = self.directory.person(route.assignee)
            place = self.directory.full_name(opened.ticket.village)
            return [self.directory.mark(self.texts.format("escalated_adviser", place=place,
                                                          name=person.name if person else ""))]
        return [self.texts["escalated_hotline"]]

    # -- after the bot ---------------------------------------------------------------------------------
    def after_bot(self, who: Resident, text: str, replies: list[str], meta: dict[str, Any]) -> list[str]:
        """The final replies once the bot answered: open the ticket it asked for, or offer a person."""
        topic = meta.get("topic")
        if isinstance(topic, str) and topic:
            self._remember_topic(who.key, topic)
        signal = meta.get("handoff")
        if isinstance(signal, dict):
            now = self.clock()
            with self.sessions() as session:
                pending, data = pending_of(session.get(ResidentProfile, who.key), now)
            reason = data.get("reason") if pending == "offered" else None
            return self.escalate(who, reason=str(reason or signal.get("reason") or "requested"),
                                 topic=signal.get("topic") if isinstance(signal.get("topic"), str) else None)
        offer = meta.get("offer_handoff")
        if isinstance(offer, str):
            self._set_pending(who.key, "offered", {"reason": offer})
            return replies
        complex_ = self.signals.complexity(text)
        if complex_ and self.tickets.active_for(who.key) is None:
            self._set_pending(who.key, "offered", {"reason": "beyond_self_help"})
            labels = "、".join(s.label for s in complex_)
            return [*replies, self.texts.format("offer_person", labels=labels)]
        return replies

    # -- helpers ---------------------------------------------------------------------------------------
    def _summary(self, who: Resident) -> tuple[str, tuple[str, ...]]:
        if self.transcript is None:
            return "", ()
        return summarise(self.transcript.recent(who.key, 12))

    def _example_place(self) -> str:
        villages = self.directory.villages()
        return self.directory.full_name(villages[0].code) if villages else "某某镇某某村"

    def _last_topic(self, key: str) -> str | None:
        with self.sessions() as session:
            row = session.get(ResidentProfile, key)
            return row.last_topic if row is not None else None

    def _remember_topic(self, key: str, topic: str) -> None:
        now = self.clock()
        with self.sessions.begin() as session:
            profile(session, key, now).last_topic = topic[:20]

    def _set_pending(self, key: str, what: str, data: dict[str, Any]) -> None:
        now = self.clock()
        with self.sessions.begin() as session:
            set_pending(profile(session, key, now), what, data, now)

    def _clear_pending(self, key: str) -> None:
        now = self.clock()
        with self.sessions.begin() as session:
            clear_pending(profile(session, key, now), now)

    def _store_feedback(self, key: str, ticket_id: Any, kind: str, score: int | None, comment: str | None) -> None:
        now = self.clock()
        ticket = ticket_id if isinstance(ticket_id, int) else None
        with self.sessions.begin() as session:
            session.add(Feedback(conversation_key=key, ticket_id=ticket, kind=kind, score=score,
                                 comment=comment[:2000] if comment else None, created_at=now))
            if kind in ("complaint", "suggestion"):
                self._notify_supervisor(session, kind, comment or "", now)
        if kind == "rating" and ticket is not None and score is not None:
            self.tickets.record_rating(ticket, score)
        self.tickets.wake()

    def _notify_supervisor(self, session: Session, kind: str, comment: str, now: dt.datetime) -> None:
        from handoff.cards import mask_personal

        group = supervisor_group(self.directory)
        if group:
            title = "居民投诉" if kind == "complaint" else "居民建议"
            extract = mask_personal(comment.replace("\n", " "))[:200]
            mark = "【演示数据】" if self.directory.sample else ""
            text = f"### {mark}{title}\n> {extract}\n请登录工作台查看。"
            enqueue_robot_message(session, group, "note", text, None, now)


def _person_took_part(ticket: Ticket) -> bool:
    """Someone claimed the case or answered the resident (the ones a rating is about)."""
    return ticket.claimed_at is not None or ticket.first_response_at is not None


def _reached(session: Session, data: dict[str, Any]) -> bool:
    """The rating question was delivered before this message (sent by the worker, or shown in a reply)."""
    delivery_id = data.get("delivery")
    if not isinstance(delivery_id, int):
        return True  # asked in the reply itself (结束人工)
    row = session.get(Delivery, delivery_id)
    return row is None or row.state == "sent"


def _waits_after_danger(ticket: Ticket) -> bool:
    return ticket.reason == "danger" and ticket.state == "open"


def _person_handles(ticket: Ticket) -> bool:
    """While this holds the bot stays out: a person has the case, or it waits in a staffed queue now."""
    return ticket.state == "claimed" or (ticket.state == "open" and ticket.group_id is not None)
