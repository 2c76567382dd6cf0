"""``lawline console …``: accounts (the first administrator is made here), feedback export, weekly summary."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from bot.console.auth import ROLE_NAMES, ROLES

__all__ = ["console"]


def _sessions() -> Any:
    from bot.db import make_engine, make_sessions, upgrade_schema
    from bot.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        raise click.ClickException(f"bad setting {exc}") from exc
    engine = make_engine(settings.database_url)
    upgrade_schema(engine)
    return make_sessions(engine)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("密码（至少 10 位）", hide_input=True, confirmation_prompt="再输一遍"))


@click.group()
def console() -> None:
    """The knowledge editors' console (/console): accounts, feedback pairs, weekly summary."""


@console.group()
def user() -> None:
    """Console accounts: editor, reviewer, adviser (村居法律顾问), admin."""


@user.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the account may do.")
@click.option("--name", "display_name", default="", help="The person's name as shown in the console.")
@click.option("--village", "villages", multiple=True, help="A village or town an adviser serves (repeat).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def user_add(username: str, role: str, display_name: str, villages: tuple[str, ...], password_stdin: bool) -> None:
    """Create an account (asks for the password twice unless --password-stdin)."""
    from bot.console.accounts import AccountError, create_account
    from bot.console.passwords import PasswordPolicyError

    password = _password(password_stdin)
    try:
        with _sessions().begin() as session:
            account = create_account(session, username, password, role, display_name=display_name,
                                     villages=villages)
            click.echo(f"created {account.username} ({role}, {ROLE_NAMES[role]})")
    except (AccountError, PasswordPolicyError) as exc:
        raise click.ClickException(str(exc)) from exc


@user.command("list")
def user_list() -> None:
    """List the accounts."""
    from bot.console.accounts import list_accounts

    with _sessions()() as session:
        for row in list_accounts(session):
            state = "active" if row.active else "disabled"
            villages = f" villages={','.join(row.villages)}" if row.villages else ""
            click.echo(f"{row.username:20} {row.role:9} {state:8} {row.display_name}{villages}")


@user.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def user_passwd(username: str, password_stdin: bool) -> None:
    """Set a new password (ends the account's sessions)."""
    from bot.console.accounts import find_account, set_password
    from bot.console.passwords import PasswordPolicyError

    password = _password(password_stdin)
    with _sessions().begin() as session:
        row = find_account(session, username)
        if row is None:
            raise click.ClickException(f"no account {username}")
        try:
            set_password(session, row, password)
        except PasswordPolicyError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"password of {username} changed")


@user.command("set")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES))
@click.option("--disable/--enable", "disabled", default=None, help="Stop or allow signing in.")
@click.option("--village", "villages", multiple=True, help="Replace the villages/towns (repeat).")
def user_set(username: str, role: str | None, disabled: bool | None, villages: tuple[str, ...]) -> None:
    """Change an account's role, villages or active state (a new role or disabling signs it out)."""
    from bot.console.accounts import AccountError, find_account, update_account

    with _sessions().begin() as session:
        row = find_account(session, username)
        if row is None:
            raise click.ClickException(f"no account {username}")
        try:
            update_account(session, row, role=role, active=None if disabled is None else not disabled,
                           villages=villages or None)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"updated {username}")


@console.command("export-feedback")
@click.option("--queries", "queries_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Write the editors' question → article pairs here (bench --queries format).")
@click.option("--corpus", "corpus_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the current articles here (bench --corpus format, same ids).")
def export_feedback(queries_file: Path, corpus_file: Path | None) -> None:
    """Export the feedback pairs for `lawline bench retrieval --queries FILE --corpus FILE`."""
    from bot.console.feedback import export_queries, jsonl
    from bot.indexing import corpus_documents

    with _sessions()() as session:
        documents, _ = corpus_documents(session)
        rows = export_queries(session, documents)
    queries_file.write_text(jsonl(rows), encoding="utf-8")
    click.echo(f"{len(rows)} queries written to {queries_file}")
    if corpus_file is not None:
        articles = [{"id": d.id, "law": d.law or d.title, "article_no": d.label, "text": d.text}
                    for d in documents if d.kind == "article" and d.ends is None]
        corpus_file.write_text(jsonl(articles), encoding="utf-8")
        click.echo(f"{len(articles)} articles written to {corpus_file}")


def _report_inputs() -> tuple[Any, Any, Any]:
    """The settings, the service directory (or None) and the names of codes, as the console loads them."""
    from bot.console.analytics_sources import service_directory
    from bot.console.names import load_names
    from bot.eligibility.rules import rules_folder
    from bot.settings import load_settings

    settings = load_settings()
    return settings, service_directory(settings.directory), load_names(rules_folder(settings.corpus_dir))


@console.command("weekly")
@click.option("--weeks", default=12, show_default=True, type=click.IntRange(3, 104))
def weekly(weeks: int) -> None:
    """Print the weekly summary of the last full week, Monday to Sunday, Beijing time (no personal data)."""
    from bot.console.analytics import Scope, build_report
    from bot.console.analytics_sources import DEFAULT_SOURCES, places_of

    _, directory, names = _report_inputs()
    scope = Scope(None, places_of(directory) if directory is not None else {})
    with _sessions()() as session:
        report = build_report(session, weeks=weeks, scope=scope, names=names, sources=DEFAULT_SOURCES)
    for line in report.summary:
        click.echo(line)


@console.command("warn")
def warn() -> None:
    """Send this week's new hot-spot warnings (热点预警) to the administrators' work-group robot, once each.

    Run it from a timer (e.g. hourly); the warnings go into the robot outbox, which the app's robot worker
    sends. Exits 1 when there are warnings but no group to send them to (LAWLINE_DIRECTORY).
    """
    from bot.console.analytics_sources import places_of
    from bot.console.auth import utcnow
    from bot.console.figures import week_of
    from bot.console.hotspots import hot_spots, load_thresholds, send_warnings
    from handoff.routing import supervisor_group

    _, directory, names = _report_inputs()
    now = utcnow()
    places = places_of(directory) if directory is not None else {}
    sessions = _sessions()
    try:
        with sessions.begin() as session:
            spots = hot_spots(session, week_of(now), places, names, load_thresholds())
            group = supervisor_group(directory) if directory is not None else None
            if spots and group is None:
                click.echo("error: no work group for warnings (the directory's supervisor group, or hotline_group)",
                           err=True)
                sys.exit(1)
            sample = bool(directory and directory.sample)
            new = send_warnings(session, spots, group, now, sample=sample) if group else []
    finally:
        sessions.kw["bind"].dispose()
    for spot in new:
        click.echo(f"sent: {spot.text}")
    click.echo(f"{len(spots)} hot spots this week, {len(new)} new warnings queued")
