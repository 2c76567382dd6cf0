"""热点预警: a topic, village or town whose questions rise sharply week over week (the seeds' 热点问题、热点区域预警).

The rule, with thresholds per kind in ``bot/data/hotspots.yaml`` (administrators change the data, not code):
a subject is hot in week W (Monday–Sunday, Beijing time) when its count in W so far is at least ``min_count``
and at least ``ratio`` × its count in the whole week before. Counts come from ``bot.console.figures``: a topic's
answers to questions (``MessageFigures.topics``); a village's or a town's answers to residents whose village
is known (``PlaceFigures``). Comparing a week so far with a whole week only errs towards silence, so a
warning can go out mid-week, as soon as the rise is clear, and stays true until Sunday.

The dashboard shows the hot spots of this week and of the last full week. Sending is not done by a page
view: ``lawline console warn`` (a timer runs it, e.g. hourly) puts each new warning into the handoff robot
outbox (``handoff.robot.enqueue_robot_message``) for the supervisor's work group, else the 12348 group — the
group complaints and overdue cases go to (``handoff.routing.supervisor_group``) — and records it in
``analytics_hotspot_warnings`` in the same transaction, so each warning is sent once per week whatever the
number of runs; the app's robot worker delivers it to the configured webhook.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.console.figures import Period, message_figures, place_figures, week_period
from bot.console.models import HotSpotWarning
from bot.console.names import Names

__all__ = ["HOTSPOTS_FILE", "KINDS", "HotSpot", "Threshold", "hot_spots", "is_hot", "load_thresholds",
           "send_warnings", "sent_warnings"]

HOTSPOTS_FILE = Path(__file__).resolve().parents[1] / "data" / "hotspots.yaml"
KINDS = ("topic", "village", "town")
KIND_NAMES = {"topic": "问题", "village": "村（社区）", "town": "乡镇"}


@dataclass(frozen=True, slots=True)
class Threshold:
    """Hot when this week ≥ ``min_count`` and ≥ ``ratio`` × last week."""

    min_count: int
    ratio: float


def load_thresholds(path: Path = HOTSPOTS_FILE) -> dict[str, Threshold]:
    """The thresholds per kind; a missing or malformed entry fails with the file and key."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out = {}
    for kind in KINDS:
        entry = data.get(kind) or {}
        try:
            out[kind] = Threshold(int(entry["min_count"]), float(entry["ratio"]))
        except (TypeError, KeyError, ValueError):
            raise ValueError(f"{path}: {kind} needs min_count (a whole number) and ratio (a number)") from None
        if out[kind].min_count < 1 or out[kind].ratio < 1:
            raise ValueError(f"{path}: {kind}: min_count and ratio must be at least 1")
    return out


def is_hot(count: int, previous: int, threshold: Threshold) -> bool:
    """The rule: ``count >= min_count`` and ``count >= ratio * previous``."""
    return count >= threshold.min_count and count >= threshold.ratio * previous


@dataclass(frozen=True, slots=True)
class HotSpot:
    """One subject that rose: ``count`` in the week of ``period`` (so far) against ``previous`` the week before."""

    period: Period
    kind: str
    code: str
    name: str
    count: int
    previous: int

    @property
    def text(self) -> str:
        first, last = self.period.start, self.period.last_day
        return (f"{KIND_NAMES[self.kind]}“{self.name}”咨询明显增多：{first.month}月{first.day}日"
                f"—{last.month}月{last.day}日 {self.count} 次，前一周 {self.previous} 次。")


def hot_spots(session: Session, week: dt.date, places: dict[str, tuple[str, str]], names: Names,
              thresholds: dict[str, Threshold]) -> list[HotSpot]:
    """The hot spots of the week starting on Monday ``week``, largest first within each kind."""
    before, this = week_period(week - dt.timedelta(weeks=1)), week_period(week)
    earlier, now = message_figures(session, [before, this])
    counts: dict[str, tuple[Counter[str], Counter[str]]] = {"topic": (now.topics, earlier.topics)}
    place_now, place_before = place_figures(session, this, None), place_figures(session, before, None)
    if place_now is not None and place_before is not None:
        counts["village"] = (place_now.villages, place_before.villages)
        counts["town"] = (+place_now.towns(places), +place_before.towns(places))
        counts["town"][0].pop("", None)  # villages not in the directory have no town
    out = []
    for kind, (current, previous) in counts.items():
        for code, n in sorted(current.items(), key=lambda item: (-item[1], item[0])):
            if is_hot(n, previous.get(code, 0), thresholds[kind]):
                out.append(HotSpot(this, kind, code, _name(kind, code, places, names), n, previous.get(code, 0)))
    return out


def _name(kind: str, code: str, places: dict[str, tuple[str, str]], names: Names) -> str:
    if kind == "topic":
        return names.topic(code)
    if kind == "village":
        town, village = places.get(code, ("", f"（未知：{code}）"))
        return town + village
    return code  # a town is counted by its name


def sent_warnings(session: Session, week: dt.date) -> set[tuple[str, str]]:
    """(kind, code) of the warnings already sent for the week starting ``week``."""
    return {(k, c) for k, c in session.execute(select(HotSpotWarning.kind, HotSpotWarning.code)
                                               .where(HotSpotWarning.week == week))}


def send_warnings(session: Session, spots: list[HotSpot], group_id: str, now: dt.datetime, *,
                  sample: bool = False) -> list[HotSpot]:
    """Put the warnings not sent yet into the robot outbox for ``group_id`` (the caller's transaction)."""
    from handoff.robot import enqueue_robot_message

    new = []
    done: dict[dt.date, set[tuple[str, str]]] = {}
    for spot in spots:
        week = spot.period.start
        seen = done.setdefault(week, sent_warnings(session, week))
        if (spot.kind, spot.code) in seen:
            continue
        seen.add((spot.kind, spot.code))
        session.add(HotSpotWarning(week=week, kind=spot.kind, code=spot.code, count=spot.count,
                                   previous=spot.previous, group_id=group_id, created_at=now))
        mark = "【演示数据】" if sample else ""
        enqueue_robot_message(session, group_id, "note",
                              f"### {mark}热点预警\n> {spot.text}\n请登录工作台“数据分析”查看。", None, now)
        new.append(spot)
    session.flush()  # a second run at the same moment fails here on the unique constraint, not silently
    return new
