"""The service directory: places (county → town → village), service points, people and their work groups.

Loaded from one editable YAML file (``LAWLINE_DIRECTORY``; format in ``handoff/data/README.md``) plus
the national numbers in ``handoff/data/national.yaml``. Every mistake in the file is reported as
``file:line: reason`` (``DirectoryError``) and the app refuses to start with it, so a broken edit never
half-applies. Whatever is not known is written ``null`` and shown as 未配置, never guessed.

A file marked ``sample: true`` is fictional (示例县/示例镇/示例村) and only for tests and demos: every
text a resident reads that comes from it is marked by ``Directory.mark`` as demonstration data.

Public lookups other packages use: ``Directory.service_points(kind=..., near=...)`` (e.g. the legal-aid
eligibility check asks for ``kind="legal_aid_centre"``), ``Directory.place``, ``Directory.find_village``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from handoff._yaml import Mapping, Reader, Sequence, load_yaml
from handoff.calendar import WorkingCalendar, parse_calendar
from handoff.directory_records import (
    ROLES,
    SERVICE_KINDS,
    SPECIALTIES,
    TEMPLATE_VALUES,
    TOPIC_SPECIALTY,
    AdviserTemplate,
    NationalNumber,
    Person,
    Place,
    Policy,
    RobotGroup,
    ServicePoint,
)
from handoff.errors import DirectoryError
from handoff.roster import DutyRoster, parse_roster

__all__ = [
    "DATA_DIR",
    "DEFAULT_DIRECTORY",
    "NATIONAL_FILE",
    "SAMPLE_DIRECTORY",
    "SERVICE_KINDS",
    "SPECIALTIES",
    "TEMPLATE_VALUES",
    "TOPIC_SPECIALTY",
    "AdviserTemplate",
    "Directory",
    "NationalNumber",
    "Person",
    "Place",
    "Policy",
    "RobotGroup",
    "ServicePoint",
    "load_directory",
]

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_DIRECTORY = DATA_DIR / "county.yaml"
SAMPLE_DIRECTORY = DATA_DIR / "sample" / "county.yaml"
NATIONAL_FILE = DATA_DIR / "national.yaml"

SAMPLE_MARK = "【演示数据，不是真实信息】"
_LEVELS = ("county", "town", "village")
_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,60}$")


@dataclass(frozen=True)
class Directory:
    """Everything known about the county's legal services, read-only once loaded."""

    source: Path
    sample: bool
    configured: bool
    county: Place
    places: dict[str, Place]
    points: tuple[ServicePoint, ...]
    people: dict[str, Person]
    groups: dict[str, RobotGroup]
    calendar: WorkingCalendar
    roster: DutyRoster
    policy: Policy
    national: dict[str, NationalNumber]
    hotline_group: str | None = None
    supervisor: str | None = None
    adviser_template: AdviserTemplate | None = None

    # -- places -----------------------------------------------------------------------------------------
    def place(self, code: str | None) -> Place | None:
        return self.places.get(code) if code else None

    def ancestors(self, code: str | None) -> list[Place]:
        """The place and the places above it, nearest first (village, town, county)."""
        chain: list[Place] = []
        place = self.place(code)
        while place is not None and place not in chain:
            chain.append(place)
            place = self.place(place.parent)
        return chain

    @property
    def towns(self) -> list[Place]:
        return [p for p in self.places.values() if p.level == "town"]

    def villages(self, town: str | None = None) -> list[Place]:
        return [p for p in self.places.values() if p.level == "village" and (town is None or p.parent == town)]

    def full_name(self, code: str | None) -> str:
        """``示例镇示例村`` (town and village, as a resident would say it)."""
        return "".join(p.name for p in reversed(self.ancestors(code)) if p.level != "county")

    def find_village(self, text: str) -> list[Place]:
        """Villages named in ``text`` (name or alias), narrowed by a town named with it; best guesses only."""
        said = re.sub(r"\s+", "", text)
        def named(place: Place) -> bool:
            return any(name and name in said for name in (place.name, *place.aliases))
        villages = [v for v in self.villages() if named(v)]
        towns = {t.code for t in self.towns if named(t)}
        if towns and len(villages) > 1:
            narrowed = [v for v in villages if v.parent in towns]
            villages = narrowed or villages
        # "示例二村" also contains "示例村"? keep the longest names when one is part of another.
        longest = [v for v in villages if not any(v is not o and v.name in o.name for o in villages)]
        return longest

    # -- services ---------------------------------------------------------------------------------------
    def service_points(self, kind: str | None = None, near: str | None = None) -> list[ServicePoint]:
        """Service points of ``kind`` (see ``SERVICE_KINDS``), nearest first when ``near`` is a place code.

        With ``near``: the ones at that place or above it first (village, town, county), then the rest by
        distance when coordinates are known.

        Returns ``[]`` when the county is not configured; fields not known are ``None``.
        """
        if kind is not None and kind not in SERVICE_KINDS:
            raise ValueError(f"unknown service point kind {kind!r}; one of {', '.join(SERVICE_KINDS)}")
        points = [p for p in self.points if kind is None or p.kind == kind]
        if near is None or self.place(near) is None:
            return points
        chain = [p.code for p in self.ancestors(near)]
        origin = self._coordinates(near)

        def rank(point: ServicePoint) -> tuple[int, float]:
            level = chain.index(point.place) if point.place in chain else len(chain)
            where = point.coordinates or self._coordinates(point.place)
            distance = _km(origin, where) if origin and where else math.inf
            return level, distance

        return sorted(points, key=rank)

    def _coordinates(self, code: str | None) -> tuple[float, float] | None:
        for place in self.ancestors(code):
            if place.coordinates:
                return place.coordinates
        return None

    # -- people -----------------------------------------------------------------------------------------
    def person(self, person_id: str | None) -> Person | None:
        return self.people.get(person_id) if person_id else None

    def group(self, group_id: str | None) -> RobotGroup | None:
        return self.groups.get(group_id) if group_id else None

    def adviser_for(self, village: str | None) -> Person | None:
        place = self.place(village)
        return self.person(place.adviser) if place is not None else None

    # -- showing ----------------------------------------------------------------------------------------
    def mark(self, text: str) -> str:
        """Text drawn from this directory, as a resident may see it (marked when the data are a sample)."""
        return f"{SAMPLE_MARK}{text}" if self.sample else text

    def notes(self, today: dt.date | None = None) -> list[str]:
        """What is not configured, for ``lawline handoff check`` and the console."""
        today = today or dt.date.today()
        notes = []
        if not self.configured:
            notes.append(f"{self.county.name}: 服务目录未配置（没有乡镇、村、法律顾问和服务点的真实信息）")
        if not self.calendar.configured:
            notes.append("工作时间未配置（calendar.office_hours）")
        if not self.roster.configured:
            notes.append("热线律师值班表未配置（roster）")
        if self.calendar.configured or self.roster.configured:
            for year in self.calendar.unconfigured_years(today, today + dt.timedelta(days=90)):
                notes.append(f"{year}年的法定节假日未配置（calendar.years）：暂按周一至周五上班计算")
        for group in self.groups.values():
            if not group.robot_key:
                notes.append(f"工作群 {group.name} 的机器人 webhook 未配置")
        for point in self.points:
            missing = [label for label, value in (("地址", point.address), ("电话", point.phone),
                                                  ("办公时间", point.hours)) if value is None]
            if missing:
                notes.append(f"{point.name}：{'、'.join(missing)}未配置")
        return notes


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 12742 * math.asin(math.sqrt(h))


class _Parser:
    """Builds a ``Directory`` from one file, collecting every problem."""

    def __init__(self, path: Path) -> None:
        self.read = Reader(path)
        self.path = path
        self.ids: dict[str, int] = {}
        self.adviser_lines: dict[str, int] = {}

    def unique(self, kind: str, ident: str | None, line: int) -> bool:
        if ident is None:
            return False
        if not _ID.match(ident):
            self.read.problem(line, f"{kind} id {ident!r} may only use letters, digits, '-', '_' and '.'")
            return False
        if ident in self.ids:
            self.read.problem(line, f"{kind} id {ident!r} is used twice (first on line {self.ids[ident]})")
            return False
        self.ids[ident] = line
        return True

    def coordinates(self, node: Mapping) -> tuple[float, float] | None:
        value = node.get("coordinates")
        if value is None:
            return None
        line = self.read.line_of(node, "coordinates")
        if (not isinstance(value, Sequence) or len(value) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
                or not (-90 <= value[0] <= 90 and -180 <= value[1] <= 180)):
            self.read.problem(line, "coordinates must be [latitude, longitude] in degrees")
            return None
        return float(value[0]), float(value[1])

    def items(self, parent: Mapping, key: str, allowed: set[str]) -> Iterable[tuple[Mapping, int]]:
        items = self.read.sequence(parent, key)
        for index, item in enumerate(items):
            line = self.read.line_of(items, index)
            if not isinstance(item, Mapping):
                self.read.problem(line, f"each entry of '{key}' must be a mapping")
                continue
            self.read.check_keys(item, allowed, key)
            yield item, line

    def parse(self, data: Any, national: dict[str, NationalNumber]) -> Directory:
        r = self.read
        if not isinstance(data, Mapping):
            r.problem(1, "the file must be a mapping (key: value lines)")
            raise DirectoryError(r.problems)
        r.check_keys(data, {"version", "sample", "county", "towns", "service_points", "people", "groups",
                            "calendar", "roster", "policy", "hotline_group", "supervisor", "adviser_template"},
                     "the file")
        if data.get("version") != 1:
            r.problem(r.line_of(data, "version"), "'version' must be 1")
        sample = r.flag(data, "sample", False)
        county_node = r.mapping(data, "county", allowed={"code", "name", "configured", "coordinates"})
        county_code = r.text(county_node, "code") or "county"
        self.unique("place", county_code, r.line_of(county_node, "code"))
        county = Place(county_code, r.text(county_node, "name") or "", "county",
                       coordinates=self.coordinates(county_node))
        configured = r.flag(county_node, "configured", False)
        places = {county.code: county}
        for town_node, line in self.items(data, "towns", {"code", "name", "aliases", "coordinates", "villages"}):
            town = self.place(town_node, line, "town", county.code)
            if town is None:
                continue
            places[town.code] = town
            for village_node, vline in self.items(town_node, "villages",
                                                  {"code", "name", "aliases", "coordinates", "adviser"}):
                village = self.place(village_node, vline, "village", town.code)
                if village is not None:
                    places[village.code] = village
        groups = self.groups(data)
        people = self.people(data, groups)
        points = self.points(data, places, sample)
        for place in places.values():
            if place.adviser is not None and place.adviser not in people:
                r.problem(self.adviser_lines.get(place.code, 0),
                          f"village {place.code}: adviser {place.adviser!r} is not in 'people'")
        calendar = parse_calendar(r, r.mapping(data, "calendar", required=False))
        roster = parse_roster(r, r.mapping(data, "roster", required=False), calendar)
        for shift in roster.shifts:
            for person in shift.people:
                if person not in people:
                    r.problem(r.line_of(data, "roster"), f"roster: {person!r} is not in 'people'")
        hotline_group = r.text(data, "hotline_group", required=False)
        if hotline_group is not None and hotline_group not in groups:
            r.problem(r.line_of(data, "hotline_group"), f"hotline_group {hotline_group!r} is not in 'groups'")
        supervisor = r.text(data, "supervisor", required=False)
        if supervisor is not None and (supervisor not in people or people[supervisor].role != "supervisor"):
            r.problem(r.line_of(data, "supervisor"), f"supervisor {supervisor!r} must be a person with role supervisor")
        policy = self.policy(data)
        adviser_template = self.adviser_template(data)
        if r.problems:
            raise DirectoryError(r.problems)
        return Directory(source=self.path, sample=sample, configured=configured, county=county, places=places,
                         points=points, people=people, groups=groups, calendar=calendar, roster=roster,
                         policy=policy, national=national, hotline_group=hotline_group, supervisor=supervisor,
                         adviser_template=adviser_template)

    def place(self, node: Mapping, line: int, level: str, parent: str) -> Place | None:
        code = self.read.text(node, "code")
        name = self.read.text(node, "name")
        if not self.unique("place", code, self.read.line_of(node, "code")) or code is None or name is None:
            return None
        adviser = self.read.text(node, "adviser", required=False) if level == "village" else None
        self.adviser_lines[code] = self.read.line_of(node, "adviser")
        return Place(code, name, level, parent, self.read.texts(node, "aliases"), self.coordinates(node), adviser)

    def groups(self, data: Mapping) -> dict[str, RobotGroup]:
        groups = {}
        for node, _line in self.items(data, "groups", {"id", "name", "robot_key"}):
            ident = self.read.text(node, "id")
            if self.unique("group", ident, self.read.line_of(node, "id")) and ident is not None:
                groups[ident] = RobotGroup(ident, self.read.text(node, "name") or ident,
                                           self.read.text(node, "robot_key", required=False, max_chars=100))
        return groups

    def people(self, data: Mapping, groups: dict[str, RobotGroup]) -> dict[str, Person]:
        people = {}
        for node, _line in self.items(data, "people", {"id", "name", "role", "specialties", "group", "phone",
                                                       "wechat_openid"}):
            ident = self.read.text(node, "id")
            role = self.read.text(node, "role")
            if role is not None and role not in ROLES:
                self.read.problem(self.read.line_of(node, "role"), f"role must be one of {', '.join(ROLES)}")
            specialties = self.read.texts(node, "specialties")
            for bad in (s for s in specialties if s not in SPECIALTIES):
                self.read.problem(self.read.line_of(node, "specialties"),
                                  f"specialty {bad!r} is not one of {', '.join(SPECIALTIES)}")
            group = self.read.text(node, "group", required=False)
            if group is not None and group not in groups:
                self.read.problem(self.read.line_of(node, "group"), f"group {group!r} is not in 'groups'")
            if self.unique("person", ident, self.read.line_of(node, "id")) and ident is not None:
                people[ident] = Person(ident, self.read.text(node, "name") or ident, role or "", specialties, group,
                                       self.read.phone(node, "phone"),
                                       self.read.text(node, "wechat_openid", required=False, max_chars=64))
        return people

    def points(self, data: Mapping, places: dict[str, Place], sample: bool) -> tuple[ServicePoint, ...]:
        points = []
        allowed = {"id", "kind", "name", "place", "address", "phone", "hours", "coordinates"}
        for node, _line in self.items(data, "service_points", allowed):
            ident = self.read.text(node, "id")
            kind = self.read.text(node, "kind")
            if kind is not None and kind not in SERVICE_KINDS:
                self.read.problem(self.read.line_of(node, "kind"), f"kind must be one of {', '.join(SERVICE_KINDS)}")
            place = self.read.text(node, "place")
            if place is not None and place not in places:
                self.read.problem(self.read.line_of(node, "place"), f"place {place!r} is not a county, town or village "
                                                                    "code in this file")
            name = self.read.text(node, "name")
            for key in ("address", "phone", "hours"):
                if key not in node:
                    self.read.problem(node.line, f"'{key}' is required (write null when not known)")
            if self.unique("service point", ident, self.read.line_of(node, "id")) and ident and kind and name and place:
                points.append(ServicePoint(ident, kind, name, place, self.read.text(node, "address", required=False),
                                           self.read.phone(node, "phone"),
                                           self.read.text(node, "hours", required=False),
                                           self.coordinates(node), sample))
        return tuple(points)

    def adviser_template(self, data: Mapping) -> AdviserTemplate | None:
        node = self.read.mapping(data, "adviser_template", required=False)
        if not node:
            return None
        self.read.check_keys(node, {"template_id", "fields"}, "adviser_template")
        template_id = self.read.text(node, "template_id", required=False, max_chars=64)
        fields_node = self.read.mapping(node, "fields", required=template_id is not None)
        pairs = []
        for name, value in (fields_node or {}).items():
            line = self.read.line_of(fields_node, name)
            if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,31}", name):
                self.read.problem(line, f"adviser_template.fields: {name!r} is not a template field name (thing1 …)")
            elif value not in TEMPLATE_VALUES:
                self.read.problem(line, f"adviser_template.fields.{name}: must be one of {', '.join(TEMPLATE_VALUES)}")
            else:
                pairs.append((name, str(value)))
        if template_id is None:
            return None  # written down but not configured yet
        if not pairs:
            self.read.problem(self.read.line_of(node, "fields"), "adviser_template.fields: name at least one field")
        return AdviserTemplate(template_id, tuple(pairs))

    def policy(self, data: Mapping) -> Policy:
        node = self.read.mapping(data, "policy", required=False)
        defaults = Policy()
        names = {"first_response_minutes", "urgent_first_response_minutes", "resolution_minutes",
                 "reminder_before_minutes", "resident_wait_minutes"}
        self.read.check_keys(node, names, "policy")
        return Policy(**{n: self.read.number(node, n, getattr(defaults, n), 1, 60 * 24 * 60) for n in sorted(names)})


def _national(path: Path) -> dict[str, NationalNumber]:
    data, problems = load_yaml(path)
    reader = Reader(path)
    reader.problems += problems
    numbers = {}
    if data is not None:
        if not isinstance(data, Mapping):
            reader.problem(1, "the file must be a mapping")
        else:
            for key, node in data.items():
                if not isinstance(node, Mapping):
                    reader.problem(reader.line_of(data, key), f"{key}: give number, name and use")
                    continue
                reader.check_keys(node, {"number", "name", "use", "source"}, key)
                number, name, use = (reader.text(node, k) for k in ("number", "name", "use"))
                reader.text(node, "source")
                if number and name and use:
                    numbers[key] = NationalNumber(number, name, use)
    if reader.problems:
        raise DirectoryError(reader.problems)
    return numbers


def load_directory(path: Path = DEFAULT_DIRECTORY, national: Path = NATIONAL_FILE) -> Directory:
    """Read and check the directory; ``DirectoryError`` lists every problem as ``file:line: reason``."""
    numbers = _national(national)
    data, problems = load_yaml(path)
    if problems:
        raise DirectoryError(problems)
    return _Parser(path).parse(data, numbers)
