"""Sign-in throttling on real SQLite and PostgreSQL, with the clock as an argument (no sleeps).

The rule under test: only the address that guesses waits, and each further guess doubles its wait; the
owner elsewhere signs in; an administrator's unlock clears it; bursts are audited and logged without the
address or the password.
"""

import datetime as dt
import logging

import pytest
from sqlalchemy import func, select

from bot.console import throttle
from bot.console.accounts import create_account, find_account, sign_in, unlock_account
from bot.console.auth import Account
from bot.console.models import AuditEntry, LoginAttempt

PASSWORD = "correct horse battery 9"
WRONG = "not the password 1"
T0 = dt.datetime(2026, 3, 9, 2, 0, tzinfo=dt.UTC)
KEY = b"k" * 32


@pytest.fixture
def owner(sessions):
    with sessions.begin() as session:
        create_account(session, "dutylawyer", PASSWORD, "adviser")
    return "dutylawyer"


def _try(sessions, name, password, address, at):
    with sessions.begin() as session:
        return sign_in(session, name, password, address, key=KEY, now=at)


def _fail(sessions, name, address, at, times=1):
    for _ in range(times):
        result = _try(sessions, name, WRONG, address, at)
        assert result.account is None and not result.throttled
    return result


def _actions(sessions, action):
    with sessions() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_the_back_off_doubles_from_one_minute_and_is_capped():
    assert [throttle.PAIR.delay(n) for n in range(5)] == [dt.timedelta(0)] * 5
    assert [throttle.PAIR.delay(n).total_seconds() / 60 for n in range(5, 12)] == [1, 2, 4, 8, 16, 32, 60]
    assert throttle.PAIR.delay(10_000) == dt.timedelta(hours=1)


def test_the_guessing_address_waits_while_the_owner_signs_in_from_their_desk(sessions, owner):
    _fail(sessions, owner, "203.0.113.9", T0, times=5)
    refused = _try(sessions, owner, PASSWORD, "203.0.113.9", T0)  # even the right password, from there
    assert refused.account is None and refused.retry_minutes == 1
    desk = _try(sessions, owner, PASSWORD, "198.51.100.7", T0)
    assert desk.account is not None and desk.account.username == owner
    # The owner's success elsewhere does not free the guessing address.
    assert _try(sessions, owner, PASSWORD, "203.0.113.9", T0 + dt.timedelta(seconds=30)).throttled


def test_each_further_guess_doubles_the_wait_and_waiting_guesses_do_not_count(sessions, owner):
    _fail(sessions, owner, "203.0.113.9", T0, times=5)
    at = T0
    for minutes in (1, 2, 4, 8):
        assert _try(sessions, owner, WRONG, "203.0.113.9", at + dt.timedelta(seconds=1)).retry_minutes == minutes
        for _ in range(3):  # hammering during the wait: refused, not counted, wait unchanged
            _try(sessions, owner, WRONG, "203.0.113.9", at + dt.timedelta(minutes=minutes) - dt.timedelta(seconds=1))
        at += dt.timedelta(minutes=minutes)
        _fail(sessions, owner, "203.0.113.9", at)  # the one guess allowed after the wait
    assert _try(sessions, owner, PASSWORD, "203.0.113.9", at).retry_minutes == 16
    with sessions() as session:
        counted = session.scalar(select(func.count()).select_from(LoginAttempt))
    assert counted == 5 + 4 and len(_actions(sessions, "login.failed")) == 5 + 4 + 4 * 4 + 1


def test_the_right_password_after_the_wait_resets_that_address(sessions, owner):
    _fail(sessions, owner, "203.0.113.9", T0, times=5)
    later = T0 + dt.timedelta(minutes=1)
    assert _try(sessions, owner, PASSWORD, "203.0.113.9", later).account is not None
    after = later + dt.timedelta(seconds=1)
    _fail(sessions, owner, "203.0.113.9", after, times=5)  # counted afresh: five free again
    assert _try(sessions, owner, PASSWORD, "203.0.113.9", after).retry_minutes == 1


def test_a_name_that_does_not_exist_is_throttled_the_same_way(sessions, owner):
    for name in (owner, "nobody-here"):
        _fail(sessions, name, "203.0.113.9", T0, times=5)
    existing = _try(sessions, owner, PASSWORD, "203.0.113.9", T0)
    missing = _try(sessions, "nobody-here", PASSWORD, "203.0.113.9", T0)
    assert (existing.account, existing.retry_after) == (missing.account, missing.retry_after)


def test_a_burst_across_names_slows_the_address_not_the_names(sessions, owner):
    for i in range(throttle.ADDRESS.free):
        _fail(sessions, f"guess{i}", "203.0.113.9", T0)
    assert _try(sessions, "fresh-name", WRONG, "203.0.113.9", T0).retry_minutes == 1
    assert _try(sessions, owner, PASSWORD, "203.0.113.9", T0).throttled
    assert _try(sessions, owner, PASSWORD, "198.51.100.7", T0).account is not None
    # The address rule looks back one hour; then that address may try again.
    after = T0 + throttle.ADDRESS_WINDOW + dt.timedelta(seconds=1)
    assert _try(sessions, owner, PASSWORD, "203.0.113.9", after).account is not None


def test_an_unlock_clears_the_throttle_at_every_address_and_is_audited(sessions, owner):
    for address in ("203.0.113.9", "203.0.113.10"):
        _fail(sessions, owner, address, T0, times=5)
    with sessions() as session:
        standing = throttle.throttled_names(session, T0)
    assert standing[owner].waiting_addresses == 2 and standing[owner].failures == 10
    with sessions.begin() as session:
        admin = create_account(session, "boss", PASSWORD, "admin")
        cleared = unlock_account(session, find_account(session, owner), actor=Account.of(admin))
    assert cleared == 10
    assert _try(sessions, owner, PASSWORD, "203.0.113.9", T0).account is not None
    with sessions() as session:
        assert owner not in throttle.throttled_names(session, T0)
    entry = _actions(sessions, "account.unlock")[-1]
    assert (entry.username, entry.target, entry.detail) == ("boss", f"account:{owner}", {"failures": 10})


def test_bursts_write_one_alert_per_window_and_a_warning_without_addresses(sessions, owner, caplog):
    caplog.set_level(logging.WARNING, logger="bot.console.throttle")
    for i in range(throttle.ALERT_ACCOUNT - 1):
        _fail(sessions, owner, f"203.0.113.{i}", T0)
    assert _actions(sessions, "login.alert") == []
    _fail(sessions, owner, "203.0.113.200", T0)
    _fail(sessions, owner, "203.0.113.201", T0)  # still the same burst: no second alert
    alerts = _actions(sessions, "login.alert")
    assert [(a.target, a.detail) for a in alerts] == [
        (f"account:{owner}", {"failures": throttle.ALERT_ACCOUNT, "addresses": throttle.ALERT_ACCOUNT,
                              "minutes": 15})]
    for i in range(throttle.ALERT_ADDRESS):
        _fail(sessions, f"spray{i}", "198.51.100.66", T0 + dt.timedelta(minutes=1))
    alerts = _actions(sessions, "login.alert")
    tag = throttle.address_tag("198.51.100.66", KEY)
    assert alerts[-1].target == f"address:{tag}" and alerts[-1].detail["names"] == throttle.ALERT_ADDRESS
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and owner in warnings[0] and tag in warnings[1]
    assert "203.0.113" not in caplog.text and "198.51.100" not in caplog.text and WRONG not in caplog.text
    # At the window's edge the alert still stands; a burst after it alerts again.
    _fail(sessions, owner, "203.0.113.250", T0 + throttle.ALERT_WINDOW)
    assert len(_actions(sessions, "login.alert")) == 2
    later = T0 + throttle.ALERT_WINDOW + dt.timedelta(minutes=2)
    for i in range(throttle.ALERT_ACCOUNT):
        _fail(sessions, owner, f"192.0.2.{i}", later)
    assert len(_actions(sessions, "login.alert")) == 3
    with sessions() as session:
        assert len(throttle.recent_alerts(session, later)) == 3
