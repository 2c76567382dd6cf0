"""The hotline lawyers' duty roster (值班表): who answers escalations to the 12348 hotline, and when.

Shifts repeat by day kind (``workdays``, ``rest_days`` — weekends and statutory holidays by the working
calendar — or ``all``) or fall on given ``dates`` (a holiday's special shift). Outside every shift the
hotline lawyers are off duty: the resident gets self-help and a callback booked into the next period.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from handoff._yaml import Mapping, Reader
from handoff.calendar import Period, Range, WorkingCalendar, parse_ranges

__all__ = ["DutyRoster", "Shift", "parse_roster"]

_DAY_KINDS = ("workdays", "rest_days", "all")


@dataclass(frozen=True, slots=True)
class Shift:
    """People on duty during ``hours`` on the days given by ``days`` or ``dates``."""

    days: str | None
    dates: frozenset[dt.date]
    hours: tuple[Range, ...]
    people: tuple[str, ...]

    def applies(self, day: dt.date, calendar: WorkingCalendar) -> bool:
        if self.dates:
            return day in self.dates
        if self.days == "all":
            return True
        return (self.days == "workdays") == calendar.is_working_day(day)


@dataclass(frozen=True, slots=True)
class DutyRoster:
    """The shifts; also a ``DutySchedule`` (periods when at least one lawyer is on duty)."""

    calendar: WorkingCalendar
    shifts: tuple[Shift, ...] = ()

    @property
    def tz(self) -> ZoneInfo:
        return self.calendar.tz

    @property
    def configured(self) -> bool:
        return any(shift.people for shift in self.shifts)

    def _day_shifts(self, day: dt.date) -> list[Shift]:
        dated = [s for s in self.shifts if s.dates and day in s.dates]
        return dated or [s for s in self.shifts if not s.dates and s.applies(day, self.calendar)]

    def periods(self, day: dt.date) -> list[Period]:
        minutes = sorted(r for shift in self._day_shifts(day) if shift.people for r in shift.hours)
        merged: list[list[int]] = []
        for start, end in minutes:
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        base = dt.datetime.combine(day, dt.time(), tzinfo=self.calendar.tz)
        return [(base + dt.timedelta(minutes=s), base + dt.timedelta(minutes=e)) for s, e in merged]

    def on_duty(self, at: dt.datetime) -> tuple[str, ...]:
        """Ids of the people on duty at ``at`` (in roster order, without repeats)."""
        local = at.astimezone(self.calendar.tz)
        minute = local.hour * 60 + local.minute
        people: list[str] = []
        for shift in self._day_shifts(local.date()):
            if any(s <= minute < e for s, e in shift.hours):
                people += [p for p in shift.people if p not in people]
        return tuple(people)


def parse_roster(reader: Reader, node: Mapping, calendar: WorkingCalendar) -> DutyRoster:
    """The ``roster:`` section: ``shifts: [{days|dates, hours, people}]``."""
    reader.check_keys(node, {"shifts"}, "roster")
    shifts = []
    items = reader.sequence(node, "shifts")
    for index, item in enumerate(items):
        line = reader.line_of(items, index)
        if not isinstance(item, Mapping):
            reader.problem(line, "a shift must be a mapping with days (or dates), hours and people")
            continue
        reader.check_keys(item, {"days", "dates", "hours", "people"}, "shift")
        days = item.get("days")
        date_items = reader.sequence(item, "dates")
        dates = {reader.day(v, reader.line_of(date_items, i)) for i, v in enumerate(date_items)}
        if (days is None) == (not date_items):
            reader.problem(line, f"a shift needs either 'days' ({', '.join(_DAY_KINDS)}) or 'dates'")
        elif days is not None and days not in _DAY_KINDS:
            reader.problem(reader.line_of(item, "days"), f"'days' must be one of {', '.join(_DAY_KINDS)}")
        hours = parse_ranges(reader, reader.sequence(item, "hours", required=True), reader.line_of(item, "hours"),
                             "hours")
        shifts.append(Shift(days=days if isinstance(days, str) else None,
                            dates=frozenset(d for d in dates if d is not None), hours=hours,
                            people=reader.texts(item, "people")))
    return DutyRoster(calendar=calendar, shifts=tuple(shifts))
