"""Every figure the analytics show, defined once: what it counts, over which rows, in which period.

The dashboard, its CSV export, the weekly summary and the hot-spot warnings (``bot.console.hotspots``) all
read these functions; nothing else counts. A period is a half-open range of Beijing-time days (Asia/Shanghai,
whatever the server's timezone); weeks run Monday 00:00 to the next Monday 00:00 Beijing time. Counts and
codes only — never a resident's text, name or number; ``bot.console.names`` turns codes into Chinese.

Privacy erasure (``bot.privacy.erasure``) keeps every row these functions read, so the figures of past
weeks do not change when old records are purged.
"""

from __future__ import annotations

import datetime as dt
import statistics
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from bot.console.auth import aware
from bot.console.models import AnswerRating
from bot.models import Conversation, Message

if TYPE_CHECKING:
    from bot.console.analytics import Scope

__all__ = ["TZ", "EligibilityFigures", "MessageFigures", "Period", "PlaceFigures", "TicketFigures",
           "eligibility_figures", "is_question_answer", "message_figures", "place_figures", "ratio",
           "ticket_figures", "topic_of", "week_of", "week_period"]

TZ = ZoneInfo("Asia/Shanghai")
TOPICS = ("wages", "support", "land", "dispute", "legal_aid", "other")  # the codes ``topic_of`` returns
ERASED_TICKET_KEY = "erased"  # what ``bot.privacy.erasure`` keys an erased ticket by


@dataclass(frozen=True, slots=True)
class Period:
    """Beijing-time days ``start`` (inclusive) to ``end`` (exclusive)."""

    start: dt.date
    end: dt.date

    @property
    def start_at(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time(), TZ).astimezone(dt.UTC)

    @property
    def end_at(self) -> dt.datetime:
        return dt.datetime.combine(self.end, dt.time(), TZ).astimezone(dt.UTC)

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)

    @property
    def label(self) -> str:
        return self.start.isoformat()


def week_of(moment: dt.datetime) -> dt.date:
    """The Monday (Beijing time) of the week ``moment`` falls in."""
    day = aware(moment).astimezone(TZ).date()
    return day - dt.timedelta(days=day.weekday())


def week_period(monday: dt.date, weeks: int = 1) -> Period:
    """``weeks`` weeks from ``monday``."""
    return Period(monday, monday + dt.timedelta(weeks=weeks))


def ratio(part: int, whole: int) -> float | None:
    """``part / whole``, or None when there is nothing to divide by (shown as "—", never as 0%)."""
    return part / whole if whole else None


def topic_of(meta: dict[str, Any]) -> str:
    """An answer's topic code.

    The NLU/composer's ``topic``, else the card id's prefix (``wages-…``), else ``legal_aid`` when it cites
    法律援助法, else ``other``.
    """
    topic = meta.get("topic")
    if isinstance(topic, str) and topic in TOPICS:
        return topic
    card = meta.get("card")
    if isinstance(card, str) and card.split("-", 1)[0] in TOPICS:
        return card.split("-", 1)[0]
    if any("法律援助法" in str(c) for c in meta.get("citations") or []):
        return "legal_aid"
    return "other"


def is_question_answer(meta: dict[str, Any]) -> bool:
    """An answer to a question: the composer set ``confident``, or it cites articles.

    Not a greeting, a menu, a form step or a handoff notice.
    """
    return "confident" in meta or bool(meta.get("citations"))


def _has(session: Session, table: str) -> bool:
    return inspect(session.get_bind()).has_table(table)


def _bucket(periods: Sequence[Period], moment: dt.datetime) -> int | None:
    """Index of the period ``moment`` falls in (periods sorted, not overlapping), or None."""
    starts = [p.start_at for p in periods]
    i = bisect_right(starts, aware(moment)) - 1
    return i if i >= 0 and aware(moment) < periods[i].end_at else None


# ---- conversations, answers and ratings ---------------------------------------------------------
@dataclass
class MessageFigures:
    """The bot's work in one period (county-wide; messages carry no village)."""

    period: Period
    questions: int = 0
    """Answers to a question: outgoing messages ``is_question_answer`` accepts, created in the period."""
    unsure: int = 0
    """Of ``questions``, those the composer was not sure of (``meta.confident`` is false)."""
    fallback: int = 0
    """Of ``questions``, those answered by retrieval alone because the dialogue engine was down (engine
    ``retrieval``)."""
    conversations: int = 0
    """Residents who wrote: distinct conversations with at least one incoming message in the period."""
    handed: int = 0
    """Residents handed to a person: distinct conversations for which a handoff ticket was opened in the
    period (a ticket erased by the privacy purge, keyed ``erased``, counts as one conversation)."""
    thumbs_up: int = 0
    """👍 ratings of answers given in the period (``answer_ratings``, by the time of rating)."""
    thumbs_down: int = 0
    """👎 ratings of answers given in the period."""
    topics: Counter[str] = field(default_factory=Counter)
    """``questions`` by topic code (``topic_of``)."""
    channels: Counter[str] = field(default_factory=Counter)
    """``questions`` by channel code (``web``, ``official_account``, ``mini_program`` …)."""
    reply_seconds: list[float] = field(default_factory=list)
    """Seconds from a resident's message to the bot's first reply after it, per reply in the period."""

    @property
    def handoff_rate(self) -> float | None:
        """Share of residents handed to a person: ``handed / conversations``."""
        return ratio(self.handed, self.conversations)

    @property
    def unsure_rate(self) -> float | None:
        """``unsure / questions``."""
        return ratio(self.unsure, self.questions)

    @property
    def satisfaction(self) -> float | None:
        """Share of 👍 among the ratings: ``thumbs_up / (thumbs_up + thumbs_down)``."""
        return ratio(self.thumbs_up, self.thumbs_up + self.thumbs_down)

    @property
    def median_reply_seconds(self) -> float | None:
        """The median of ``reply_seconds`` (one decimal)."""
        return round(statistics.median(self.reply_seconds), 1) if self.reply_seconds else None


def message_figures(session: Session, periods: Sequence[Period]) -> list[MessageFigures]:
    """``MessageFigures`` of each period (sorted, not overlapping), reading each table once."""
    out = [MessageFigures(p) for p in periods]
    if not periods:
        return out
    start, end = periods[0].start_at, periods[-1].end_at
    query = (select(Message.conversation_id, Message.direction, Message.channel, Message.engine, Message.meta,
                    Message.created_at)
             .where(Message.created_at >= start, Message.created_at < end).order_by(Message.created_at, Message.id))
    writers: list[set[int]] = [set() for _ in periods]
    last_in: dict[int, dt.datetime] = {}
    for conversation, direction, channel, engine, meta, created in session.execute(query):
        i = _bucket(periods, created)
        if i is None:
            continue
        row = out[i]
        if direction == "in":
            writers[i].add(conversation)
            last_in[conversation] = aware(created)
            continue
        asked = last_in.pop(conversation, None)
        if asked is not None:
            row.reply_seconds.append(max(0.0, (aware(created) - asked).total_seconds()))
        meta = meta or {}
        if not is_question_answer(meta):
            continue
        row.questions += 1
        row.topics[topic_of(meta)] += 1
        row.channels[channel] += 1
        row.unsure += meta.get("confident") is False
        row.fallback += engine == "retrieval"
    for i, conversations in enumerate(writers):
        out[i].conversations = len(conversations)
    for rating, created in session.execute(select(AnswerRating.rating, AnswerRating.created_at).where(
            AnswerRating.created_at >= start, AnswerRating.created_at < end)):
        i = _bucket(periods, created)
        if i is not None:
            if rating > 0:
                out[i].thumbs_up += 1
            else:
                out[i].thumbs_down += 1
    if _has(session, "handoff_tickets"):
        from handoff.models import Ticket

        handed: list[set[str]] = [set() for _ in periods]
        for ticket_id, key, created in session.execute(select(Ticket.id, Ticket.conversation_key, Ticket.created_at)
                                                       .where(Ticket.created_at >= start, Ticket.created_at < end)):
            i = _bucket(periods, created)
            if i is not None:
                handed[i].add(f"{key}#{ticket_id}" if key == ERASED_TICKET_KEY else key)
        for i, keys in enumerate(handed):
            out[i].handed = len(keys)
    return out


# ---- handoff tickets ----------------------------------------------------------------------------
@dataclass
class TicketFigures:
    """Handoff tickets opened in the period, within a scope (``bot.console.access.case_filter``)."""

    period: Period
    tickets: int = 0
    """Tickets opened (``handoff_tickets.created_at`` in the period)."""
    urgent: int = 0
    """Of ``tickets``, the urgent ones (danger signals)."""
    still_open: int = 0
    """Of ``tickets``, those not closed now."""
    response_judged: int = 0
    """Of ``tickets``, those whose first-response deadline can be judged: answered, or unanswered and overdue."""
    response_on_time: int = 0
    """Of ``response_judged``, those first answered by the deadline."""
    resolution_judged: int = 0
    """Of ``tickets``, those whose resolution deadline can be judged: closed, or open and overdue."""
    resolution_on_time: int = 0
    """Of ``resolution_judged``, those closed by the deadline."""
    first_response_minutes: list[float] = field(default_factory=list)
    """Minutes from opening to a person's first reply, per answered ticket."""
    ratings: list[int] = field(default_factory=list)
    """The residents' 1–5 ratings of the tickets (满意度回访)."""
    reasons: Counter[str] = field(default_factory=Counter)
    """``tickets`` by reason code (``handoff.cards.REASONS``)."""
    villages: Counter[str] = field(default_factory=Counter)
    """``tickets`` by village code (``""``: the resident did not say)."""
    topics: Counter[str] = field(default_factory=Counter)
    """``tickets`` by topic code (``other`` when none)."""

    @property
    def median_first_response_minutes(self) -> float | None:
        return statistics.median(self.first_response_minutes) if self.first_response_minutes else None

    @property
    def mean_rating(self) -> float | None:
        return statistics.mean(self.ratings) if self.ratings else None


def _on_time(done: dt.datetime | None, due: dt.datetime | None, now: dt.datetime) -> bool | None:
    if due is None:
        return None
    if done is not None:
        return aware(done) <= aware(due)
    return False if aware(due) < now else None


def ticket_figures(session: Session, period: Period, scope: Scope, now: dt.datetime) -> TicketFigures | None:
    """``TicketFigures`` of the tickets ``scope`` may open; None when the handoff tables are not there."""
    if not _has(session, "handoff_tickets"):
        return None
    from bot.console.access import case_filter
    from handoff.models import Ticket

    out = TicketFigures(period)
    query = (select(Ticket).where(Ticket.created_at >= period.start_at, Ticket.created_at < period.end_at,
                                  case_filter(scope)).order_by(Ticket.id))
    for t in session.scalars(query):
        out.tickets += 1
        out.urgent += bool(t.urgent)
        out.still_open += t.state != "closed"
        for judged, on_time in ((_on_time(t.first_response_at, t.first_response_due, now), "response"),
                                (_on_time(t.closed_at, t.resolution_due, now), "resolution")):
            if judged is not None:
                setattr(out, f"{on_time}_judged", getattr(out, f"{on_time}_judged") + 1)
                setattr(out, f"{on_time}_on_time", getattr(out, f"{on_time}_on_time") + judged)
        if t.first_response_at is not None:
            out.first_response_minutes.append((aware(t.first_response_at) - aware(t.created_at)).total_seconds() / 60)
        if t.rating is not None:
            out.ratings.append(t.rating)
        out.reasons[t.reason] += 1
        out.villages[t.village or ""] += 1
        out.topics[t.topic or "other"] += 1
    return out


# ---- legal-aid self-checks ----------------------------------------------------------------------
@dataclass
class EligibilityFigures:
    """Legal-aid self-checks decided in the period (county-wide: a check has no village)."""

    period: Period
    checks: int = 0
    """Decisions recorded (``eligibility_decisions.created_at`` in the period)."""
    eligible: int = 0
    """Of ``checks``, decision ``eligible``."""
    decisions: Counter[str] = field(default_factory=Counter)
    """``checks`` by decision code."""
    means_tests: Counter[str] = field(default_factory=Counter)
    """``checks`` by means-test code."""
    matters: Counter[str] = field(default_factory=Counter)
    """``checks`` by matter code (法律援助法第三十一条 …)."""


def eligibility_figures(session: Session, period: Period) -> EligibilityFigures | None:
    """``EligibilityFigures``; None when the table is not there."""
    if not _has(session, "eligibility_decisions"):
        return None
    from bot.eligibility.models import EligibilityDecision

    out = EligibilityFigures(period)
    for decision, means, matter in session.execute(
            select(EligibilityDecision.decision, EligibilityDecision.means_test, EligibilityDecision.matter)
            .where(EligibilityDecision.created_at >= period.start_at, EligibilityDecision.created_at < period.end_at)):
        out.checks += 1
        out.eligible += decision == "eligible"
        out.decisions[decision] += 1
        out.means_tests[means] += 1
        out.matters[matter] += 1
    return out


# ---- questions by place (热点区域) --------------------------------------------------------------
@dataclass
class PlaceFigures:
    """Answers to questions by the village the resident told the handoff side (remembered once asked)."""

    period: Period
    questions: int = 0
    """All answers to questions in the period (as ``MessageFigures.questions``; within the scope's villages
    for an adviser)."""
    villages: Counter[str] = field(default_factory=Counter)
    """Answers by village code, for residents whose village is known."""
    topics: dict[str, Counter[str]] = field(default_factory=dict)
    """Per village code: its answers by topic code."""

    @property
    def known(self) -> int:
        """Answers whose resident's village is known."""
        return sum(self.villages.values())

    def towns(self, places: dict[str, tuple[str, str]]) -> Counter[str]:
        """Answers by town name (``places``: village code → (town, village)).

        ``""`` counts villages not in the directory.
        """
        out: Counter[str] = Counter()
        for village, n in self.villages.items():
            out[places.get(village, ("", ""))[0]] += n
        return out


def place_figures(session: Session, period: Period, villages: tuple[str, ...] | None) -> PlaceFigures | None:
    """``PlaceFigures`` (``villages``: only these, for an adviser; None: the county); None without the table."""
    if not _has(session, "handoff_residents"):
        return None
    from handoff.models import ResidentProfile

    query = (select(Message.meta, ResidentProfile.village)
             .join(Conversation, Conversation.id == Message.conversation_id)
             .outerjoin(ResidentProfile, ResidentProfile.conversation_key == Conversation.key)
             .where(Message.direction == "out", Message.created_at >= period.start_at,
                    Message.created_at < period.end_at))
    if villages is not None:
        query = query.where(ResidentProfile.village.in_(villages))
    out = PlaceFigures(period)
    for meta, village in session.execute(query):
        meta = meta or {}
        if not is_question_answer(meta):
            continue
        out.questions += 1
        if village:
            out.villages[village] += 1
            out.topics.setdefault(village, Counter())[topic_of(meta)] += 1
    return out
