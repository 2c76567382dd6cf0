"""Small database helpers shared by the handoff modules."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CursorResult, Result

__all__ = ["rowcount"]


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE matched (the claim/lease pattern: 0 means someone else got there first)."""
    return result.rowcount if isinstance(result, CursorResult) else 0
