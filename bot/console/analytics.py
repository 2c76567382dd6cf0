"""Service analytics: the dashboard's report, its CSV and the weekly summary, from ``bot.console.figures``.

Counts, never texts: a question is counted by the answer Lawline gave it (its topic, whether it was sure,
whether the resident was handed to a person or rated it), so no personal data enters a report, a chart, the
CSV or the weekly summary. Every number shown is a figure defined in ``bot.console.figures``; codes are
named by ``bot.console.names``. Other records (tickets, legal-aid checks, places) plug in as
``AnalyticsSource`` functions returning a ``Section`` (``bot.console.analytics_sources``).

Weeks are Monday to Sunday, Beijing time; the report covers ``weeks`` weeks up to and including the current
one, and the weekly summary is the last full week (against the week before), whatever the server's timezone.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.console.auth import utcnow
from bot.console.figures import TZ, MessageFigures, Period, message_figures, week_of, week_period
from bot.console.models import RetrievalJudgement
from bot.console.names import TOPIC_NAMES, Names

if TYPE_CHECKING:
    from bot.console.hotspots import HotSpot

__all__ = ["TZ", "AnalyticsSource", "Report", "Scope", "Section", "build_report", "pct", "report_csv",
           "weekly_summary"]


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
    summary: str = ""  # one line for the weekly summary (of the period the section was made for)


AnalyticsSource = Callable[[Session, Period, Scope, Names, dt.datetime], Section | None]


@dataclass
class Report:
    """Everything the analytics page, the CSV and the weekly summary show."""

    period: Period
    scope: Scope
    names: Names
    weeks: list[MessageFigures]  # one per week, oldest first; the last is the current week (so far)
    total: MessageFigures  # the whole period (residents are counted once, not once a week)
    sections: list[Section]
    summary: list[str]  # the weekly summary: the last full week
    hot_spots: list[HotSpot] = field(default_factory=list)  # this week so far, then the last full week
    warned: set[tuple[dt.date, str, str]] = field(default_factory=set)  # (week, kind, code) sent to the robot
    open_feedback: int = 0

    @property
    def start(self) -> dt.date:
        return self.period.start

    @property
    def end(self) -> dt.date:
        return self.period.end


def pct(value: float | None) -> str:
    """A share as shown everywhere: ``40%``, or ``—`` when there is nothing to divide by."""
    return "—" if value is None else f"{value * 100:.0f}%"


def build_report(session: Session, *, weeks: int = 12, now: dt.datetime | None = None, scope: Scope | None = None,
                 names: Names | None = None, sources: Sequence[AnalyticsSource] = ()) -> Report:
    """Figures for the ``weeks`` weeks up to and including the current one, and the weekly summary."""
    from bot.console.hotspots import hot_spots, load_thresholds, sent_warnings

    scope = scope or Scope()
    names = names or Names()
    now = now or utcnow()
    this_week = week_of(now)
    first = this_week - dt.timedelta(weeks=weeks - 1)
    periods = [week_period(first + dt.timedelta(weeks=i)) for i in range(weeks)]
    whole = week_period(first, weeks)
    if scope.county:
        rows = message_figures(session, periods)
        total = message_figures(session, [whole])[0]
        open_feedback = int(session.scalar(select(func.count()).select_from(RetrievalJudgement)) or 0)
    else:
        rows, total, open_feedback = [MessageFigures(p) for p in periods], MessageFigures(whole), 0
    sections = [s for s in (source(session, whole, scope, names, now) for source in sources) if s is not None]
    last = this_week - dt.timedelta(weeks=1)
    before, last_figures = message_figures(session, [week_period(last - dt.timedelta(weeks=1)), week_period(last)])
    spots: dict[dt.date, list[HotSpot]] = {week: [] for week in (this_week, last)}
    warned = set()
    if scope.county:
        thresholds = load_thresholds()
        for week in spots:
            spots[week] = hot_spots(session, week, scope.places, names, thresholds)
            warned |= {(week, kind, code) for kind, code in sent_warnings(session, week)}
    last_sections = [s for s in (source(session, week_period(last), scope, names, now) for source in sources)
                     if s is not None]
    summary = weekly_summary(scope, names, last_figures, before, last_sections, [s.text for s in spots[last]])
    return Report(whole, scope, names, rows, total, sections, summary, spots[this_week] + spots[last], warned,
                  open_feedback)


def _change(now: int, before: int) -> str:
    if before == 0:
        return "前一周为 0" if now else "持平"
    change = (now - before) / before
    return f"{'+' if change >= 0 else ''}{change * 100:.0f}%"


def weekly_summary(scope: Scope, names: Names, last: MessageFigures, before: MessageFigures,
                   sections: Sequence[Section], hot: Sequence[str]) -> list[str]:
    """Lines an administrator reads in a minute: the last full week against the week before, and warnings.

    ``sections`` and ``hot`` are of the same week as ``last``: nothing of the current week enters.
    """
    start, end = last.period.start, last.period.last_day
    lines = [f"上周（{start.month}月{start.day}日—{end.month}月{end.day}日，北京时间）服务概况："]
    if scope.county:
        change = _change(last.questions, before.questions)
        lines.append(f"· 咨询 {last.questions} 次（前一周 {before.questions}，{change}），"
                     f"{last.conversations} 位居民来问。")
        if last.questions:
            top = "、".join(f"{names.topic(t)} {pct(n / last.questions)}" for t, n in last.topics.most_common(4))
            lines.append(f"· 话题：{top}。")
        lines.extend(f"· 注意：{text}" for text in hot)
        lines.append(f"· 没把握回答 {last.unsure} 次（{pct(last.unsure_rate)}）；转人工 {last.handed} 位居民"
                     f"（{pct(last.handoff_rate)} 的来问居民）。")
        lines.append(f"· 居民评价：👍 {last.thumbs_up} / 👎 {last.thumbs_down}（满意 {pct(last.satisfaction)}）。")
        if last.fallback:
            lines.append(f"· 对话引擎不可用时直接检索回答 {last.fallback} 次，请检查 Rasa 服务。")
    lines.extend(f"· {section.summary}" for section in sections if section.summary)
    return lines


def report_csv(report: Report) -> str:
    """One line per week: counts, rates and questions per topic (UTF-8 with BOM, so Excel opens it)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    topics = list(TOPIC_NAMES)
    writer.writerow(["周（周一，北京时间）", "咨询数", "来问居民", "没把握", "没把握比例", "转人工居民", "转人工率",
                     "👍", "👎", "满意度", "应答中位秒数", "检索直答（引擎不可用）",
                     *[f"话题：{report.names.topic(t)}" for t in topics]])
    for week in report.weeks:
        writer.writerow([
            week.period.label, week.questions, week.conversations, week.unsure, _ratio(week.unsure_rate),
            week.handed, _ratio(week.handoff_rate), week.thumbs_up, week.thumbs_down, _ratio(week.satisfaction),
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


def _ratio(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else ""

