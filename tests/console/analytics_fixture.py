"""A small county, computed by hand: three weeks, two villages, a week boundary at Sunday 23:30 / Monday 00:30.

Beijing time throughout; the server runs in UTC (``utc_server``), where both boundary messages fall on Sunday.

Weeks (Monday, Beijing time): before = 11-09, last = 11-16 (the last full week), this = 11-23 (now: Wed 11-25).
Villages: sx-t1-v1 示例镇示例村 (c0, c2, c3), sx-t2-v1 演示乡演示村 (c1, c5); c4 never said.

| week   | answers (topic, resident)                                   | wrote          | tickets (resident)  |
|--------|-------------------------------------------------------------|----------------|---------------------|
| before | wages c0, land c1                                           | c0 c1          | —                   |
| last   | land c0 👍, land c2, land c3 (unsure, retrieval), support   | c0 c2 c3 c4 c5 | c2, c4, c4 again    |
|        | c4 👎, land c5 (Sunday 23:30) — and 3 handoff-desk replies  |                |                     |
| this   | land c5 (Monday 00:30) 👍, wages c1                         | c5 c1          | c5 (Monday 00:40)   |

Legal-aid checks: before: land_contract eligible; last: labor_relation_or_remuneration eligible,
support_payment needs_review.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bot.console.models import AnswerRating
from bot.eligibility.models import EligibilityDecision
from bot.models import Conversation, Message
from handoff.models import ResidentProfile, Ticket

BEIJING = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=BEIJING).astimezone(dt.UTC)
BEFORE, LAST, THIS = dt.date(2026, 11, 9), dt.date(2026, 11, 16), dt.date(2026, 11, 23)
VILLAGES = {0: "sx-t1-v1", 2: "sx-t1-v1", 3: "sx-t1-v1", 1: "sx-t2-v1", 5: "sx-t2-v1"}


def at(day: dt.date, hour: int = 10, minute: int = 0) -> dt.datetime:
    """A Beijing wall-clock time, stored as UTC."""
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=BEIJING).astimezone(dt.UTC)


def _exchange(session, who: Conversation, when: dt.datetime, meta: dict, engine: str = "rasa") -> Message:
    session.add(Message(conversation_id=who.id, direction="in", channel=who.channel, text="问题：电话13912345678",
                        meta={}, created_at=when))
    answer = Message(conversation_id=who.id, direction="out", channel=who.channel, text="回答", engine=engine,
                     meta=meta, created_at=when + dt.timedelta(seconds=2))
    session.add(answer)
    session.flush()
    return answer


def _rate(session, answer: Message, rating: int, when: dt.datetime) -> None:
    session.add(AnswerRating(message_id=answer.id, conversation_id=answer.conversation_id, rating=rating,
                             channel="web", created_at=when))


def _ticket(session, who: Conversation, when: dt.datetime, village: str | None) -> None:
    session.add(Ticket(conversation_key=who.key, reason="requested", topic="land", summary="张三 13900000000",
                       village=village, target="adviser", state="open", created_at=when, updated_at=when,
                       first_response_due=when + dt.timedelta(hours=1), resolution_due=when + dt.timedelta(days=3)))


def _check(session, matter: str, decision: str, when: dt.datetime) -> None:
    session.add(EligibilityDecision(rules_version="v1", province="重庆市", matter=matter, decision=decision,
                                    means_test="exempt", basis=[], explanation="", input={}, source="chat",
                                    created_at=when))


def populate(sessions) -> None:
    """Write the county above."""
    land, wages, support = ({"confident": True, "topic": t} for t in ("land", "wages", "support"))
    with sessions.begin() as session:
        c = [Conversation(key=f"web:{i:032d}", channel="web" if i != 1 else "official_account", openid=f"{i:032d}")
             for i in range(6)]
        session.add_all(c)
        session.flush()
        for i, village in VILLAGES.items():
            session.add(ResidentProfile(conversation_key=c[i].key, village=village, sent_since_inbound=0,
                                        pending_data={}, updated_at=at(BEFORE)))
        # the week before
        _exchange(session, c[0], at(BEFORE + dt.timedelta(days=1)), {"confident": True, "card": "wages-unpaid"})
        _exchange(session, c[1], at(BEFORE + dt.timedelta(days=3)), land)
        _check(session, "land_contract", "eligible", at(BEFORE + dt.timedelta(days=3)))
        # the last full week
        liked = _exchange(session, c[0], at(LAST + dt.timedelta(days=1)), land)
        _rate(session, liked, 1, at(LAST + dt.timedelta(days=1), 11))
        _exchange(session, c[2], at(LAST + dt.timedelta(days=2)), land)
        _ticket(session, c[2], at(LAST + dt.timedelta(days=2), 11), "sx-t1-v1")
        _exchange(session, c[3], at(LAST + dt.timedelta(days=3)), {"confident": False, "topic": "land"},
                  engine="retrieval")
        disliked = _exchange(session, c[4], at(LAST + dt.timedelta(days=4)), support)
        _rate(session, disliked, -1, at(LAST + dt.timedelta(days=4), 11))
        for signal in ("requested", "ask_village", "forwarded"):  # the handoff desk's replies: not answers
            _exchange(session, c[4], at(LAST + dt.timedelta(days=4), 12), {"handoff": signal}, engine="handoff")
        _ticket(session, c[4], at(LAST + dt.timedelta(days=4), 12), None)
        _ticket(session, c[4], at(LAST + dt.timedelta(days=5), 12), None)  # the same resident again
        _exchange(session, c[5], at(LAST + dt.timedelta(days=6), 23, 30), land)  # Sunday 23:30
        _check(session, "labor_relation_or_remuneration", "eligible", at(LAST + dt.timedelta(days=2)))
        _check(session, "support_payment", "needs_review", at(LAST + dt.timedelta(days=4)))
        # this week
        monday = _exchange(session, c[5], at(THIS, 0, 30), land)  # Monday 00:30 (Sunday 16:30 UTC)
        _rate(session, monday, 1, at(THIS, 0, 35))
        _ticket(session, c[5], at(THIS, 0, 40), "sx-t2-v1")
        _exchange(session, c[1], at(THIS + dt.timedelta(days=1)), wages)
