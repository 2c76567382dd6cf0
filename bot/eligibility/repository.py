"""Storing decisions and pre-applications. The caller owns the transaction (``with sessions.begin()``)."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.eligibility.model import CheckInput, Decision
from bot.eligibility.models import EligibilityDecision, PreApplication
from bot.eligibility.ports import Contact

__all__ = ["EligibilityRepository", "new_token"]


def new_token() -> str:
    """An unguessable token for the pre-application's page (128 bits, URL-safe)."""
    return secrets.token_urlsafe(16)


class EligibilityRepository:
    """Decisions and pre-applications in one session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def record_decision(self, inp: CheckInput, decision: Decision, *, source: str) -> EligibilityDecision:
        row = EligibilityDecision(
            rules_version=decision.rules_version, province=decision.province, matter=decision.matter,
            decision=decision.decision, means_test=decision.means_test, basis=list(decision.basis),
            explanation=decision.explanation, input=inp.to_json(), source=source,
        )
        self.session.add(row)
        self.session.flush()
        return row

    def create_pre_application(self, decision: EligibilityDecision, *, sender: str | None,
                               answers: list[tuple[str, str]], result: dict[str, Any]) -> PreApplication:
        row = PreApplication(token=new_token(), decision_id=decision.id, sender=sender,
                             answers=[list(pair) for pair in answers], result=result)
        self.session.add(row)
        self.session.flush()
        return row

    def get(self, token: str) -> PreApplication | None:
        if not token or len(token) > 64:
            return None
        return self.session.scalar(select(PreApplication).where(PreApplication.token == token))

    def mark_submitted(self, row: PreApplication, when: dt.datetime) -> bool:
        """Set ``submitted_at`` once; False when it was already submitted."""
        if row.submitted_at is not None:
            return False
        row.submitted_at = when
        return True

    def set_contact(self, row: PreApplication, contact: Contact, when: dt.datetime) -> None:
        """Keep the name and phone the resident agreed to leave (``when``: the consent)."""
        row.contact_name, row.contact_phone, row.consented_at = contact.name[:40], contact.phone[:20], when

    def mark_forwarded(self, token: str, when: dt.datetime) -> None:
        row = self.get(token)
        if row is not None and row.forwarded_at is None:
            row.forwarded_at = when
