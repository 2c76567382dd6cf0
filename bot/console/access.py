"""Who may see and act on which escalation case (issue #16): the one rule every console route and export uses.

The rule, decided in ``case_scope`` and applied as SQL by ``case_filter``:

- ``admin`` (administrators and supervisors): every case.
- ``adviser``: a case whose village is one of the account's villages — an entry of ``Account.villages``
  is a place code or the directory's name of a village or town (``示例村``, ``示例镇示例村``), and a town
  covers the town itself and its villages — or a case assigned to (``assignee``) or claimed or closed by
  (``owner``) the account's person: the directory person whose id is the account's username, else the
  account itself (``actor``); when that person is a ``hotline_lawyer``, also every case of the 12348
  hotline (``target == "hotline"``). A directory ``supervisor`` gets nothing more: supervisors sign in as
  ``admin``.
- ``editor``, ``reviewer``: no case (their console is the corpus, the feedback queue and the analytics).

Whatever the rule does not allow answers 404 exactly as a case that does not exist, and no list, count or
export includes it. Routes check before they act: a case that leaves an adviser's reach in the same
instant (another person transfers it) may still take that one action.

How much of a resident's text an account sees (``disclosure``, applied by ``bot.console.masking``): whoever
may open a case reads it with phone, ID and card numbers masked (names kept: they talk to the resident);
only the person handling it (``handles``: claimed by the account's person, not closed) may press
"显示完整号码" — an audited action — to see them whole, the callback number (``Ticket.callback_phone``)
included, since that person makes the call. Supervisors and administrators see what an adviser sees
unless they handle the case themselves. Everything else (editors, reviewers, the feedback queue,
exports, analytics) is masked names and all.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, true

from bot.console.analytics import Scope
from bot.console.analytics_sources import places_of
from bot.console.auth import Account
from bot.console.masking import Level
from handoff.directory import Directory, Place
from handoff.models import Ticket

__all__ = ["CASE_ROLES", "account_villages", "actor", "case_filter", "case_scope", "chosen_places", "disclosure",
           "handles", "place_choices", "place_label", "unknown_places"]

CASE_ROLES = ("adviser", "admin")  # the roles that open the case pages at all (others get 403)


def actor(account: Account, directory: Directory) -> str:
    """The directory person behind a console account (its username), else the account itself."""
    person = directory.person(account.username)
    return person.id if person is not None else f"account:{account.username}"


def _places(entry: str, directory: Directory) -> list[Place]:
    """The place an account's entry names: by code, else by a name only one town or village carries."""
    place = directory.place(entry)
    if place is not None:
        return [place]
    named = [p for p in directory.places.values() if p.level in ("town", "village")
             and entry in (p.name, directory.full_name(p.code))]
    return named if len(named) == 1 else []


def account_villages(account: Account, directory: Directory) -> tuple[str, ...]:
    """The place codes an account serves: its villages, and a town listed with all of its villages.

    An entry the directory does not know is kept as written, so it matches a case only if that case's
    village code is exactly it (a village since removed from the directory); it never widens the reach.
    """
    codes: list[str] = []
    for entry in account.villages:
        found = _places(entry, directory)
        if not found:
            codes.append(entry)
        for place in found:
            codes.append(place.code)
            if place.level == "town":
                codes += [v.code for v in directory.villages(place.code)]
    return tuple(dict.fromkeys(codes))


def unknown_places(account: Account, directory: Directory) -> list[str]:
    """The account's entries the directory has no (single) place for: shown so an administrator fixes them."""
    return [entry for entry in account.villages if not _places(entry, directory)]


def place_label(entry: str, directory: Directory | None) -> str:
    """An account's entry as an administrator or adviser reads it: the directory's name, never a bare code.

    A town reads "示例镇（全镇）" (it covers its villages); an entry the directory does not know is marked so.
    """
    found = _places(entry, directory) if directory is not None else []
    if directory is None or not found:
        return f"{entry}（服务目录里没有）"
    place = found[0]
    return f"{place.name}（全镇）" if place.level == "town" else directory.full_name(place.code)


def place_choices(directory: Directory | None) -> list[tuple[str, str]]:
    """(code, name) of every town, each followed by its villages: what an adviser account may be given."""
    if directory is None:
        return []
    return [item for town in directory.towns
            for item in [(town.code, f"{town.name}（全镇）"),
                         *((v.code, directory.full_name(v.code)) for v in directory.villages(town.code))]]


def chosen_places(chosen: list[str], kept: tuple[str, ...], directory: Directory | None) -> tuple[list[str], list[str]]:
    """The codes an administrator ticked, and what was ticked that the directory has no place for.

    An entry the account already had stays allowed when ticked again (a village since removed from the
    directory, or a name written before places were chosen); everything new must be a directory code.
    """
    codes, refused = [], []
    for value in chosen:
        found = _places(value, directory) if directory is not None else []
        if found and (value == found[0].code or value in kept):
            codes.append(found[0].code)
        elif value in kept:
            codes.append(value)
        else:
            refused.append(value)
    return list(dict.fromkeys(codes)), refused


def case_scope(account: Account, directory: Directory) -> Scope:
    """The cases ``account`` may see and act on (the rule in the module docstring)."""
    places = places_of(directory)
    if account.role == "admin":
        return Scope(None, places)
    if account.role != "adviser":
        return Scope((), places)
    person = directory.person(account.username)
    return Scope(account_villages(account, directory), places, actor(account, directory),
                 person is not None and person.role == "hotline_lawyer")


def case_filter(scope: Scope) -> ColumnElement[bool]:
    """A scope as a filter on ``handoff_tickets``: the queue, a case, its actions and ticket analytics use it."""
    if scope.county:
        return true()
    terms: list[ColumnElement[bool]] = []
    if scope.villages:
        terms.append(Ticket.village.in_(scope.villages))
    if scope.person is not None:
        terms += [Ticket.assignee == scope.person, Ticket.owner == scope.person]
    if scope.hotline:
        terms.append(Ticket.target == "hotline")
    return or_(*terms) if terms else false()


def handles(account: Account, ticket: Ticket, directory: Directory) -> bool:
    """The account's person is handling the case now (claimed it, not closed): the one who calls back."""
    return account.role in CASE_ROLES and ticket.state == "claimed" and ticket.owner == actor(account, directory)


def disclosure(account: Account, ticket: Ticket | None = None, directory: Directory | None = None, *,
               reveal: bool = False) -> Level:
    """How much of a resident's text ``account`` sees: of ``ticket`` on its case page, else anywhere else.

    ``reveal`` is the audited "显示完整号码"; it is honoured only for the person handling the case.
    """
    if ticket is None or directory is None or account.role not in CASE_ROLES:
        return "all"
    return "whole" if reveal and handles(account, ticket, directory) else "numbers"
