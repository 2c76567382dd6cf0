"""A legal-aid pre-application's case as advisers read it: matter, district and decision in Chinese (issue #17).

The ticket keeps the check's codes on its opening event (``TicketService.open(legal_aid=…)``, written by
``bot.handoff_adapters.pre_application_hook``); the words come from where the project defines them, as loaded
now: the eligibility rules (``corpus/data/eligibility``: matters, provinces) and the flow texts
(``bot/eligibility/data/flow.yaml``: decisions, the means test and their labels). No second copy of a label.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from handoff.models import Ticket, TicketEvent

if TYPE_CHECKING:
    from bot.eligibility.service import EligibilityService

__all__ = ["REASON", "codes_of", "legal_aid_codes", "legal_aid_view"]

REASON = "legal_aid_pre_application"


def codes_of(ticket: Ticket) -> dict[str, Any] | None:
    """The latest pre-application codes among a ticket's loaded events."""
    return next((e.data["legal_aid"] for e in reversed(ticket.events)
                 if isinstance(e.data, dict) and isinstance(e.data.get("legal_aid"), dict)), None)


def legal_aid_codes(sessions: sessionmaker[Session], ticket_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The codes of the pre-application cases among ``ticket_ids`` (the queue: events are not loaded there)."""
    ids = list(ticket_ids)
    if not ids:
        return {}
    with sessions() as session:
        rows = session.execute(select(TicketEvent.ticket_id, TicketEvent.data).join(Ticket)
                               .where(TicketEvent.ticket_id.in_(ids), Ticket.reason == REASON,
                                      TicketEvent.kind.in_(("opened", "asked_again")))
                               .order_by(TicketEvent.id)).all()
    found: dict[int, dict[str, Any]] = {}
    for ticket_id, data in rows:
        if isinstance(data, dict) and isinstance(data.get("legal_aid"), dict):
            found[int(ticket_id)] = data["legal_aid"]  # the latest wins
    return found


def legal_aid_view(codes: dict[str, Any] | None, eligibility: EligibilityService | None) -> dict[str, str]:
    """``matter``, ``district``, ``decision``, ``means_test`` (and their labels) in words; ``{}`` when not legal aid."""
    if not codes or eligibility is None:
        return {}
    rules, result = eligibility.rules, eligibility.flow.result
    matter = rules.matters.get(str(codes.get("matter")))
    province = rules.provinces.get(str(codes.get("province")))
    area = codes.get("area")
    district = (province.name if province is not None else "") + (area if isinstance(area, str) else "")
    named = {
        "matter": matter.label if matter is not None else "",
        "district": district,
        "decision": str(result["decision"].get(codes.get("decision"), "")),
        "means_test": str(result["means_test"].get(codes.get("means_test"), "")),
        "decision_label": str(result["labels"]["decision"]),
        "means_label": str(result["labels"]["means_test"]),
        "code": str(codes.get("code") or ""),
    }
    return {key: value for key, value in named.items() if value}
