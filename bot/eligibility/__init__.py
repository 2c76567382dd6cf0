"""The legal-aid eligibility check (法律援助自测).

Rules as data, a pure decision engine, the Rasa form's actions, decisions and pre-applications in the
database, and the pre-application page.

Public pieces the app wires: ``decide`` / ``parse_input`` / ``load_rules`` (the engine and its rules),
``EligibilityService`` (built by ``bot.services``), ``LegalAidDirectory`` and ``SubmitHook`` (the ports for the
service directory and the escalation tickets). The Rasa actions live in ``bot.eligibility.actions`` and
the page in ``bot.eligibility.web`` (imported by the app, not here: they pull in rasa-sdk and starlette).
"""

from bot.eligibility.engine import decide
from bot.eligibility.errors import BenchCaseError, EligibilityError, InputError, RulesError
from bot.eligibility.model import CheckInput, Decision, parse_input
from bot.eligibility.ports import LegalAidDirectory, LegalAidPoint, SubmitHook, SubmittedPreApplication
from bot.eligibility.rules import DEFAULT_RULES_DIR, Rules, load_rules

__all__ = [
    "DEFAULT_RULES_DIR",
    "BenchCaseError",
    "CheckInput",
    "Decision",
    "EligibilityError",
    "InputError",
    "LegalAidDirectory",
    "LegalAidPoint",
    "Rules",
    "RulesError",
    "SubmitHook",
    "SubmittedPreApplication",
    "decide",
    "load_rules",
    "parse_input",
]
