"""The retention purge on real SQLite and PostgreSQL: old goes, new stays, the analytics do not move."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from bot.console.analytics import Scope, build_report, report_csv
from bot.console.analytics_sources import DEFAULT_SOURCES
from bot.console.models import AnswerRating, AuditEntry, RetrievalJudgement
from bot.conversation import sender_id
from bot.eligibility.models import EligibilityDecision, PreApplication
from bot.models import Conversation, Message
from bot.privacy import RetentionWorker, purge
from channels.storage import MemoryStore
from handoff.models import Delivery, Feedback, OutboxMessage, ResidentProfile, Ticket, TicketEvent
from tests.bot.privacy.conftest import HANDOFF_TEXT, RETENTION_DAYS, everything, rasa_senders

PLACES = {"sx-t1-v1": ("示例镇", "示例村"), "sx-t2-v1": ("演示乡", "演示村"), "sx-t1-v2": ("示例镇", "样板村")}


def figures(county) -> tuple:
    """Everything the analytics page, its CSV and the weekly summary show, over two years."""
    with county.sessions() as session:
        report = build_report(session, weeks=104, now=county.now, scope=Scope(None, PLACES), sources=DEFAULT_SOURCES)
    return (report_csv(report), report.summary, report.sections, report.weeks, report.open_feedback,
            report.total.conversations, report.total.handed, report.total.questions, report.total.thumbs_down)


def _purge(county, dry_run: bool = False):
    return purge(county.sessions, days=RETENTION_DAYS, handoff_text=HANDOFF_TEXT, tracker=county.tracker,
                 now=county.now, dry_run=dry_run, actor="cli:test")


def _texts(session, person) -> list[str]:
    return list(session.scalars(select(Message.text).where(Message.conversation_id == person.conversation_id)
                                .order_by(Message.id)))


def test_a_dry_run_counts_what_the_purge_erases_and_changes_nothing(county):
    before = everything(county)
    dry = _purge(county, dry_run=True)
    assert everything(county) == before
    with county.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0
    done = _purge(county)
    assert done.counts == dry.counts and done.tracker == dry.tracker == "4 events"  # A's and D's (old)
    # A's three messages and C's two old ones (D's stay: a person handles the case); A's case takes its
    # deliveries, robot card and rating with it, A's conversation its inbox row, A's pre-application its decision.
    assert done.counts == {"messages": 5, "closed tickets": 1, "conversations": 1, "profiles": 0, "deliveries": 0,
                           "robot messages": 0, "ratings and complaints": 0, "inbox": 0,
                           "expired channel state": 1, "pre-applications": 1, "legal-aid checks": 0}
    assert _purge(county).counts == dict.fromkeys(done.counts, 0)  # a second run finds nothing left


def test_the_purge_erases_what_is_old_and_keeps_what_is_new(county):
    a, b, c, d, e = (county.people[n] for n in "ABCDE")
    new_before = {n: _snapshot(county, county.people[n]) for n in "BE"}
    _purge(county)
    held = everything(county)
    not_e = "\n".join(row for row in held.splitlines() if "房东" not in row)  # E wrote A's number down: E's data
    for secret in (*a.secrets, a.openid):
        assert secret not in not_e, secret  # nowhere: messages, case, events, feedback, card, inbox, sessions, Rasa
    assert c.phone not in held and "新问题：工伤怎么认定" in held
    for name in "BE":
        assert _snapshot(county, county.people[name]) == new_before[name], name
    for secret in (*b.secrets, d.phone, "房东不退押金"):
        assert secret in held, secret
    with county.sessions() as session:
        conversation = session.get(Conversation, a.conversation_id)
        assert (conversation.key, conversation.openid, conversation.sender) == (f"erased:{a.conversation_id}", None,
                                                                                None)
        assert set(_texts(session, a)) == {""}
        ticket = session.get(Ticket, a.ticket_id)
        assert (ticket.summary, ticket.callback_phone, ticket.outcome_note, ticket.openid, ticket.conversation_key) == (
            "", None, None, None, "erased")
        assert (ticket.state, ticket.outcome, ticket.rating, ticket.village) == ("closed", "resolved", 4, "sx-t1-v1")
        for model in (TicketEvent, Delivery, OutboxMessage, Feedback):
            assert session.scalar(select(func.count()).select_from(model).where(model.ticket_id == a.ticket_id)) == 0
        profile = session.get(ResidentProfile, f"erased:{a.conversation_id}")
        assert (profile.village, profile.openid) == ("sx-t1-v1", None)
        assert session.scalar(select(func.count()).select_from(PreApplication)) == 1  # B's
        decisions = session.execute(select(EligibilityDecision.input, EligibilityDecision.matter)
                                    .order_by(EligibilityDecision.id)).all()
        assert [tuple(d) for d in decisions] == [({}, "labor_remuneration"), ({"income": 1800, "household": 3},
                                                                               "labor_remuneration")]
        assert session.scalar(select(func.count()).select_from(AnswerRating)) == 1
        assert session.scalar(select(func.count()).select_from(RetrievalJudgement)) == 2  # masked when judged
        assert [t for t in _texts(session, c)][:2] == ["", ""] and "" not in _texts(session, c)[2:]
        assert "" not in _texts(session, d)  # a person handles D's case: the transcript stays
        assert session.get(Ticket, d.ticket_id).summary
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "privacy.purge"))
        assert entry.username == "cli:test" and entry.detail["messages"] == 5
    assert rasa_senders(county) == {sender_id(b.key)}  # D's dialogue with the bot is old too; the case is not


def test_the_analytics_show_the_same_figures_after_the_purge(county):
    before = figures(county)
    assert before[6] == 3 and before[7] == 6  # A, B and D were handed over (A's case keyed "erased" after); 6 answers
    _purge(county)
    after = figures(county)
    for name, was, now in zip(("csv", "weekly", "sections", "weeks", "open feedback", "residents", "handoffs",
                               "questions", "thumbs down"), before, after, strict=True):
        assert now == was, name


def _snapshot(county, person) -> tuple:
    """One resident's rows as they are: for "nothing of theirs changed"."""
    with county.sessions() as session:
        conversation = session.get(Conversation, person.conversation_id)
        tickets = session.scalars(select(Ticket).where(Ticket.conversation_key == person.key)).all()
        return (conversation.key, conversation.openid, tuple(_texts(session, person)),
                tuple((t.summary, t.callback_phone, len(t.events)) for t in tickets))


@pytest.mark.anyio
async def test_of_several_app_workers_one_purges_once_a_day(county):
    store = MemoryStore()  # what the workers share (the database or Redis in production)
    days = iter([county.now, county.now, county.now + dt.timedelta(days=1)])
    workers = [RetentionWorker(county.sessions, store, days=RETENTION_DAYS, handoff_text=lambda: HANDOFF_TEXT,
                               tracker=county.tracker, clock=lambda: next(days)) for _ in range(2)]
    first, second = await workers[0].run_once(), await workers[1].run_once()
    assert first is not None and first.counts["messages"] == 5 and second is None
    tomorrow = await workers[1].run_once()
    assert tomorrow is not None and tomorrow.counts["messages"] == 0
    with county.sessions() as session:
        entries = session.scalars(select(AuditEntry.username).where(AuditEntry.action == "privacy.purge")).all()
    assert entries == ["retention-worker", "retention-worker"]
