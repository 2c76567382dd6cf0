"""Who gets an escalation: the village's legal adviser or the 12348 hotline lawyer on duty, and when.

- A village with an adviser goes to that adviser's work group during office hours (the working calendar).
- Otherwise, or when the adviser is off and the hotline is on duty, to the hotline duty group, suggesting
  an on-duty lawyer whose specialty fits the topic (labour, family/support, land, general civil).
- Danger (``urgent``) goes to whoever is on duty now — the hotline first — and the village adviser's group
  gets a copy.
- When nobody is on duty the route names the earliest next duty period: the resident gets self-help now
  and, with consent, a callback booked into that period.
- What is for the people in charge (a complaint, an overdue case, a hot-spot warning) goes to
  ``supervisor_group``: the supervisor's work group, else the hotline group.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from handoff.calendar import DutySchedule, is_on_duty, next_duty_start
from handoff.directory import TOPIC_SPECIALTY, Directory

__all__ = ["Route", "Router", "supervisor_group"]


def supervisor_group(directory: Directory) -> str | None:
    """The group of the people in charge: the supervisor's, else the hotline's (someone on duty answers for it)."""
    supervisor = directory.person(directory.supervisor)
    return (supervisor.group if supervisor is not None else None) or directory.hotline_group


@dataclass(frozen=True, slots=True)
class Route:
    """Where a ticket goes. ``on_duty`` False with ``next_duty`` None means nothing is configured."""

    target: str  # adviser | hotline | legal_aid | mediation
    group_id: str | None
    assignee: str | None
    on_duty: bool
    next_duty: dt.datetime | None
    copy_groups: tuple[str, ...] = ()

    @property
    def configured(self) -> bool:
        return self.group_id is not None and (self.on_duty or self.next_duty is not None)


class Router:
    """Routes with the directory's people, calendar and roster."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def schedule(self, target: str) -> DutySchedule:
        """Duty time of a target: office hours for advisers and centres, the roster for the hotline."""
        return self.directory.roster if target == "hotline" else self.directory.calendar

    def hotline_lawyer(self, at: dt.datetime, topic: str | None) -> str | None:
        on_duty = self.directory.roster.on_duty(at)
        specialty = TOPIC_SPECIALTY.get(topic or "")
        for person_id in on_duty:
            person = self.directory.person(person_id)
            if person is not None and specialty in person.specialties:
                return person_id
        return on_duty[0] if on_duty else None

    def route(self, *, topic: str | None, village: str | None, at: dt.datetime, urgent: bool = False) -> Route:
        d = self.directory
        adviser = d.adviser_for(village)
        adviser_group = adviser.group if adviser is not None else None
        hotline = self._hotline(at, topic)
        office = self._adviser(adviser.id if adviser else None, adviser_group, at)
        if urgent:
            first = hotline if hotline.on_duty or office is None or not office.on_duty else office
            copies = tuple(g for g in (adviser_group, d.hotline_group) if g and g != first.group_id)
            return Route(first.target, first.group_id, first.assignee, first.on_duty, first.next_duty, copies)
        if office is None or hotline.on_duty and not office.on_duty:
            return hotline
        if office.on_duty or hotline.next_duty is None:
            return office
        # Both off duty: whoever is back first.
        return office if office.next_duty is not None and office.next_duty <= hotline.next_duty else hotline

    def transfer_route(self, target: str, *, person: str | None, topic: str | None, at: dt.datetime) -> Route:
        """Where a transfer goes: another adviser (``person``), the hotline, legal aid or mediation."""
        d = self.directory
        if target == "adviser" and person is not None and d.person(person) is not None:
            route = self._adviser(person, d.people[person].group, at)
            assert route is not None
            return route
        if target == "hotline":
            return self._hotline(at, topic)
        # Legal aid and mediation are places, not groups: the centre's duty group takes the ticket over.
        schedule = d.calendar
        on = is_on_duty(schedule, at)
        return Route(target, d.hotline_group, None, on, at if on else next_duty_start(schedule, at))

    def _hotline(self, at: dt.datetime, topic: str | None) -> Route:
        roster = self.directory.roster
        on = is_on_duty(roster, at)
        assignee = self.hotline_lawyer(at, topic) if on else None
        return Route("hotline", self.directory.hotline_group, assignee, on,
                     at if on else next_duty_start(roster, at))

    def _adviser(self, person: str | None, group: str | None, at: dt.datetime) -> Route | None:
        if person is None or group is None:
            return None
        calendar = self.directory.calendar
        on = is_on_duty(calendar, at)
        return Route("adviser", group, person, on, at if on else next_duty_start(calendar, at))
