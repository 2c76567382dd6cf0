"""Analytics from other records: escalation tickets and legal-aid eligibility decisions.

Tickets come from ``handoff`` (issue #5), decisions from ``bot.eligibility`` (issue #4); questions by place
join the bot's answers to the village a resident told the handoff side (remembered once asked).

Each source is an ``AnalyticsSource``: ``(session, start, end, scope) -> Section | None``. A source returns
``None`` when its tables are not there (an older database), so the page still shows the conversation
figures. Counts, shares and village names only — never a resident's text, phone number or name. Tickets
are counted by the console's access rule (``bot.console.access``): an adviser's figures are of the cases
the adviser may open.
"""

from __future__ import annotations

import datetime as dt
import logging
import statistics
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from bot.console.analytics import TOPIC_NAMES, AnalyticsSource, Scope, Section, is_question_answer, topic_of
from bot.console.auth import aware
from bot.models import Conversation, Message

if TYPE_CHECKING:
    from handoff.directory import Directory

__all__ = ["DEFAULT_SOURCES", "directory_places", "eligibility_section", "place_name", "places_of", "places_section",
           "service_directory", "tickets_section"]

log = logging.getLogger(__name__)

DECISION_NAMES = {"eligible": "可以申请", "not_eligible": "不符合条件", "needs_review": "需要人工审查"}
MEANS_NAMES = {"exempt": "免予经济困难审查", "passed": "经济困难审查通过", "not_required": "不需要经济困难审查",
               "failed": "经济困难审查未通过", "unknown": "信息不足"}


def _has(session: Session, table: str) -> bool:
    return inspect(session.get_bind()).has_table(table)


def _share(part: int, whole: int) -> str:
    return f"{part / whole * 100:.0f}%" if whole else "—"


def service_directory(path: Path) -> Directory | None:
    """The service directory, or None (logged) when it does not load: figures then show village codes."""
    from handoff.directory import load_directory
    from handoff.errors import DirectoryError

    try:
        return load_directory(path)
    except (DirectoryError, OSError) as exc:
        log.warning("analytics: service directory not loaded (%s); villages are shown by code", type(exc).__name__)
        return None


def places_of(directory: Directory) -> dict[str, tuple[str, str]]:
    """Village code → (town name, village name)."""
    return {v.code: (getattr(directory.place(v.parent), "name", ""), v.name) for v in directory.villages()}


def directory_places(path: Path) -> dict[str, tuple[str, str]]:
    """Village code → (town name, village name) from the service directory; empty if it does not load."""
    directory = service_directory(path)
    return places_of(directory) if directory is not None else {}


def place_name(scope: Scope, village: str | None) -> str:
    """``示例镇示例村`` from the directory, else the code; ``（未知）`` when the resident did not say."""
    if not village:
        return "（未知）"
    town, name = scope.places.get(village, ("", village))
    return town + name


def _on_time(done: dt.datetime | None, due: dt.datetime | None, now: dt.datetime) -> bool | None:
    """True/False when the deadline can be judged (done, or already overdue); None while still open in time."""
    if due is None:
        return None
    if done is not None:
        return aware(done) <= aware(due)
    return False if aware(due) < now else None


def tickets_section(session: Session, start: dt.datetime, end: dt.datetime, scope: Scope) -> Section | None:
    """Handoff tickets: how many, why, by village, response and resolution against deadlines, ratings."""
    if not _has(session, "handoff_tickets"):
        return None
    from bot.console.access import case_filter
    from handoff.cards import REASONS
    from handoff.models import Ticket

    query = (select(Ticket).where(Ticket.created_at >= start, Ticket.created_at < end, case_filter(scope))
             .order_by(Ticket.id))  # ties rank the same on every run, whichever rows were updated since
    tickets = list(session.scalars(query))
    now = dt.datetime.now(dt.UTC)
    responded = [_on_time(t.first_response_at, t.first_response_due, now) for t in tickets]
    resolved = [_on_time(t.closed_at, t.resolution_due, now) for t in tickets]
    minutes = [(aware(t.first_response_at) - aware(t.created_at)).total_seconds() / 60 for t in tickets
               if t.first_response_at is not None]
    ratings = [t.rating for t in tickets if t.rating is not None]
    judged_response = [r for r in responded if r is not None]
    judged_resolution = [r for r in resolved if r is not None]
    reasons = Counter(REASONS.get(t.reason, t.reason) for t in tickets)
    villages = Counter(place_name(scope, t.village) for t in tickets)
    topics = Counter(TOPIC_NAMES.get(t.topic or "other", t.topic or "其他") for t in tickets)
    response_share = _share(sum(judged_response), len(judged_response))
    resolution_share = _share(sum(judged_resolution), len(judged_resolution))
    rating = f"{statistics.mean(ratings):.1f} / 5（{len(ratings)} 人评分）" if ratings else "—"
    kpis = (
        ("转人工工单", str(len(tickets))),
        ("紧急（含危险信号）", str(sum(1 for t in tickets if t.urgent))),
        ("按时首次回复", response_share),
        ("首次回复中位（分钟）", f"{statistics.median(minutes):.0f}" if minutes else "—"),
        ("按时办结", resolution_share),
        ("仍未办结", str(sum(1 for t in tickets if t.state != "closed"))),
        ("居民评分", rating),
    )
    rows = tuple((village, str(n), _share(n, len(tickets))) for village, n in villages.most_common(30))
    summary = (f"转人工工单 {len(tickets)} 张：按时首次回复 {response_share}，按时办结 {resolution_share}，"
               f"居民评分 {rating}。") if tickets else ""
    return Section(
        title="转人工工单" + ("" if scope.county else "（您能办理的案件）"),
        kpis=kpis,
        headers=("村（社区）", "工单", "占比"),
        rows=rows,
        bars=tuple((reason, float(n)) for reason, n in reasons.most_common()) + tuple(
            (f"话题：{topic}", float(n)) for topic, n in topics.most_common()),
        note="期限按工作时间计算（转人工模块设定）；尚未到期且未完成的工单不计入按时比例。",
        summary=summary,
    )


def eligibility_section(session: Session, start: dt.datetime, end: dt.datetime, scope: Scope) -> Section | None:
    """Legal-aid self-checks: outcomes and the means test, by matter (county-wide only: no village)."""
    if not scope.county or not _has(session, "eligibility_decisions"):
        return None
    from bot.eligibility.models import EligibilityDecision

    rows = session.execute(select(EligibilityDecision.decision, EligibilityDecision.means_test,
                                  EligibilityDecision.matter)
                           .where(EligibilityDecision.created_at >= start, EligibilityDecision.created_at < end)
                           .order_by(EligibilityDecision.id)).all()
    decisions = Counter(DECISION_NAMES.get(d, d) for d, _, _ in rows)
    means = Counter(MEANS_NAMES.get(m, m) for _, m, _ in rows)
    matters = Counter(m for _, _, m in rows)
    eligible = sum(1 for d, _, _ in rows if d == "eligible")
    return Section(
        title="法律援助自测结果",
        kpis=(("自测次数", str(len(rows))), ("可以申请", _share(eligible, len(rows))),
              *((name, str(n)) for name, n in means.most_common(3))),
        headers=("事项", "次数"),
        rows=tuple((matter, str(n)) for matter, n in matters.most_common()),
        bars=tuple((name, float(n)) for name, n in decisions.most_common()),
        summary=f"法律援助自测 {len(rows)} 次，其中可以申请 {_share(eligible, len(rows))}。" if rows else "",
    )


def places_section(session: Session, start: dt.datetime, end: dt.datetime, scope: Scope) -> Section | None:
    """Questions answered by the resident's village and town (热点区域), when the village is known.

    A village is known once a resident has told it (asked when they first wanted a person); the share of
    questions from residents whose village is known is shown, so the table is not read as the whole county.
    """
    if not _has(session, "handoff_residents"):
        return None
    from handoff.models import ResidentProfile

    query = (select(Message.meta, ResidentProfile.village)
             .join(Conversation, Conversation.id == Message.conversation_id)
             .outerjoin(ResidentProfile, ResidentProfile.conversation_key == Conversation.key)
             .where(Message.direction == "out", Message.created_at >= start, Message.created_at < end)
             .order_by(Message.id))
    if not scope.county:
        query = query.where(ResidentProfile.village.in_(scope.villages or ()))
    villages: Counter[str] = Counter()
    towns: Counter[str] = Counter()
    topics: dict[str, Counter[str]] = {}
    total = 0
    for meta, village in session.execute(query):
        meta = meta or {}
        if not is_question_answer(meta):
            continue
        total += 1
        if not village:
            continue
        name = place_name(scope, village)
        villages[name] += 1
        towns[scope.places.get(village, ("（未配置的乡镇）", ""))[0] or "（未配置的乡镇）"] += 1
        topics.setdefault(name, Counter())[topic_of(meta)] += 1
    known = sum(villages.values())
    rows = tuple((name, str(n), _share(n, known), "、".join(TOPIC_NAMES.get(t, t) for t, _ in
                                                          topics[name].most_common(2)))
                 for name, n in villages.most_common(30))
    top = "，".join(f"{name} {n} 个" for name, n in villages.most_common(3))
    return Section(
        title="咨询的村（社区）和乡镇" + ("" if scope.county else "（您负责的村）"),
        kpis=(("已知村的咨询", str(known)), ("占全部咨询", _share(known, total)),
              *((f"乡镇：{town}", str(n)) for town, n in towns.most_common(3))),
        headers=("村（社区）", "咨询", "占比", "主要话题"),
        rows=rows,
        bars=tuple((town, float(n)) for town, n in towns.most_common()),
        note="只统计说过自己村的居民（第一次转人工时会问，记住以后不再问）；没说过村的咨询不在表内。",
        summary=f"咨询最多的村：{top}（只含说过村的居民，占全部咨询 {_share(known, total)}）。" if known else "",
    )


DEFAULT_SOURCES: tuple[AnalyticsSource, ...] = (places_section, tickets_section, eligibility_section)
