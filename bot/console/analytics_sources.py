"""Sections of the dashboard from other records: escalation tickets, legal-aid checks, questions by place.

Tickets come from ``handoff`` (issue #5), decisions from ``bot.eligibility`` (issue #4); questions by place
join the bot's answers to the village a resident told the handoff side (remembered once asked).

Each source is an ``AnalyticsSource``: ``(session, period, scope, names, now) -> Section | None``; it shows
figures of ``bot.console.figures`` (defined there, not here) with codes named by ``bot.console.names``. A
source returns ``None`` when its tables are not there (an older database), so the page still shows the
conversation figures. Counts, shares and village names only — never a resident's text, phone number or name. Tickets
are counted by the console's access rule (``bot.console.access``): an adviser's figures are of the cases
the adviser may open.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from bot.console.analytics import AnalyticsSource, Scope, Section, pct
from bot.console.figures import Period, eligibility_figures, place_figures, ticket_figures
from bot.console.names import Names

if TYPE_CHECKING:
    from handoff.directory import Directory

__all__ = ["DEFAULT_SOURCES", "directory_places", "eligibility_section", "place_name", "places_of", "places_section",
           "service_directory", "tickets_section"]

log = logging.getLogger(__name__)


def _share(part: int, whole: int) -> str:
    return pct(part / whole if whole else None)


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
    """``示例镇示例村`` from the directory.

    ``（未知：code）`` for a code not in it; ``（未说）`` when the resident did not say.
    """
    if not village:
        return "（未说）"
    town, name = scope.places.get(village, ("", f"（未知：{village}）"))
    return town + name




def tickets_section(session: Session, period: Period, scope: Scope, names: Names, now: dt.datetime) -> Section | None:
    """Handoff tickets (``TicketFigures``): how many, why, by village, deadlines kept, the residents' ratings."""
    f = ticket_figures(session, period, scope, now)
    if f is None:
        return None
    response = _share(f.response_on_time, f.response_judged)
    resolution = _share(f.resolution_on_time, f.resolution_judged)
    rating = f"{f.mean_rating:.1f} / 5（{len(f.ratings)} 人评分）" if f.mean_rating is not None else "—"
    median = f.median_first_response_minutes
    kpis = (
        ("转人工工单", str(f.tickets)),
        ("紧急（含危险信号）", str(f.urgent)),
        ("按时首次回复", response),
        ("首次回复中位（分钟）", f"{median:.0f}" if median is not None else "—"),
        ("按时办结", resolution),
        ("仍未办结", str(f.still_open)),
        ("居民评分", rating),
    )
    villages = sorted(f.villages.items(), key=lambda item: (-item[1], item[0]))[:30]
    return Section(
        title="转人工工单" + ("" if scope.county else "（您能办理的案件）"),
        kpis=kpis,
        headers=("村（社区）", "工单", "占比"),
        rows=tuple((place_name(scope, v), str(n), _share(n, f.tickets)) for v, n in villages),
        bars=tuple((names.reason(r), float(n)) for r, n in f.reasons.most_common()) + tuple(
            (f"话题：{names.topic(t)}", float(n)) for t, n in f.topics.most_common()),
        note="期限按工作时间计算（转人工模块设定）；尚未到期且未完成的工单不计入按时比例。",
        summary=(f"转人工工单 {f.tickets} 张：按时首次回复 {response}，按时办结 {resolution}，居民评分 {rating}。"
                 if f.tickets else ""),
    )


def eligibility_section(session: Session, period: Period, scope: Scope, names: Names,
                        now: dt.datetime) -> Section | None:
    """Legal-aid self-checks (``EligibilityFigures``): outcomes and the means test, by matter (county only)."""
    f = eligibility_figures(session, period) if scope.county else None
    if f is None:
        return None
    eligible = _share(f.eligible, f.checks)
    return Section(
        title="法律援助自测结果",
        kpis=(("自测次数", str(f.checks)), (f"{names.decision('eligible')}", eligible),
              *((names.means_test(m), str(n)) for m, n in f.means_tests.most_common(3))),
        headers=("事项", "次数", "占比"),
        rows=tuple((names.matter(m), str(n), _share(n, f.checks)) for m, n in f.matters.most_common()),
        bars=tuple((names.decision(d), float(n)) for d, n in f.decisions.most_common()),
        summary=f"法律援助自测 {f.checks} 次，其中{names.decision('eligible')} {eligible}。" if f.checks else "",
    )


def places_section(session: Session, period: Period, scope: Scope, names: Names, now: dt.datetime) -> Section | None:
    """Questions answered by the resident's village and town (``PlaceFigures``, 热点区域).

    A village is known once a resident has told it (asked when they first wanted a person); the share of
    questions from residents whose village is known is shown, so the table is not read as the whole county.
    """
    f = place_figures(session, period, scope.villages)
    if f is None:
        return None
    towns = f.towns(scope.places)
    villages = sorted(f.villages.items(), key=lambda item: (-item[1], item[0]))
    rows = tuple((place_name(scope, v), str(n), _share(n, f.known),
                  "、".join(names.topic(t) for t, _ in f.topics[v].most_common(2))) for v, n in villages[:30])
    top = "，".join(f"{place_name(scope, v)} {n} 个" for v, n in villages[:3])
    return Section(
        title="咨询的村（社区）和乡镇" + ("" if scope.county else "（您负责的村）"),
        kpis=(("已知村的咨询", str(f.known)), ("占全部咨询", _share(f.known, f.questions)),
              *((f"乡镇：{town or '（未配置的乡镇）'}", str(n)) for town, n in towns.most_common(3))),
        headers=("村（社区）", "咨询", "占比", "主要话题"),
        rows=rows,
        bars=tuple((town or "（未配置的乡镇）", float(n)) for town, n in towns.most_common()),
        note="只统计说过自己村的居民（第一次转人工时会问，记住以后不再问）；没说过村的咨询不在表内。",
        summary=(f"咨询最多的村：{top}（只含说过村的居民，占全部咨询 {_share(f.known, f.questions)}）。"
                 if f.known else ""),
    )


DEFAULT_SOURCES: tuple[AnalyticsSource, ...] = (places_section, tickets_section, eligibility_section)
