"""Errors of ``bot.privacy``: one root; the message is for the person at the command line, never personal data.

::

    PrivacyError
    ├── ResidentNotFound     nothing held matches what the resident gave (a key, an openid, a phone number)
    └── CaseStillOpen        a case of theirs is still being handled: close it in the console first
"""

from __future__ import annotations

__all__ = ["CaseStillOpen", "PrivacyError", "ResidentNotFound"]


class PrivacyError(Exception):
    """Root of the errors of a privacy request or a purge."""


class ResidentNotFound(PrivacyError):
    """No conversation, case or profile matches ``kind`` (``key``, ``openid`` or ``phone``)."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"nothing is held for that {kind}")
        self.kind = kind


class CaseStillOpen(PrivacyError):
    """A resident's case is still active; erasing it would leave a person handling a case with no record."""

    def __init__(self, ticket_ids: list[int]) -> None:
        listed = ", ".join(f"#{i}" for i in ticket_ids)
        super().__init__(f"case {listed} is still being handled: close it in the console (/console/cases) first")
        self.ticket_ids = ticket_ids
