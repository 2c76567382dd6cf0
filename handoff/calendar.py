"""The working calendar: office hours, weekends and statutory holidays, from the editable directory file.

Statutory holidays (法定节假日) and the weekend days worked in exchange (调休上班) are published each year
by the State Council General Office ("国务院办公厅关于××年部分节假日安排的通知"); they are configured per
year by an editor and never guessed. For a year that is not configured the calendar falls back to
Monday–Friday and says so (``unconfigured_years``), so deadlines stay computable and the gap is visible
in the console and in ``lawline handoff check``.

A ``DutySchedule`` is anything that yields the on-duty periods of a day: the calendar's office hours
(village advisers, town stations) or the hotline duty roster (``handoff.roster``). Deadlines "in duty
hours" are counted with ``add_duty_minutes`` over such a schedule.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from handoff._yaml import Mapping, Reader

__all__ = [
    "DutySchedule",
    "WorkingCalendar",
    "add_duty_minutes",
    "duty_minutes_between",
    "is_on_duty",
    "next_duty_start",
    "parse_calendar",
    "parse_ranges",
]

_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
Range = tuple[int, int]  # minutes after midnight, end exclusive (1440 = midnight at the end of the day)
Period = tuple[dt.datetime, dt.datetime]
HORIZON_DAYS = 60


class DutySchedule(Protocol):
    """When someone is on duty."""

    @property
    def tz(self) -> ZoneInfo:
        """The local time zone of the periods."""
        ...

    def periods(self, day: dt.date) -> list[Period]:
        """The on-duty periods of ``day`` (aware datetimes, in order, not overlapping)."""
        ...


def parse_ranges(reader: Reader, values: Iterable[object], line: int, where: str) -> tuple[Range, ...]:
    """``["09:00-12:00", "14:00-17:30"]`` → minute ranges; problems reported at ``line``."""
    ranges: list[Range] = []
    for value in values:
        match = _RANGE.match(value) if isinstance(value, str) else None
        if match is None:
            reader.problem(line, f"{where}: {value!r} is not a time range; write it in quotes like \"09:00-12:00\"")
            continue
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if h1 > 23 or m1 > 59 or m2 > 59 or end > 1440 or end <= start:
            reader.problem(line, f"{where}: {value!r} must run forward within one day (00:00-24:00)")
            continue
        ranges.append((start, end))
    ranges.sort()
    for (_, end), (start, _) in zip(ranges, ranges[1:], strict=False):
        if start < end:
            reader.problem(line, f"{where}: time ranges overlap")
            break
    return tuple(ranges)


def _at(day: dt.date, minutes: int, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=tz) + dt.timedelta(minutes=minutes)


@dataclass(frozen=True, slots=True)
class _Year:
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]


@dataclass(frozen=True, slots=True)
class WorkingCalendar:
    """Office hours on working days; which days are working days (weekends, holidays, 调休)."""

    tz: ZoneInfo
    office_hours: tuple[Range, ...] = ()
    rest_day_hours: tuple[Range, ...] = ()
    years: dict[int, _Year] = field(default_factory=dict)

    @property
    def configured(self) -> bool:
        """False when no office hours are configured (then nobody is ever "in office" by the calendar)."""
        return bool(self.office_hours)

    def year_configured(self, year: int) -> bool:
        return year in self.years

    def unconfigured_years(self, start: dt.date, end: dt.date) -> list[int]:
        """Years between ``start`` and ``end`` whose holidays nobody has entered."""
        return [y for y in range(start.year, end.year + 1) if y not in self.years]

    def is_working_day(self, day: dt.date) -> bool:
        """Holidays off, 调休 weekend days on; Monday–Friday for a year that is not configured."""
        year = self.years.get(day.year)
        if year is not None:
            if day in year.holidays:
                return False
            if day in year.workdays:
                return True
        return day.weekday() < 5

    def periods(self, day: dt.date) -> list[Period]:
        ranges = self.office_hours if self.is_working_day(day) else self.rest_day_hours
        return [(_at(day, s, self.tz), _at(day, e, self.tz)) for s, e in ranges]


def parse_calendar(reader: Reader, node: Mapping) -> WorkingCalendar:
    """The ``calendar:`` section (see handoff/data/README.md)."""
    reader.check_keys(node, {"timezone", "office_hours", "rest_day_hours", "years"}, "calendar")
    name = reader.text(node, "timezone", required=False) or "Asia/Shanghai"
    try:
        tz = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        reader.problem(reader.line_of(node, "timezone"), f"unknown time zone {name!r}")
        tz = ZoneInfo("Asia/Shanghai")
    office = parse_ranges(reader, reader.sequence(node, "office_hours"), reader.line_of(node, "office_hours"),
                          "office_hours")
    rest = parse_ranges(reader, reader.sequence(node, "rest_day_hours"), reader.line_of(node, "rest_day_hours"),
                        "rest_day_hours")
    years: dict[int, _Year] = {}
    years_node = reader.mapping(node, "years", required=False)
    for key, entry in years_node.items():
        line = reader.line_of(years_node, key)
        if not key.isdigit() or not 2000 <= int(key) <= 2100:
            reader.problem(line, f"year {key!r} must be a year like 2027")
            continue
        if not isinstance(entry, Mapping):
            reader.problem(line, f"year {key}: give 'holidays' and 'workdays' lists")
            continue
        reader.check_keys(entry, {"holidays", "workdays", "source"}, f"year {key}")
        if reader.text(entry, "source", required=True) is None:
            continue
        days: dict[str, frozenset[dt.date]] = {}
        for part in ("holidays", "workdays"):
            items = reader.sequence(entry, part, required=part == "holidays")
            parsed = {reader.day(v, reader.line_of(items, i)) for i, v in enumerate(items)}
            for day in sorted(d for d in parsed if d is not None and d.year != int(key)):
                reader.problem(reader.line_of(entry, part), f"{day} is not in year {key}")
            days[part] = frozenset(d for d in parsed if d is not None)
        both = days["holidays"] & days["workdays"]
        if both:
            reader.problem(line, f"year {key}: {min(both)} is both a holiday and a working day")
        years[int(key)] = _Year(days["holidays"], days["workdays"])
    return WorkingCalendar(tz=tz, office_hours=office, rest_day_hours=rest, years=years)


def _local(schedule: DutySchedule, at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(schedule.tz)


def is_on_duty(schedule: DutySchedule, at: dt.datetime) -> bool:
    """True when ``at`` falls in one of the schedule's duty periods."""
    local = _local(schedule, at)
    return any(start <= local < end for start, end in schedule.periods(local.date()))


def _periods_from(schedule: DutySchedule, at: dt.datetime, days: int = HORIZON_DAYS) -> Iterable[Period]:
    local = _local(schedule, at)
    for offset in range(-1, days):
        for start, end in schedule.periods(local.date() + dt.timedelta(days=offset)):
            if end > local:
                yield max(start, local), end


def next_duty_start(schedule: DutySchedule, at: dt.datetime) -> dt.datetime | None:
    """``at`` itself when on duty, else the start of the next duty period (None: none within 60 days); UTC."""
    for start, _end in _periods_from(schedule, at):
        return start.astimezone(dt.UTC)
    return None


def add_duty_minutes(schedule: DutySchedule, start: dt.datetime, minutes: float) -> dt.datetime | None:
    """The moment ``minutes`` of duty time after ``start`` (UTC; None: the schedule has no duty within 60 days)."""
    left = dt.timedelta(minutes=minutes)
    for period_start, period_end in _periods_from(schedule, start):
        span = period_end - period_start
        if span >= left:
            return (period_start + left).astimezone(dt.UTC)
        left -= span
    return None


def duty_minutes_between(schedule: DutySchedule, start: dt.datetime, end: dt.datetime) -> float:
    """Duty minutes elapsed between ``start`` and ``end``."""
    total = dt.timedelta()
    end_local = _local(schedule, end)
    for period_start, period_end in _periods_from(schedule, start):
        if period_start >= end_local:
            break
        total += min(period_end, end_local) - period_start
    return total.total_seconds() / 60
