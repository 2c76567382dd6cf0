"""Per-resident memory of the handoff side: village, how to reach them, what the bot is waiting for."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from handoff.models import ResidentProfile
from handoff.ports import aware

__all__ = ["clear_pending", "clear_safety_check", "pending_of", "profile", "safety_check_of", "set_pending",
           "set_safety_check", "village_of"]


def profile(session: Session, key: str, now: dt.datetime) -> ResidentProfile:
    """The resident's profile row, created when missing (caller's transaction).

    Two messages of a new resident may create it at once: the loser's insert fails inside a savepoint and it
    reads the winner's row.
    """
    row = session.get(ResidentProfile, key)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            session.add(ResidentProfile(conversation_key=key, sent_since_inbound=0, pending_data={}, updated_at=now))
    except IntegrityError:
        pass
    row = session.get(ResidentProfile, key)
    assert row is not None
    return row


def village_of(session: Session, key: str) -> str | None:
    """The village code the resident told (the desk asks it before a handoff), None when not told."""
    return session.scalar(select(ResidentProfile.village).where(ResidentProfile.conversation_key == key))


def set_pending(row: ResidentProfile, what: str, data: dict[str, Any], now: dt.datetime,
                lasts: dt.timedelta = dt.timedelta(days=2)) -> None:
    """Remember that the bot asked the resident something (``what``) and waits for the answer."""
    row.pending = what
    row.pending_data = dict(data)
    row.pending_until = now + lasts
    row.updated_at = now


def clear_pending(row: ResidentProfile, now: dt.datetime) -> None:
    """Forget what the bot waited for."""
    row.pending = None
    row.pending_data = {}
    row.pending_until = None
    row.updated_at = now


def pending_of(row: ResidentProfile | None, now: dt.datetime) -> tuple[str | None, dict[str, Any]]:
    """What the bot waits for, unless it expired."""
    if row is None or row.pending is None:
        return None, {}
    until = aware(row.pending_until)
    if until is not None and until < now:
        return None, {}
    return row.pending, dict(row.pending_data or {})


def safety_check_of(row: ResidentProfile | None, now: dt.datetime) -> list[str] | None:
    """The kinds the shown safety check was about while it holds (answering 危险 turns it into danger)."""
    until = aware(row.safety_check_until) if row is not None else None
    if row is None or until is None or until < now:
        return None
    return list(row.safety_check_kinds or [])


def set_safety_check(row: ResidentProfile, kinds: list[str], now: dt.datetime, lasts: dt.timedelta) -> None:
    """The safety check was shown now; it is kept beside any pending question, never in its place."""
    row.safety_check_until = now + lasts
    row.safety_check_kinds = list(kinds)
    row.updated_at = now


def clear_safety_check(row: ResidentProfile, now: dt.datetime) -> None:
    """危险 answered the check: the next unsure message may be asked again."""
    row.safety_check_until = None
    row.safety_check_kinds = None
    row.updated_at = now
