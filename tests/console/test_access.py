"""The case access rule (``bot.console.access``) on the sample directory and real ticket rows."""

import datetime as dt

import pytest
from sqlalchemy import select

from bot.console.access import account_villages, actor, case_filter, case_scope, disclosure, handles, unknown_places
from bot.console.auth import Account
from bot.console.masking import mask_personal_data
from handoff.directory import SAMPLE_DIRECTORY, load_directory
from handoff.models import Ticket

DIRECTORY = load_directory(SAMPLE_DIRECTORY)
NOW = dt.datetime(2026, 3, 9, 2, 0, tzinfo=dt.UTC)


def _account(username: str, role: str = "adviser", *villages: str) -> Account:
    return Account(1, username, username, role, villages)


def test_an_accounts_villages_are_codes_or_names_and_a_town_covers_its_villages():
    assert account_villages(_account("a", "adviser", "sx-t1-v1"), DIRECTORY) == ("sx-t1-v1",)
    assert account_villages(_account("a", "adviser", "演示乡"), DIRECTORY) == ("sx-t2", "sx-t2-v1", "sx-t2-v2")
    assert account_villages(_account("a", "adviser", "sx-t2"), DIRECTORY) == ("sx-t2", "sx-t2-v1", "sx-t2-v2")
    assert account_villages(_account("a", "adviser", "示例镇样板村", "样板村"), DIRECTORY) == ("sx-t1-v2",)
    # Not in the directory: kept as written (it can only match a case whose village code is exactly it).
    unknown = _account("a", "adviser", "城西街道白土坝村", "sx-t1-v1")
    assert account_villages(unknown, DIRECTORY) == ("城西街道白土坝村", "sx-t1-v1")
    assert unknown_places(unknown, DIRECTORY) == ["城西街道白土坝村"]


def test_a_name_two_places_carry_names_none_of_them(tmp_path):
    text = SAMPLE_DIRECTORY.read_text(encoding="utf-8").replace("name: 演示村", "name: 示例村")
    path = tmp_path / "county.yaml"
    path.write_text(text, encoding="utf-8")
    twice = load_directory(path)
    account = _account("a", "adviser", "示例村", "演示乡示例村")
    assert account_villages(account, twice) == ("示例村", "sx-t2-v1")  # the full name is still one place
    assert unknown_places(account, twice) == ["示例村"]


def test_the_scope_of_each_role():
    assert case_scope(_account("boss", "admin"), DIRECTORY).county
    for role in ("editor", "reviewer"):
        scope = case_scope(_account("p-adviser-1", role, "sx-t1"), DIRECTORY)
        assert (scope.villages, scope.person, scope.hotline) == ((), None, False)
    adviser = case_scope(_account("p-adviser-2", "adviser", "sx-t2-v1"), DIRECTORY)
    assert (adviser.villages, adviser.person, adviser.hotline) == (("sx-t2-v1",), "p-adviser-2", False)
    lawyer = case_scope(_account("p-lawyer-labour"), DIRECTORY)
    assert (lawyer.villages, lawyer.person, lawyer.hotline) == ((), "p-lawyer-labour", True)
    supervisor = case_scope(_account("p-supervisor"), DIRECTORY)  # a supervisor sees all as an admin account
    assert (supervisor.county, supervisor.hotline) == (False, False)
    assert actor(_account("someone"), DIRECTORY) == "account:someone"


CASES = {  # name: (village, target, assignee, owner)
    "village_a": ("sx-t1-v1", "adviser", "p-adviser-1", None),
    "town_b": ("sx-t2-v2", "adviser", "p-adviser-2", None),
    "hotline": ("sx-t1-v2", "hotline", "p-lawyer-family", None),
    "assigned_b": ("sx-t1-v2", "adviser", "p-adviser-2", None),
    "owned_lawyer": (None, "legal_aid", None, "p-lawyer-labour"),
    "owned_account": (None, "mediation", None, "account:adviser-a"),
}
SEES = {
    ("adviser-a", "admin", ()): set(CASES),
    ("adviser-a", "adviser", ("sx-t1-v1",)): {"village_a", "owned_account"},
    ("p-adviser-2", "adviser", ("演示乡",)): {"town_b", "assigned_b"},
    ("p-lawyer-labour", "adviser", ()): {"hotline", "owned_lawyer"},
    ("p-adviser-1", "editor", ("sx-t1",)): set(),
    ("p-adviser-1", "reviewer", ("sx-t1",)): set(),
    ("nobody", "adviser", ()): set(),
}


@pytest.mark.parametrize(("username", "role", "villages"), list(SEES))
def test_the_filter_selects_exactly_the_cases_of_the_rule(sessions, username, role, villages):
    with sessions.begin() as session:
        for name, (village, target, assignee, owner) in CASES.items():
            session.add(Ticket(conversation_key=f"web:{name}", reason="requested", summary=name, village=village,
                               target=target, assignee=assignee, owner=owner, state="open", created_at=NOW,
                               updated_at=NOW))
    where = case_filter(case_scope(_account(username, role, *villages), DIRECTORY))
    with sessions() as session:
        seen = set(session.scalars(select(Ticket.summary).where(where)))
    assert seen == SEES[(username, role, villages)]


# ---- how much of a resident's text each account sees (issue #16, PIPL) -------------------------------
SAID = "我叫王大明，手机139 1234 5678，座机（0571）8888-6666，身份证11010119900307123X，卡号6222021234567890123"
WHOLE = ("13912345678", "139 1234 5678", "8888-6666", "11010119900307123X", "6222021234567890123")


def test_each_level_masks_what_it_says():
    everything = mask_personal_data(SAID)
    numbers = mask_personal_data(SAID, "numbers")
    for text in (everything, numbers):
        assert not any(secret in text for secret in WHOLE), text
        assert "139" in text and "（0571）" in text  # the kind of number is still readable
    assert "王大明" in numbers and "王大明" not in everything and "王**" in everything
    assert mask_personal_data(SAID, "whole") == SAID
    assert mask_personal_data(None, "numbers") == "" and mask_personal_data("0571-88886666", "numbers") == "0571-********"


def _ticket(state: str, owner: str | None) -> Ticket:
    return Ticket(conversation_key="web:x", reason="requested", target="hotline", state=state, owner=owner)


@pytest.mark.parametrize(("username", "role", "state", "owner", "plain", "revealed"), [
    ("p-lawyer-labour", "adviser", "claimed", "p-lawyer-labour", "numbers", "whole"),  # handles it: may reveal
    ("p-lawyer-labour", "adviser", "open", None, "numbers", "numbers"),  # may see it, nobody handles it yet
    ("p-lawyer-labour", "adviser", "claimed", "p-adviser-2", "numbers", "numbers"),  # someone else handles it
    ("p-lawyer-labour", "adviser", "closed", "p-lawyer-labour", "numbers", "numbers"),  # done: no need any more
    ("boss", "admin", "claimed", "p-lawyer-labour", "numbers", "numbers"),  # supervisors read, do not call
    ("boss", "admin", "claimed", "account:boss", "numbers", "whole"),  # unless they handle it themselves
    ("p-adviser-1", "editor", "claimed", "p-adviser-1", "all", "all"),  # editors never get numbers
    ("p-adviser-1", "reviewer", "claimed", "p-adviser-1", "all", "all"),
])
def test_only_the_person_handling_a_case_may_reveal_its_numbers(username, role, state, owner, plain, revealed):
    account, ticket = _account(username, role), _ticket(state, owner)
    assert disclosure(account, ticket, DIRECTORY) == plain
    assert disclosure(account, ticket, DIRECTORY, reveal=True) == revealed
    assert handles(account, ticket, DIRECTORY) == (revealed == "whole")
    assert disclosure(account) == "all"  # anything that is not a case page: the feedback queue, exports …
