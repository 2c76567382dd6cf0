"""Sign-in throttling: exponential back-off per (name, address) and per address, never a lock for everyone.

Locking an account after five wrong passwords let anyone lock the duty lawyer out. Here only the address
that guesses waits, so the owner at their own desk still signs in. Failures are counted in
``console_login_attempts`` (every worker sees them); attempts refused while waiting are not counted, so
hammering does not lengthen the wait — each further real guess doubles it:

- per (name, address): ``PAIR.free`` failures since that pair's last success (within ``PAIR_LOOKBACK``),
  then that address waits 1, 2, 4 … minutes (at most ``Backoff.cap``) before its next guess at that name;
- per address, across names (password spraying): ``ADDRESS.free`` failures within ``ADDRESS_WINDOW``,
  then the same back-off for every name tried from there;
- alerts: ``ALERT_ACCOUNT`` failures for one name across addresses, or ``ALERT_ADDRESS`` from one address,
  within ``ALERT_WINDOW`` write one ``login.alert`` audit entry per target and window and a WARNING log.
  Addresses leave this module only as keyed hashes (``address_tag``); passwords never.

An administrator clears a name's failures (``clear_failures``) from the accounts page. The clock is the
``now`` argument, so tests need no sleeps.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, distinct, func, or_, select
from sqlalchemy.orm import Session

from bot.console.auth import audit, aware
from bot.console.models import AuditEntry, LoginAttempt

__all__ = [
    "ADDRESS",
    "PAIR",
    "Backoff",
    "NameThrottle",
    "address_tag",
    "clear_failures",
    "raise_alerts",
    "recent_alerts",
    "retry_after",
    "throttled_names",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Backoff:
    """``free`` failures cost nothing; the n-th one after them makes the next guess wait ``base·2ⁿ`` (capped)."""

    free: int
    base: dt.timedelta = dt.timedelta(minutes=1)
    cap: dt.timedelta = dt.timedelta(hours=1)

    def delay(self, failures: int) -> dt.timedelta:
        """How long after the latest of ``failures`` failures the next attempt must wait."""
        if failures < self.free:
            return dt.timedelta(0)
        return min(self.base * (1 << min(failures - self.free, 20)), self.cap)


PAIR = Backoff(free=5)
ADDRESS = Backoff(free=20)
PAIR_LOOKBACK = dt.timedelta(hours=24)
ADDRESS_WINDOW = dt.timedelta(hours=1)
ALERT_WINDOW = dt.timedelta(minutes=15)
ALERT_ACCOUNT = 8
ALERT_ADDRESS = 20


def address_tag(address: str, key: bytes) -> str:
    """A keyed hash of an address for logs and the audit log: comparable, but not reversible by trying all IPv4."""
    return hmac.new(key, b"address:" + address.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:16]


def _pair_failures(session: Session, since: dt.datetime, *, username: str | None = None,
                   address: str | None = None) -> list[tuple[str, str, int, dt.datetime]]:
    """(name, address, failures since that pair's last success, latest failure) for pairs with failures."""
    ok = (select(LoginAttempt.username, LoginAttempt.address, func.max(LoginAttempt.created_at).label("at"))
          .where(LoginAttempt.succeeded.is_(True), LoginAttempt.created_at >= since)
          .group_by(LoginAttempt.username, LoginAttempt.address))
    failed = (select(LoginAttempt.username, LoginAttempt.address, func.count(), func.max(LoginAttempt.created_at))
              .where(LoginAttempt.succeeded.is_(False), LoginAttempt.created_at >= since))
    if username is not None:
        ok, failed = ok.where(LoginAttempt.username == username), failed.where(LoginAttempt.username == username)
    if address is not None:
        ok, failed = ok.where(LoginAttempt.address == address), failed.where(LoginAttempt.address == address)
    last_ok = ok.subquery()
    rows = session.execute(
        failed.outerjoin(last_ok, (last_ok.c.username == LoginAttempt.username)
                         & (last_ok.c.address == LoginAttempt.address))
        .where(or_(last_ok.c.at.is_(None), LoginAttempt.created_at > last_ok.c.at))
        .group_by(LoginAttempt.username, LoginAttempt.address)
    ).all()
    return [(name, addr, int(count), aware(last)) for name, addr, count, last in rows]


def _address_failures(session: Session, address: str, since: dt.datetime) -> tuple[int, dt.datetime | None]:
    count, last = session.execute(
        select(func.count(), func.max(LoginAttempt.created_at))
        .where(LoginAttempt.address == address, LoginAttempt.succeeded.is_(False), LoginAttempt.created_at >= since)
    ).one()
    return int(count or 0), aware(last) if last is not None else None


def retry_after(session: Session, username: str, address: str, now: dt.datetime) -> dt.timedelta:
    """How long ``address`` must wait before trying ``username`` again (zero: it may try now).

    Depends on the name as typed, never on whether the account exists, so it tells nothing about names.
    """
    waits = [dt.timedelta(0)]
    for _, _, failures, last in _pair_failures(session, now - PAIR_LOOKBACK, username=username, address=address):
        waits.append(last + PAIR.delay(failures) - now)
    count, last_failure = _address_failures(session, address, now - ADDRESS_WINDOW)
    if last_failure is not None:
        waits.append(last_failure + ADDRESS.delay(count) - now)
    return max(waits)


def _alert(session: Session, target: str, detail: dict[str, int], now: dt.datetime) -> bool:
    """Write the ``login.alert`` for ``target`` unless one was written within the window."""
    seen = session.scalar(select(AuditEntry.id).where(
        AuditEntry.action == "login.alert", AuditEntry.target == target,
        AuditEntry.created_at >= now - ALERT_WINDOW).limit(1))
    if seen is not None:
        return False
    audit(session, None, "login.alert", target, {**detail, "minutes": int(ALERT_WINDOW.total_seconds() // 60)},
          username="-", at=now)
    return True


def raise_alerts(session: Session, username: str, address: str, tag: str, now: dt.datetime) -> None:
    """After a counted failure: alert when failures for the name, or from the address, pass the thresholds."""
    since = now - ALERT_WINDOW
    failed = (LoginAttempt.succeeded.is_(False), LoginAttempt.created_at >= since)
    count, addresses = session.execute(select(func.count(), func.count(distinct(LoginAttempt.address)))
                                       .where(LoginAttempt.username == username, *failed)).one()
    if count >= ALERT_ACCOUNT and _alert(session, f"account:{username}",
                                         {"failures": count, "addresses": addresses}, now):
        log.warning("sign-in burst: %d failures for console account %s from %d addresses in %s",
                    count, username, addresses, ALERT_WINDOW)
    count, names = session.execute(select(func.count(), func.count(distinct(LoginAttempt.username)))
                                   .where(LoginAttempt.address == address, *failed)).one()
    if count >= ALERT_ADDRESS and _alert(session, f"address:{tag}", {"failures": count, "names": names}, now):
        log.warning("sign-in burst: %d failures from address %s for %d names in %s",
                    count, tag, names, ALERT_WINDOW)


def clear_failures(session: Session, username: str) -> int:
    """Forget the name's failed sign-ins at every address (an administrator's unlock); returns how many."""
    result = session.execute(delete(LoginAttempt).where(LoginAttempt.username == username,
                                                        LoginAttempt.succeeded.is_(False)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class NameThrottle:
    """A name's standing for the accounts page: failures still counted, and the addresses kept waiting."""

    failures: int
    waiting_addresses: int
    longest_wait: dt.timedelta

    @property
    def minutes(self) -> int:
        """The longest wait in whole minutes, rounded up."""
        return -(-int(self.longest_wait.total_seconds()) // 60)


def throttled_names(session: Session, now: dt.datetime) -> dict[str, NameThrottle]:
    """Every name with counted failures, by name (the pair rule; address waits show on the alerts)."""
    found: dict[str, NameThrottle] = {}
    for name, _, failures, last in _pair_failures(session, now - PAIR_LOOKBACK):
        wait = last + PAIR.delay(failures) - now
        before = found.get(name, NameThrottle(0, 0, dt.timedelta(0)))
        found[name] = NameThrottle(before.failures + failures, before.waiting_addresses + (wait > dt.timedelta(0)),
                                   max(before.longest_wait, wait))
    return found


def recent_alerts(session: Session, now: dt.datetime, within: dt.timedelta = dt.timedelta(hours=24),
                  limit: int = 50) -> Sequence[AuditEntry]:
    """The ``login.alert`` entries of the last ``within``, newest first: the administrators' notices."""
    return session.scalars(select(AuditEntry).where(AuditEntry.action == "login.alert",
                                                    AuditEntry.created_at >= now - within)
                           .order_by(AuditEntry.id.desc()).limit(limit)).all()
