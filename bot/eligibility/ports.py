"""What the eligibility check needs from outside, as small Protocols the app wires (see ``EligibilityService``).

- ``LegalAidDirectory``: legal-aid service points (name, address, phone, hours) for a place — the service
  directory (``handoff.directory``) provides them; without one the resident is told to call 12348.
- ``SubmitHook``: called when a resident sends a pre-application to the legal-aid centre — the escalation
  tickets (issue #5) receive it; the default only logs.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Contact", "LegalAidDirectory", "LegalAidPoint", "SubmitHook", "SubmittedPreApplication", "log_submission"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LegalAidPoint:
    """A place to apply (法律援助法第三十八条). ``None`` fields are shown as "call 12348", never invented."""

    name: str
    address: str | None = None
    phone: str | None = None
    hours: str | None = None


class LegalAidDirectory(Protocol):
    """Legal-aid service points for a province (山东, 重庆 …) and, when known, a county (黔江区)."""

    def legal_aid_points(self, province: str, place: str | None) -> Sequence[LegalAidPoint]:
        ...


@dataclass(frozen=True, slots=True)
class Contact:
    """A name and a phone number (digits) the resident agreed to leave for the centre to call."""

    name: str
    phone: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class SubmittedPreApplication:
    """What the legal-aid centre receives: the decision (audit shape), the answers and the result as shown.

    ``situation`` is the check's input in codes (``CheckInput.to_json``: matter, province, area …); ``contact``
    the name and phone given with consent, if any (never for a group chat or a log line).
    """

    token: str
    code: str
    page_url: str | None
    sender: str | None
    decision: dict[str, Any]
    answers: list[tuple[str, str]]
    result: dict[str, Any] = field(repr=False)
    situation: dict[str, Any] = field(default_factory=dict, repr=False)
    contact: Contact | None = field(default=None, repr=False)


SubmitHook = Callable[[SubmittedPreApplication], Awaitable[None]]


async def log_submission(application: SubmittedPreApplication) -> None:
    """The default hook: no escalation is wired yet, so only log (ids and the outcome, no answers)."""
    log.info("pre-application %s sent by the resident (decision %s); no escalation hook is wired",
             application.code, application.decision.get("decision"))
