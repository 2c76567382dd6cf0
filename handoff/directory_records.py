"""The directory's records: places, service points, people, groups, national numbers and service targets.

What ``handoff.directory`` reads from the county's YAML file; every other package takes them from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "ROLES",
    "SERVICE_KINDS",
    "SPECIALTIES",
    "TEMPLATE_VALUES",
    "TOPIC_SPECIALTY",
    "AdviserTemplate",
    "NationalNumber",
    "Person",
    "Place",
    "Policy",
    "RobotGroup",
    "ServicePoint",
]

SERVICE_KINDS = {
    "county_centre": "公共法律服务中心",
    "town_workstation": "公共法律服务工作站",
    "justice_office": "司法所",
    "legal_aid_centre": "法律援助中心",
    "mediation_committee": "人民调解委员会",
    "womens_federation": "妇联",
    "mental_health": "心理援助热线",
}
ROLES = ("village_adviser", "hotline_lawyer", "supervisor")
SPECIALTIES = {"labour": "劳动工资", "family": "婚姻家庭、赡养抚养", "land": "土地承包", "civil": "一般民事"}
TOPIC_SPECIALTY = {"wages": "labour", "support": "family", "land": "land", "dispute": "civil"}

@dataclass(frozen=True, slots=True)
class Place:
    """A county, town (乡镇/街道) or village (村/社区)."""

    code: str
    name: str
    level: str
    parent: str | None = None
    aliases: tuple[str, ...] = ()
    coordinates: tuple[float, float] | None = None
    adviser: str | None = None  # the village's legal adviser (person id)


@dataclass(frozen=True, slots=True)
class ServicePoint:
    """A place a resident can go to or call; ``None`` fields are not configured (show 未配置)."""

    id: str
    kind: str
    name: str
    place: str
    address: str | None
    phone: str | None
    hours: str | None
    coordinates: tuple[float, float] | None = None
    sample: bool = False

    @property
    def kind_label(self) -> str:
        return SERVICE_KINDS[self.kind]


@dataclass(frozen=True, slots=True)
class Person:
    """A village legal adviser, a hotline lawyer or a supervisor. ``phone`` is for staff, never for residents."""

    id: str
    name: str
    role: str
    specialties: tuple[str, ...] = ()
    group: str | None = None
    phone: str | None = field(default=None, repr=False)
    wechat_openid: str | None = field(default=None, repr=False)  # follows the official account: template alerts


TEMPLATE_VALUES = ("ticket", "topic", "village", "urgency", "reason", "opened")


@dataclass(frozen=True, slots=True)
class AdviserTemplate:
    """The official account's template message (模板消息) telling an adviser about a new case.

    ``fields`` maps each of the template's field names (thing1, time2 …, as chosen in the account's
    back office) to what fills it, one of ``TEMPLATE_VALUES``. Nothing a resident wrote goes into it: it
    shows on a phone's lock screen.
    """

    template_id: str
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class RobotGroup:
    """A WeChat Work (企业微信) group with a group robot; ``robot_key`` is the webhook's key (secret)."""

    id: str
    name: str
    robot_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class NationalNumber:
    """A national service number (verified), e.g. 12348."""

    number: str
    name: str
    use: str


@dataclass(frozen=True, slots=True)
class Policy:
    """Service targets (minutes of duty time unless said otherwise); editable in the ``policy:`` section."""

    first_response_minutes: float = 30
    urgent_first_response_minutes: float = 10  # wall-clock minutes: danger does not wait for office hours
    resolution_minutes: float = 3 * 8 * 60
    reminder_before_minutes: float = 10
    resident_wait_minutes: float = 60  # a resident waiting this long (duty time) for a person: apology + callback
