"""The eligibility service the actions and the page use: decide, record, present, submit.

Built once by ``bot.services`` with the database sessions, the app's public URL and the two ports the lead
wires (a ``LegalAidDirectory`` and a ``SubmitHook``). Without sessions (tests of the bare executor) the
check still answers but keeps no record and offers no page.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.eligibility.engine import decide
from bot.eligibility.flow import Flow, load_flow
from bot.eligibility.model import CheckInput, Decision
from bot.eligibility.models import PreApplication
from bot.eligibility.ports import (
    Contact,
    LegalAidDirectory,
    LegalAidPoint,
    SubmitHook,
    SubmittedPreApplication,
    log_submission,
)
from bot.eligibility.present import compose_result, point_line, result_text
from bot.eligibility.repository import EligibilityRepository
from bot.eligibility.rules import DEFAULT_RULES_DIR, Rules, load_rules

__all__ = ["Conclusion", "EligibilityService", "SubmitOutcome"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Conclusion:
    """A finished check: the decision, the message for the resident, and the pre-application (if stored)."""

    decision: Decision
    text: str
    token: str | None
    page_url: str | None


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    """``sent`` / ``already`` / ``failed`` (saved, but the hook failed) / ``not_found``.

    ``centre``: the legal-aid centre the directory names for the resident's area (None: not known).
    """

    status: str
    code: str = ""
    centre: LegalAidPoint | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class EligibilityService:
    """Everything the self-check does beyond asking; see the module docstring for what is injected."""

    def __init__(self, rules: Rules, flow: Flow, *, sessions: sessionmaker[Session] | None = None,
                 directory: LegalAidDirectory | None = None, on_submit: SubmitHook = log_submission,
                 public_url: str | None = None, retention_days: int = 365) -> None:
        self.rules = rules
        self.flow = flow
        self.sessions = sessions
        self.directory = directory
        self.on_submit = on_submit
        self.public_url = public_url.rstrip("/") if public_url else None
        self.retention_days = retention_days  # said to the resident when a name and phone are asked

    @classmethod
    def from_folder(cls, folder: Any = DEFAULT_RULES_DIR, **kwargs: Any) -> EligibilityService:
        """Load the rules from ``folder`` and the flow texts; raises ``RulesError``/``ValueError`` at start."""
        rules = load_rules(folder)
        return cls(rules, load_flow(rules), **kwargs)

    def use_rules(self, rules: Rules, flow: Flow) -> None:
        """Decide with ``rules`` from now on (an editor published new ones; bot.reloading)."""
        self.rules, self.flow = rules, flow

    def page_url(self, token: str) -> str | None:
        return f"{self.public_url}/eligibility/{token}" if self.public_url else None

    def check(self, inp: CheckInput) -> Decision:
        """The engine on the loaded rules (pure)."""
        return decide(inp, self.rules)

    def _points(self, inp: CheckInput) -> list[LegalAidPoint]:
        return self._points_for(inp.province, inp.area)

    def _points_for(self, province: str, area: str | None) -> list[LegalAidPoint]:
        if self.directory is None:
            return []
        try:
            return list(self.directory.legal_aid_points(province, area))
        except Exception as exc:  # a broken directory must not cost the resident the result
            log.warning("legal-aid directory failed (%s); telling the resident to call 12348", type(exc).__name__)
            return []

    def conclude(self, values: Mapping[str, str | None], *, sender: str | None) -> Conclusion:
        """Decide the form's answers, record decision and pre-application (one transaction), compose the reply."""
        inp = self.flow.to_input(values)
        decision = self.check(inp)
        matter = self.rules.matters[inp.matter].label
        province = self.rules.provinces[inp.province].name
        result = compose_result(self.flow, decision, self._points(inp), matter_label=matter, province_name=province)
        token = None
        if self.sessions is not None:
            with self.sessions.begin() as session:
                repo = EligibilityRepository(session)
                row = repo.record_decision(inp, decision, source="chat")
                token = repo.create_pre_application(row, sender=sender, answers=self.flow.answer_labels(values),
                                                    result=result).token
        url = self.page_url(token) if token else None
        return Conclusion(decision, result_text(self.flow, result, url), token, url)

    def find(self, token: str) -> dict[str, Any] | None:
        """The pre-application behind ``token`` as plain data for its page, or None."""
        if self.sessions is None:
            return None
        with self.sessions() as session:
            row = EligibilityRepository(session).get(token)
            if row is None:
                return None
            return {"code": f"{row.id:06d}", "token": row.token, "created_at": row.created_at,
                    "submitted_at": row.submitted_at, "answers": [tuple(a) for a in row.answers],
                    "result": dict(row.result), "rules_version": row.decision.rules_version}

    def contact(self, code: str) -> Contact | None:
        """The name and phone left with the pre-application numbered ``code`` (for the case page), if any."""
        if self.sessions is None or not code.isdigit():
            return None
        with self.sessions() as session:
            row = session.get(PreApplication, int(code))
            if row is None or not row.contact_name or not row.contact_phone:
                return None
            return Contact(row.contact_name, row.contact_phone)

    def status(self, token: str | None) -> tuple[str, str]:
        """(``open`` | ``sent`` | ``not_found``, its code): asked before a contact is; a failed forward is open."""
        if not token or self.sessions is None:
            return "not_found", ""
        with self.sessions() as session:
            row = EligibilityRepository(session).get(token)
            if row is None:
                return "not_found", ""
            return ("sent" if row.forwarded_at is not None else "open"), f"{row.id:06d}"

    def centre(self, token: str | None) -> LegalAidPoint | None:
        """The legal-aid centre that receives this pre-application, from the directory (None: not known)."""
        if not token or self.sessions is None:
            return None
        with self.sessions() as session:
            row = EligibilityRepository(session).get(token)
            if row is None:
                return None
            province, area = row.decision.province, (row.decision.input or {}).get("area")
        points = self._points_for(province, area if isinstance(area, str) else None)
        return points[0] if points else None

    def centre_words(self, centre: LegalAidPoint | None) -> tuple[str, str]:
        """(who receives it, how to reach them oneself) as the resident reads them; nothing invented."""
        texts = self.flow.contact
        if centre is None:
            return str(texts["centre_unknown"]), str(texts["reach_unknown"])
        return centre.name, str(texts["reach_known"]).format(point=point_line(self.flow, centre))

    async def submit(self, token: str, contact: Contact | None = None) -> SubmitOutcome:
        """Mark the pre-application sent (once), with the ``contact`` given with consent, and hand it to the hook.

        The mark stays even if the hook fails; sending again retries the hook until it is forwarded once.
        """
        marked = await asyncio.to_thread(self._mark_submitted, token, contact)
        if marked is None:
            return SubmitOutcome("not_found")
        application, first = marked
        centre = await asyncio.to_thread(self.centre, token)
        if not first:
            return SubmitOutcome("already", application.code, centre)
        try:
            await self.on_submit(application)
        except Exception as exc:
            log.error("pre-application %s: the submit hook failed (%s)", application.code, type(exc).__name__)
            return SubmitOutcome("failed", application.code, centre)
        await asyncio.to_thread(self._mark_forwarded, token)
        return SubmitOutcome("sent", application.code, centre)

    def _mark_submitted(self, token: str, contact: Contact | None) -> tuple[SubmittedPreApplication, bool] | None:
        if self.sessions is None:
            return None
        with self.sessions.begin() as session:
            repo = EligibilityRepository(session)
            row = repo.get(token)
            if row is None:
                return None
            first = repo.mark_submitted(row, _now()) or row.forwarded_at is None  # a failed forward is retried
            if first and contact is not None:
                repo.set_contact(row, contact, _now())
            stored = Contact(row.contact_name, row.contact_phone) if row.contact_name and row.contact_phone else None
            decision = row.decision
            application = SubmittedPreApplication(
                token=row.token, code=f"{row.id:06d}", page_url=self.page_url(row.token), sender=row.sender,
                decision={"decision": decision.decision, "means_test": decision.means_test,
                          "basis": list(decision.basis), "explanation": decision.explanation,
                          "rules_version": decision.rules_version},
                answers=[(str(q), str(a)) for q, a in row.answers], result=dict(row.result),
                situation=dict(decision.input or {}), contact=stored,
            )
            return application, first

    def _mark_forwarded(self, token: str) -> None:
        if self.sessions is None:
            return
        with self.sessions.begin() as session:
            EligibilityRepository(session).mark_forwarded(token, _now())
