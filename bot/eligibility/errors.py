"""Errors of the eligibility check.

``EligibilityError`` is the root::

    EligibilityError
    ├── RulesError      a rules file is missing, malformed or inconsistent (file and reason)
    ├── InputError      a check's input is malformed or uses an unknown code (field and reason)
    └── BenchCaseError  a benchmark cases file has a bad line (line and reason)
"""

from __future__ import annotations

__all__ = ["BenchCaseError", "EligibilityError", "InputError", "RulesError"]


class EligibilityError(Exception):
    """Root of the eligibility package's errors."""


class RulesError(EligibilityError):
    """The rules data cannot be used; names the file and what is wrong."""

    def __init__(self, file: str, reason: str) -> None:
        super().__init__(f"{file}: {reason}")
        self.file = file
        self.reason = reason


class InputError(EligibilityError, ValueError):
    """A check's input is malformed; names the field and what is wrong."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class BenchCaseError(EligibilityError, ValueError):
    """A line of a benchmark cases file cannot be used."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason
