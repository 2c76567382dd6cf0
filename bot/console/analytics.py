"""Service analytics over conversations and messages, by week (Asia/Shanghai), topic and channel.

Counts, never texts: a question is counted by the answer Lawline gave it (its topic, whether it was sure,
whether the resident asked for a person or rated it), so no personal data enters a report, a chart, the
CSV or the weekly summary. Other records (escalation tickets, legal-aid eligibility decisions) plug in
as ``AnalyticsSource`` functions returning a ``Section`` (see ``bot.console.analytics_sources``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.console.auth import aware, utcnow
from bot.console.models import AnswerRating, RetrievalJudgement
from bot.models import Message

__all__ = ["TOPIC_NAMES", "TZ", "AnalyticsSource", "Report", "Scope", "Section", "WeekRow", "build_report",
           "is_question_answer", "report_csv", "topic_of", "weekly_summary"]

TZ = ZoneInfo("Asia/Shanghai")
TOPIC_NAMES = {"wages": "工资报酬", "support": "赡养抚养", "land": "土地承包", "dispute": "邻里债务家庭纠纷",
               "legal_aid": "法律援助", "other": "其他"}
CHANNEL_NAMES = {"web": "网页", "official_account": "公众号", "mini_program": "小程序", "wechat": "公众号",
                 "mp": "小程序"}


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose figures and cases: the whole county (``villages`` is None) or an adviser's reach.

    An adviser's reach is their villages' place codes, the cases assigned to or claimed by ``person`` and,
    for a hotline lawyer, the hotline's cases; ``bot.console.access`` builds it from an account and turns
    it into the filter on tickets, so the case pages and these figures follow one rule.
    """

    villages: tuple[str, ...] | None = None
    # village code → (town name, village name), from the service directory; empty: codes are shown
    places: dict[str, tuple[str, str]] = field(default_factory=dict, compare=False)
    person: str | None = None  # the directory person behind the account
    hotline: bool = False  # that person is a hotline lawyer

    @property
    def county(self) -> bool:
        return self.villages is None


@dataclass(frozen=True, slots=True)
class Section:
    """Figures from another record (tickets, eligibility): headline numbers, a table, a bar chart, a note."""

    title: str
    kpis: tuple[tuple[str, str], ...] = ()
    headers: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    bars: tuple[tuple[str, float], ...] = ()
    note: str = ""
    summary: str = ""  # one line for the weekly summary


AnalyticsSource = Callable[[Session, dt.datetime, dt.datetime, Scope], Section | None]


@dataclass
class WeekRow:
    """One week's counts (weeks start on Monday, local time)."""

    week: dt.date
    questions: int = 0
    unsure: int = 0
    handoffs: int = 0
    fallback: int = 0
    thumbs_up: int = 0
    thumbs_down: int = 0
    conversations: set[int] = field(default_factory=set)
    topics: Counter[str] = field(default_factory=Counter)
    channels: Counter[str] = field(default_factory=Counter)
    reply_seconds: list[float] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.week.isoformat()

    @property
    def median_reply_seconds(self) -> float | None:
        return round(statistics.median(self.reply_seconds), 1) if self.reply_seconds else None


@dataclass
class Report:
    """Everything the analytics page, the CSV and the weekly summary show."""

    start: dt.date
    end: dt.date  # exclusive
    scope: Scope
    weeks: list[WeekRow]
    sections: list[Section]
    open_feedback: int = 0

    def total(self, name: str) -> int:
        return sum(getattr(w, name) for w in self.weeks)

    @property
    def conversations(self) -> int:
        return len(set().union(*(w.conversations for w in self.weeks))) if self.weeks else 0

    @property
    def topics(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for week in self.weeks:
            total.update(week.topics)
        return total

    @property
    def channels(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for week in self.weeks:
            total.update(week.channels)
        return total

    def rate(self, part: str, whole: str = "questions") -> float | None:
        denominator = self.total(whole)
        return self.total(part) / denominator if denominator else None

    @property
    def satisfaction(self) -> float | None:
        rated = self.total("thumbs_up") + self.total("thumbs_down")
        return self.total("thumbs_up") / rated if rated else None


def week_of(moment: dt.datetime) -> dt.date:
    day = aware(moment).astimezone(TZ).date()
    return day - dt.timedelta(days=day.weekday())


def topic_of(meta: dict[str, Any]) -> str:
    """The answer's topic: from the NLU/composer, else from the card's id (``wages-…``)."""
    topic = meta.get("topic")
    if isinstance(topic, str) and topic in TOPIC_NAMES:
        return topic
    card = meta.get("card")
    if isinstance(card, str) and card.split("-", 1)[0] in TOPIC_NAMES:
        return card.split("-", 1)[0]
    cites = meta.get("citations") or []
    if any("法律援助法" in str(c) for c in cites):
        return "legal_aid"
    return "other"


def is_question_answer(meta: dict[str, Any]) -> bool:
    """An answer to a question (the composer sets ``confident``; cited answers count), not a greeting."""
    return "confident" in meta or bool(meta.get("citations"))


def build_report(session: Session, *, weeks: int = 12, today: dt.date | None = None, handoff_text: str = "",
                 scope: Scope | None = None, sources: Sequence[AnalyticsSource] = ()) -> Report:
    """Figures for the ``weeks`` weeks up to and including the current one."""
    scope = scope or Scope()
    today = today or utcnow().astimezone(TZ).date()
    this_week = today - dt.timedelta(days=today.weekday())
    start = this_week - dt.timedelta(weeks=weeks - 1)
    end = this_week + dt.timedelta(weeks=1)
    start_at = dt.datetime.combine(start, dt.time(), TZ).astimezone(dt.UTC)
    end_at = dt.datetime.combine(end, dt.time(), TZ).astimezone(dt.UTC)
    rows = {start + dt.timedelta(weeks=i): WeekRow(start + dt.timedelta(weeks=i)) for i in range(weeks)}
    open_feedback = 0
    if scope.county:
        _count_messages(session, rows, start_at, end_at, handoff_text)
        _count_ratings(session, rows, start_at, end_at)
        open_feedback = int(session.scalar(select(func.count()).select_from(RetrievalJudgement)) or 0)
    sections = [s for s in (source(session, start_at, end_at, scope) for source in sources) if s is not None]
    return Report(start, end, scope, [rows[k] for k in sorted(rows)], sections, open_feedback)


def _count_messages(session: Session, rows: dict[dt.date, WeekRow], start_at: dt.datetime, end_at: dt.datetime,
                    handoff_text: str) -> None:
    is_handoff = (Message.text == handoff_text) if handoff_text else func.lower("x") == "y"
    query = (select(Message.id, Message.conversation_id, Message.direction, Message.channel, Message.engine,
                    Message.meta, Message.created_at, is_handoff.label("handoff"))
             .where(Message.created_at >= start_at, Message.created_at < end_at).order_by(Message.id))
    last_in: dict[int, dt.datetime] = {}
    for _id, conversation, direction, channel, engine, meta, created, handoff in session.execute(query):
        created = aware(created)
        if direction == "in":
            last_in[conversation] = created
            continue
        row = rows.get(week_of(created))
        if row is None:
            continue
        meta = meta or {}
        asked = last_in.pop(conversation, None)
        if asked is not None:
            row.reply_seconds.append(max(0.0, (created - asked).total_seconds()))
        if handoff or meta.get("handoff"):
            row.handoffs += 1
            row.conversations.add(conversation)
        if not is_question_answer(meta):
            continue
        row.questions += 1
        row.conversations.add(conversation)
        row.topics[topic_of(meta)] += 1
        row.channels[CHANNEL_NAMES.get(channel, channel)] += 1
        if meta.get("confident") is False:
            row.unsure += 1
        if engine == "retrieval":
            row.fallback += 1


def _count_ratings(session: Session, rows: dict[dt.date, WeekRow], start_at: dt.datetime,
                   end_at: dt.datetime) -> None:
    query = select(AnswerRating.rating, AnswerRating.created_at).where(
        AnswerRating.created_at >= start_at, AnswerRating.created_at < end_at)
    for rating, created in session.execute(query):
        row = rows.get(week_of(created))
        if row is not None:
            if rating > 0:
                row.thumbs_up += 1
            else:
                row.thumbs_down += 1


def report_csv(report: Report) -> str:
    """One line per week: counts, rates and questions per topic (UTF-8 with BOM, so Excel opens it)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    topics = list(TOPIC_NAMES)
    writer.writerow(["周（周一）", "咨询数", "居民数", "没把握", "没把握比例", "转人工", "转人工率", "👍", "👎",
                     "满意度", "应答中位秒数", "检索直答（引擎不可用）", *[f"话题：{TOPIC_NAMES[t]}" for t in topics]])
    for week in report.weeks:
        rated = week.thumbs_up + week.thumbs_down
        writer.writerow([
            week.label, week.questions, len(week.conversations), week.unsure,
            _ratio(week.unsure, week.questions), week.handoffs, _ratio(week.handoffs, len(week.conversations)),
            week.thumbs_up, week.thumbs_down, _ratio(week.thumbs_up, rated),
            week.median_reply_seconds if week.median_reply_seconds is not None else "", week.fallback,
            *[week.topics.get(t, 0) for t in topics],
        ])
    for section in report.sections:
        if section.rows:
            writer.writerow([])
            writer.writerow([section.title])
            writer.writerow(section.headers)
            writer.writerows(section.rows)
    return out.getvalue()


def _ratio(part: int, whole: int) -> str:
    return f"{part / whole:.3f}" if whole else ""


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _change(now: int, before: int) -> str:
    if before == 0:
        return "上周为 0" if now else "持平"
    change = (now - before) / before
    return f"{'+' if change >= 0 else ''}{change * 100:.0f}%"


def weekly_summary(report: Report) -> list[str]:
    """Lines an administrator reads in a minute: the last full week against the week before, and warnings."""
    weeks = report.weeks
    if len(weeks) < 3:
        return ["数据不足两周，暂无周报。"]
    last, before, history = weeks[-2], weeks[-3], weeks[-6:-2]
    end = last.week + dt.timedelta(days=6)
    lines = [f"上周（{last.week.month}月{last.week.day}日—{end.month}月{end.day}日）服务概况："]
    if report.scope.county:
        change = _change(last.questions, before.questions)
        lines.append(f"· 咨询 {last.questions} 次（前一周 {before.questions}，{change}），"
                     f"来自 {len(last.conversations)} 位居民。")
        if last.questions:
            top = "、".join(f"{TOPIC_NAMES.get(t, t)} {_pct(n / last.questions)}"
                           for t, n in last.topics.most_common(4))
            lines.append(f"· 话题：{top}。")
        for topic, count in last.topics.most_common():
            baseline = statistics.mean(w.topics.get(topic, 0) for w in history) if history else 0
            if count >= 5 and count >= 1.5 * max(baseline, 1):
                lines.append(f"· 注意：“{TOPIC_NAMES.get(topic, topic)}”咨询明显增多（{count} 次，前几周平均 "
                             f"{baseline:.1f} 次），可能有纠纷在上升。")
        unsure = _pct(last.unsure / last.questions if last.questions else None)
        lines.append(f"· 没把握回答 {last.unsure} 次（{unsure}）；居民要求转人工 {last.handoffs} 次。")
        rated = last.thumbs_up + last.thumbs_down
        lines.append(f"· 居民评价：👍 {last.thumbs_up} / 👎 {last.thumbs_down}"
                     f"（满意 {_pct(last.thumbs_up / rated if rated else None)}）。")
        if last.fallback:
            lines.append(f"· 对话引擎不可用时直接检索回答 {last.fallback} 次，请检查 Rasa 服务。")
    for section in report.sections:
        if section.summary:
            lines.append(f"· {section.summary}")
    return lines
