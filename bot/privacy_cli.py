"""``lawline privacy …``: the retention purge and a resident's request to see or erase their data (PIPL).

Every command that reads or changes a resident's data writes the console's audit log (``privacy.*``, as
``cli:<OS user>``); the audit entries name conversation ids, never the number or openid asked about.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

__all__ = ["privacy"]


def _settings() -> Any:
    from bot.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        raise click.ClickException(f"bad setting {exc}") from exc


@contextmanager
def _database(settings: Any) -> Iterator[Any]:
    """The session factory of the app's database, disposed of when the command ends."""
    from bot.db import make_engine, make_sessions, upgrade_schema

    engine = make_engine(settings.database_url)
    try:
        upgrade_schema(engine)
        yield make_sessions(engine)
    finally:
        engine.dispose()


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"[:60]
    except (OSError, KeyError):
        return "cli"


def _handoff_text() -> str:
    from bot.answers import load_reply_texts

    return load_reply_texts().handoff


def _target(resident: Any) -> str:
    return ("conversations:" + ",".join(str(i) for i in resident.conversation_ids))[:400] or "conversations:-"


def _find(session: Any, who: str, include_mentions: bool) -> Any:
    from bot.privacy import PrivacyError, find_resident

    try:
        resident = find_resident(session, who, include_mentions=include_mentions)
    except PrivacyError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"found by {resident.kind}: {len(resident.keys)} conversation key(s), "
               f"{len(resident.conversation_ids)} conversation(s)")
    if resident.mentions:
        click.echo(f"note: the number also appears in {len(resident.mentions)} other conversation(s), not included "
                   f"(check who they belong to; --include-mentions adds them)", err=True)
    return resident


@click.group()
def privacy() -> None:
    """Residents' personal information (PIPL): retention purge, a resident's export or erasure."""


@privacy.command("purge")
@click.option("--dry-run", is_flag=True, help="Count what would be erased; change nothing.")
def privacy_purge(dry_run: bool) -> None:
    """Erase what is older than LAWLINE_RETENTION_DAYS: messages, Rasa's trackers, closed cases, legal-aid checks.

    The analytics keep their counts (rows are anonymised, not removed). Exits 1 if Rasa's tracker store
    could not be purged (the database part is done; run it again).
    """
    from bot.privacy import purge, rasa_tracker

    settings = _settings()
    tracker = rasa_tracker(settings)
    try:
        with _database(settings) as sessions:
            report = purge(sessions, days=settings.retention_days, handoff_text=_handoff_text(), tracker=tracker,
                           dry_run=dry_run, actor=_actor())
    finally:
        tracker.close()
    for line in report.lines():
        click.echo(line)
    if report.tracker_failed:
        raise SystemExit(1)


@privacy.command("export")
@click.argument("who")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Write the JSON here (readable by you only).")
@click.option("--include-mentions", is_flag=True,
              help="With a phone number: also conversations where it only appears in a message.")
def privacy_export(who: str, out: Path, include_mentions: bool) -> None:
    """Write everything held about a resident to a JSON file (个人信息保护法 第四十五条).

    WHO is a conversation key (official_account:<openid>, union:<unionid>, web:<id>), an openid or unionid,
    or the phone number the resident gives (the cases whose callback number it is).
    """
    from bot.console.auth import audit
    from bot.privacy import export_resident, rasa_tracker
    from nlu.errors import TrackerStoreUnavailable

    settings = _settings()
    tracker = rasa_tracker(settings)
    try:
        with _database(settings) as sessions, sessions.begin() as session:
            resident = _find(session, who, include_mentions)
            data = export_resident(session, resident, tracker)
            counts = {"messages": sum(len(c["messages"]) for c in data["conversations"]),
                      "cases": len(data["cases"]), "legal_aid_checks": len(data["legal_aid_checks"]),
                      "rasa_events": len(data["rasa_tracker"]["events"])}
            audit(session, None, "privacy.export", _target(resident), {"by": resident.kind, **counts},
                  username=_actor())
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, ensure_ascii=False, indent=1)
    except TrackerStoreUnavailable as exc:
        raise click.ClickException(f"{exc}; nothing was written") from exc
    finally:
        tracker.close()
    click.echo(f"written to {out}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@privacy.command("delete")
@click.argument("who")
@click.option("--include-mentions", is_flag=True,
              help="With a phone number: also conversations where it only appears in a message.")
@click.option("--dry-run", is_flag=True, help="Count what would be erased; change nothing.")
@click.option("--yes", is_flag=True, help="Do not ask before erasing.")
def privacy_delete(who: str, include_mentions: bool, dry_run: bool, yes: bool) -> None:
    """Erase everything held about a resident (个人信息保护法 第四十七条), Rasa's tracker included.

    WHO as for `lawline privacy export`. Refused while a case of theirs is still being handled. Texts and
    identifiers are deleted; anonymous rows stay so that past figures in the analytics do not change.
    """
    from bot.console.auth import audit
    from bot.privacy import PrivacyError, delete_resident, rasa_tracker
    from nlu.errors import TrackerStoreUnavailable

    settings = _settings()
    tracker = rasa_tracker(settings)
    try:
        with _database(settings) as sessions, sessions() as session:
            resident = _find(session, who, include_mentions)
            if not dry_run and not yes:
                click.confirm("Erase all of it? This cannot be undone", abort=True)
            counts = delete_resident(session, resident, handoff_text=_handoff_text(), tracker=tracker,
                                     dry_run=dry_run)
            if dry_run:
                session.rollback()
            else:
                audit(session, None, "privacy.delete", _target(resident), {"by": resident.kind, **counts},
                      username=_actor())
                session.commit()
    except PrivacyError as exc:
        raise click.ClickException(f"{exc}; nothing was erased") from exc
    except TrackerStoreUnavailable as exc:
        raise click.ClickException(f"{exc}; nothing was erased") from exc
    finally:
        tracker.close()
    verb = "would erase" if dry_run else "erased"
    click.echo(f"{verb}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
