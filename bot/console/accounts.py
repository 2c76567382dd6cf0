"""Console accounts: create, change, sign in, unlock. Used by the admin pages and ``lawline console``.

Sign-in is throttled per (name, address) and per address with exponential back-off (``bot.console.throttle``),
never by locking the account for everyone. Every attempt is in the audit log; counted failures are also in
``console_login_attempts``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.console import throttle
from bot.console.auth import ROLES, Account, audit, utcnow
from bot.console.models import ConsoleAccount, ConsoleSession, LoginAttempt
from bot.console.passwords import DUMMY_HASH, check_policy, hash_password, needs_rehash, verify_password

__all__ = [
    "AccountError",
    "LoginResult",
    "create_account",
    "find_account",
    "list_accounts",
    "set_password",
    "sign_in",
    "unlock_account",
    "update_account",
]

_USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,59}$")


class AccountError(ValueError):
    """A change to an account was refused; the message is Chinese, for the page or the command line."""


def _clean_villages(villages: Sequence[str]) -> list[str]:
    cleaned = [v.strip()[:40] for v in villages if v and v.strip()]
    return list(dict.fromkeys(cleaned))[:200]


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AccountError(f"未知的角色 {role!r}：可选 {', '.join(ROLES)}")


def create_account(session: Session, username: str, password: str, role: str, *, display_name: str = "",
                   villages: Sequence[str] = (), actor: Account | None = None) -> ConsoleAccount:
    """Add an account (the caller commits); the password must pass the policy."""
    username = username.strip().lower()
    if not _USERNAME_RE.match(username):
        raise AccountError("用户名只能用小写字母、数字和 . _ -，2 到 60 位。")
    _check_role(role)
    check_policy(password, username)
    if session.scalar(select(ConsoleAccount.id).where(ConsoleAccount.username == username)) is not None:
        raise AccountError(f"用户名 {username} 已经有人用了。")
    account = ConsoleAccount(username=username, display_name=(display_name.strip() or username)[:60], role=role,
                             password_hash=hash_password(password), villages=_clean_villages(villages),
                             active=True)
    session.add(account)
    session.flush()
    audit(session, actor, "account.create", f"account:{username}", {"role": role, "villages": account.villages},
          username="cli" if actor is None else None)
    return account


def find_account(session: Session, username: str) -> ConsoleAccount | None:
    """The account called ``username`` (case-insensitive), if any."""
    return session.scalar(select(ConsoleAccount).where(ConsoleAccount.username == username.strip().lower()))


def list_accounts(session: Session) -> Sequence[ConsoleAccount]:
    """Every account, by role and name."""
    return session.scalars(select(ConsoleAccount).order_by(ConsoleAccount.role, ConsoleAccount.username)).all()


def update_account(session: Session, account: ConsoleAccount, *, role: str | None = None,
                   active: bool | None = None, villages: Sequence[str] | None = None,
                   display_name: str | None = None, actor: Account | None = None) -> None:
    """Change role, villages, name or active state; disabling or a new role ends the account's sessions."""
    changes: dict[str, object] = {}
    if role is not None and role != account.role:
        _check_role(role)
        if actor is not None and actor.id == account.id:
            raise AccountError("不能修改自己的角色。")
        changes["role"] = [account.role, role]
        account.role = role
    if active is not None and active != account.active:
        if actor is not None and actor.id == account.id and not active:
            raise AccountError("不能停用自己的账号。")
        changes["active"] = active
        account.active = active
    if villages is not None and _clean_villages(villages) != list(account.villages or []):
        account.villages = _clean_villages(villages)
        changes["villages"] = account.villages
    if display_name is not None and display_name.strip() and display_name.strip() != account.display_name:
        account.display_name = display_name.strip()[:60]
        changes["display_name"] = account.display_name
    if "role" in changes or changes.get("active") is False:
        session.execute(delete(ConsoleSession).where(ConsoleSession.account_id == account.id))
    if changes:
        audit(session, actor, "account.update", f"account:{account.username}", changes,
              username="cli" if actor is None else None)


def set_password(session: Session, account: ConsoleAccount, password: str, *, actor: Account | None = None) -> None:
    """Set a new password (policy-checked) and end the account's other sessions."""
    check_policy(password, account.username)
    account.password_hash = hash_password(password)
    account.password_changed_at = utcnow()
    session.execute(delete(ConsoleSession).where(ConsoleSession.account_id == account.id))
    audit(session, actor, "account.password", f"account:{account.username}",
          username="cli" if actor is None else None)


def unlock_account(session: Session, account: ConsoleAccount, *, actor: Account | None = None) -> int:
    """Clear the account's sign-in throttle at every address (audited); returns how many failures were cleared."""
    cleared = throttle.clear_failures(session, account.username)
    audit(session, actor, "account.unlock", f"account:{account.username}", {"failures": cleared},
          username="cli" if actor is None else None)
    return cleared


@dataclass(frozen=True, slots=True)
class LoginResult:
    """``account`` when the sign-in succeeded; otherwise ``retry_after`` says how long guessing is refused."""

    account: Account | None
    retry_after: dt.timedelta = dt.timedelta(0)

    @property
    def throttled(self) -> bool:
        """True when the attempt was refused unchecked because this address tried too often."""
        return self.retry_after > dt.timedelta(0)

    @property
    def retry_minutes(self) -> int:
        """The wait in whole minutes, rounded up (what the sign-in page says)."""
        return -(-int(self.retry_after.total_seconds()) // 60)


def sign_in(session: Session, username: str, password: str, address: str, *, key: bytes = b"",
            now: dt.datetime | None = None) -> LoginResult:
    """Check a sign-in (the caller commits: the attempt and the audit entry are recorded either way).

    ``address`` is the client's (``channels.client_address``); ``key`` keys the hash under which it
    appears in the audit log and alerts.
    """
    name = username.strip().lower()[:60]
    address = address[:64]
    now = now or utcnow()
    tag = throttle.address_tag(address, key)
    wait = throttle.retry_after(session, name, address, now)
    if wait > dt.timedelta(0):
        # Refused unchecked and not counted: a wait says nothing about the name or the password, and
        # hammering costs no hashing. The next real guess after the wait doubles it.
        audit(session, None, "login.failed", f"account:{name}",
              {"reason": "throttled", "address": tag}, username=name or "-", at=now)
        return LoginResult(None, retry_after=wait)
    row = find_account(session, name) if name else None
    # Always pay for one hash, so a missing name does not show in the timing.
    valid = verify_password(password, row.password_hash if row is not None else DUMMY_HASH)
    ok = bool(row is not None and row.active and valid)
    session.add(LoginAttempt(username=name, address=address, succeeded=ok, created_at=now))
    session.execute(delete(LoginAttempt).where(LoginAttempt.created_at < now - dt.timedelta(days=30)))
    if not ok or row is None:
        reason = "wrong name or password" if row is None or not valid else "disabled"
        audit(session, None, "login.failed", f"account:{name}", {"reason": reason, "address": tag},
              username=name or "-", at=now)
        throttle.raise_alerts(session, name, address, tag, now)
        return LoginResult(None)
    if needs_rehash(row.password_hash):
        row.password_hash = hash_password(password)
    account = Account.of(row)
    audit(session, account, "login", f"account:{name}", {"address": tag}, at=now)
    return LoginResult(account)
