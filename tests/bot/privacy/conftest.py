"""A county's worth of records, old and new, on real SQLite and PostgreSQL, with a tracker store like Rasa's.

Residents (times relative to now; retention is 365 days):

- ``A``: everything 400 days old — a closed case with a callback number, a legal-aid check, a rating, a
  judged question, a stuck inbox row, Rasa events;
- ``B``: the same, all of it from this week;
- ``C``: an old message and a new one in one conversation;
- ``D``: old messages, and an old case someone still handles;
- ``E``: this week, wrote A's phone number down as their landlord's.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import MetaData, create_engine, insert, select

from bot.answers import load_reply_texts
from bot.console.models import AnswerRating, RetrievalJudgement
from bot.conversation import sender_id
from bot.eligibility.models import EligibilityDecision, PreApplication
from bot.models import BotBase, Conversation, Message
from channels.storage import CHANNEL_METADATA, channel_inbox, channel_kv
from handoff.models import Delivery, Feedback, HandoffBase, OutboxMessage, ResidentProfile, Ticket, TicketEvent
from nlu.trackers import EVENTS, TrackerStore

RETENTION_DAYS = 365
HANDOFF_TEXT = load_reply_texts().handoff


@dataclass
class Person:
    key: str
    openid: str
    phone: str
    secrets: tuple[str, ...]  # what they wrote that identifies them
    conversation_id: int = 0
    ticket_id: int | None = None


@dataclass
class County:
    sessions: Any
    tracker: TrackerStore
    tracker_url: str
    database_url: str
    now: dt.datetime
    people: dict[str, Person] = field(default_factory=dict)


PEOPLE = {
    "A": Person("official_account:oA-old", "oA-old", "13912345678", ("王大明", "11010119900307123X", "13912345678")),
    "B": Person("official_account:oB-new", "oB-new", "13800001111", ("李小红", "32010219851111222X", "13800001111")),
    "C": Person("web:c-mixed", "c-mixed", "13700002222", ("13700002222",)),
    "D": Person("mini_program:oD-active", "oD-active", "13600003333", ("13600003333",)),
    "E": Person("web:e-mention", "e-mention", "", ("房东不退押金",)),
}


def _conversation(session, person: Person, at: dt.datetime, seen: dt.datetime) -> int:
    row = Conversation(key=person.key, sender=sender_id(person.key), channel=person.key.split(":")[0],
                       openid=person.openid, created_at=at, last_seen_at=seen)
    session.add(row)
    session.flush()
    person.conversation_id = row.id
    return row.id


def _exchange(session, conversation_id: int, at: dt.datetime, said: str, *,
              handoff: bool = False) -> tuple[Message, Message]:
    """A question, the bot's answer (with meta the analytics read and meta they do not) and the handoff notice."""
    question = Message(conversation_id=conversation_id, direction="in", channel="official_account", text=said,
                       meta={}, created_at=at)
    answer = Message(conversation_id=conversation_id, direction="out", channel="official_account", engine="rasa",
                     text=f"关于您说的：{said}……", created_at=at + dt.timedelta(seconds=2),
                     meta={"topic": "wages", "confident": False, "citations": ["《保障农民工工资支付条例》第三十条"],
                           "buttons": [{"title": said[:10], "payload": "/x"}], "danger": {"text": said}})
    session.add_all([question, answer])
    if handoff:
        session.add(Message(conversation_id=conversation_id, direction="out", channel="official_account",
                            engine="handoff", text=HANDOFF_TEXT, meta={}, created_at=at + dt.timedelta(seconds=3)))
    session.flush()
    return question, answer


def _case(session, person: Person, at: dt.datetime, *, state: str, closed: dt.datetime | None, village: str) -> None:
    ticket = Ticket(conversation_key=person.key, channel="official_account", openid=person.openid,
                    reason="requested", topic="wages", summary=f"居民说：{person.secrets[0]} 欠工资", village=village,
                    target="adviser", assignee="p-adviser-1", owner="p-adviser-1" if state != "open" else None,
                    state=state, created_at=at, updated_at=closed or at, first_response_at=at + dt.timedelta(hours=1),
                    first_response_due=at + dt.timedelta(hours=4), resolution_due=at + dt.timedelta(days=5),
                    closed_at=closed, callback_phone=person.phone, outcome="resolved" if closed else None,
                    outcome_note=f"已回电 {person.phone}" if closed else None, rating=4 if closed else None)
    session.add(ticket)
    session.flush()
    person.ticket_id = ticket.id
    session.add_all([
        TicketEvent(ticket_id=ticket.id, at=at, kind="opened", actor="bot", data={"reason": "requested"}),
        TicketEvent(ticket_id=ticket.id, at=at, kind="resident_message", actor="resident",
                    text=f"身份证 {person.secrets[1] if len(person.secrets) > 2 else person.phone}"),
        TicketEvent(ticket_id=ticket.id, at=at, kind="staff_reply", actor="p-adviser-1", text="您好，我是顾问。"),
        Delivery(ticket_id=ticket.id, conversation_key=person.key, kind="reply", text="【法律顾问回复】您好",
                 state="sent", created_at=at, next_attempt_at=at),
        OutboxMessage(group_id="g-t1", ticket_id=ticket.id, kind="card", payload={"markdown": person.secrets[0]},
                      state="sent", created_at=at, next_attempt_at=at),
    ])
    if closed is not None:
        session.add(Feedback(conversation_key=person.key, ticket_id=ticket.id, kind="rating", score=4,
                             comment=f"谢谢，我电话 {person.phone}", created_at=closed))


def _check(session, person: Person, at: dt.datetime) -> None:
    decision = EligibilityDecision(rules_version="v1", province="山东省", matter="labor_remuneration",
                                   decision="eligible", means_test="exempt", basis=["法律援助法第三十二条"],
                                   explanation="追索劳动报酬，免予经济困难审查。", input={"income": 1800, "household": 3},
                                   source="chat", created_at=at)
    session.add(decision)
    session.flush()
    session.add(PreApplication(token=f"tok-{person.openid}", decision_id=decision.id, sender=sender_id(person.key),
                               answers=[["月收入", "1800 元"]], result={"decision": "eligible"}, created_at=at))


def _rasa_events(tracker_url: str, person: Person, at: dt.datetime) -> None:
    engine = create_engine(tracker_url)
    EVENTS.create(engine, checkfirst=True)
    with engine.begin() as connection:
        for offset, (kind, data) in enumerate([("session_started", {}),
                                               ("user", {"text": f"我叫{person.secrets[0]}，电话{person.phone}"})]):
            stamp = at.timestamp() + offset
            connection.execute(insert(EVENTS).values(sender_id=sender_id(person.key), type_name=kind, timestamp=stamp,
                                                     data=json.dumps({"event": kind, "timestamp": stamp, **data})))
    engine.dispose()


@pytest.fixture
def county(sessions, database_url, tmp_path) -> County:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    old, new = now - dt.timedelta(days=400), now - dt.timedelta(days=5)
    tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}" if database_url.startswith("sqlite") else database_url
    people = {name: Person(p.key, p.openid, p.phone, p.secrets) for name, p in PEOPLE.items()}
    with sessions.begin() as session:
        a, b, c, d, e = (people[n] for n in "ABCDE")
        _conversation(session, a, old, old)
        question, answer = _exchange(session, a.conversation_id, old, f"我叫{a.secrets[0]}，电话{a.phone}，老板欠工资",
                                     handoff=True)
        session.add(RetrievalJudgement(message_id=question.id, question="我叫王**，电话139********，老板欠工资",
                                       reason="unsure", status="dismissed", created_at=old))
        session.add(AnswerRating(message_id=answer.id, conversation_id=a.conversation_id, rating=-1,
                                 channel="official_account", created_at=old))
        _case(session, a, old, state="closed", closed=old + dt.timedelta(days=10), village="sx-t1-v1")
        _check(session, a, old)
        session.execute(insert(channel_inbox).values(key="msg-old", channel="official_account", openid=a.openid,
                                                     kind="ask", text=a.secrets[0], state="working", owner="gone",
                                                     created_at=old, updated_at=old))
        for key, expires in (("mp:session:old", old), ("mp:session:live", now + dt.timedelta(days=1))):
            session.execute(insert(channel_kv).values(key=key, value=json.dumps({"openid": a.openid if expires == old
                                                                                 else b.openid}), expires_at=expires))
        _conversation(session, b, new, new)
        question, _ = _exchange(session, b.conversation_id, new, f"我叫{b.secrets[0]}，电话{b.phone}", handoff=True)
        session.add(RetrievalJudgement(message_id=question.id, question="我叫李**", reason="unsure",
                                       status="dismissed", created_at=new))
        _case(session, b, new, state="closed", closed=now - dt.timedelta(days=3), village="sx-t2-v1")
        _check(session, b, new)
        session.execute(insert(channel_inbox).values(key="msg-new", channel="official_account", openid=b.openid,
                                                     kind="ask", text=b.secrets[0], state="done", owner="alive",
                                                     created_at=new, updated_at=new))
        _conversation(session, c, old, now - dt.timedelta(days=2))
        _exchange(session, c.conversation_id, old, f"旧问题，电话{c.phone}")
        _exchange(session, c.conversation_id, now - dt.timedelta(days=2), "新问题：工伤怎么认定")
        _conversation(session, d, old, old)
        _exchange(session, d.conversation_id, old, f"我的电话{d.phone}，地被占了")
        _case(session, d, old, state="claimed", closed=None, village="sx-t1-v2")
        _conversation(session, e, new, new)
        _exchange(session, e.conversation_id, new, f"我房东电话{a.phone}，房东不退押金")
        for person in (a, b):
            session.add(ResidentProfile(conversation_key=person.key, channel="official_account", openid=person.openid,
                                        village="sx-t1-v1" if person is a else "sx-t2-v1", last_topic="wages",
                                        updated_at=old if person is a else new))
    for person, at in ((people["A"], old), (people["B"], new), (people["D"], old)):
        _rasa_events(tracker_url, person, at)
    tracker = TrackerStore(tracker_url)
    yield County(sessions, tracker, tracker_url, database_url, now, people)
    tracker.close()


def everything(county: County) -> str:
    """Every row of every table the app and Rasa write, as text: what a leak would show up in."""
    rows: list[str] = []
    with county.sessions() as session:
        for metadata in (BotBase.metadata, HandoffBase.metadata, CHANNEL_METADATA):
            for table in metadata.sorted_tables:
                rows += [repr(tuple(row)) for row in session.execute(select(table))]
    engine = create_engine(county.tracker_url)
    with engine.connect() as connection:
        events = MetaData()
        events.reflect(connection, only=["events"])
        rows += [repr(tuple(row)) for row in connection.execute(select(events.tables["events"]))]
    engine.dispose()
    return "\n".join(rows)


def rasa_senders(county: County) -> set[str]:
    engine = create_engine(county.tracker_url)
    with engine.connect() as connection:
        senders = set(connection.scalars(select(EVENTS.c.sender_id).distinct()))
    engine.dispose()
    return senders
