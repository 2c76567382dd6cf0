"""The ``lawline`` command and its own groups (database, corpus, index, serve, WeChat menu, search, …).

The console, danger, privacy and benchmark groups come from their own modules.

Every command reads the settings once (``LAWLINE_*``), does its work, and exits non-zero with a one-line
reason on failure. Heavy imports (torch, FAISS) happen inside the commands that need them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from bot.bench_cli import bench
from bot.cli_context import RULES_OPTION, CliContext, load_eligibility_rules, pass_context
from bot.danger_cli import danger
from bot.settings import Settings

__all__ = ["main", "proxy_options"]

log = logging.getLogger(__name__)




@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Lawline: the 12348 public legal service assistant.

    Settings come from LAWLINE_* environment variables (see README.md).
    """


# ---- database ----------------------------------------------------------------------------------
@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@pass_context
def db_upgrade(ctx: CliContext) -> None:
    """Create or migrate the database schema to the newest version."""
    from bot.db import make_engine, upgrade_schema

    upgrade_schema(make_engine(ctx.settings.database_url))
    click.echo("schema is up to date")


# ---- corpus ------------------------------------------------------------------------------------
@main.group()
def corpus() -> None:
    """Statutes, cases and answer cards (corpus/data)."""


@corpus.command("import")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--prune", is_flag=True, help="Delete documents whose file is gone (folder imports only).")
@click.option("--verbose", "-v", is_flag=True, help="List every file and what happened to it.")
@pass_context
def corpus_import(ctx: CliContext, path: Path | None, prune: bool, verbose: bool) -> None:
    """Import statutes, cases and answer cards from PATH (default: LAWLINE_CORPUS_DIR).

    Idempotent: unchanged files are skipped. A malformed file is reported with its line and nothing from it
    is written; the other files still import. Exits 1 if any file failed.
    """
    from corpus import import_corpus

    target = path or ctx.settings.corpus_dir
    report = import_corpus(target, ctx.sessions(), prune=prune)
    if verbose:
        for outcome in ("added", "updated", "removed"):
            for name in getattr(report, outcome):
                click.echo(f"{outcome:9} {name}")
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    for error in report.failed:
        click.echo(f"error: {error}", err=True)
    click.echo(f"corpus import: {report.summary()}")
    if report.failed:
        sys.exit(1)


@corpus.command("check")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
def corpus_check(path: Path) -> None:
    """Parse PATH (a file or folder) without writing anything, and show what would be imported."""
    from corpus.cards import parse_card
    from corpus.cases import parse_case
    from corpus.errors import CorpusError
    from corpus.importer import _collect

    files, errors = _collect(path)
    for kind, file in files:
        try:
            if kind == "statute":
                from corpus.statutes import parse_statute

                statute = parse_statute(file)
                m = statute.meta
                click.echo(f"ok statute {m.title} ({m.short_name}; {m.level}; {m.region}; effective {m.effective}; "
                           f"{len(statute.articles)} articles)")
                for warning in statute.warnings:
                    click.echo(f"   warning: {warning}")
            elif kind == "case":
                case = parse_case(file)
                click.echo(f"ok case {case.title} ({case.topic}; {len(case.sections)} sections)")
            else:
                card = parse_card(file)
                click.echo(f"ok card {card.id} ({card.topic}; {len(card.citations)} citations)")
        except CorpusError as exc:
            errors.append(exc)
    for error in errors:
        click.echo(f"error: {error}", err=True)
    if errors:
        sys.exit(1)


# ---- index -------------------------------------------------------------------------------------
@main.group()
def index() -> None:
    """The hybrid retrieval index (BM25 + embeddings in FAISS)."""


@index.command("build")
@click.option("--full", is_flag=True, help="Re-encode every document instead of only new or changed ones.")
@pass_context
def index_build(ctx: CliContext, full: bool) -> None:
    """Build the index from the imported corpus (incremental by default), with a progress bar."""
    from tqdm import tqdm

    from bot.indexing import build_index
    from retrieval.dense import load_encoder

    settings = ctx.settings
    sessions = ctx.sessions()
    encoder = load_encoder(settings.embedding_model, vector_cache=settings.var_dir / "vectors")
    bar = tqdm(total=0, unit="doc", desc="encoding", disable=None)

    def set_total(total: int) -> None:
        bar.total = total
        bar.refresh()

    result = build_index(
        sessions, settings.index_dir, encoder, settings.embedding_model, incremental=not full,
        batch_size=settings.embedding_batch_size, progress=bar.update, on_total=set_total,
    )
    bar.close()
    s, cal = result.stats, result.calibration
    click.echo(
        f"index built: {s.documents} documents ({s.encoded} encoded, {s.reused} reused, {s.removed} removed) "
        f"in {s.seconds:.1f}s; model {settings.embedding_model}; corpus {result.index.manifest.corpus_version}"
    )
    click.echo(f"confidence calibration: {cal['questions']} questions, {cal['examples']} hits, brier {cal['brier']}")
    for row in cal["reliability"]:
        click.echo(f"  predicted {row['bin']}: n={row['n']} mean {row['predicted']} observed {row['observed']}")


@index.command("status")
@pass_context
def index_status(ctx: CliContext) -> None:
    """Show what the saved index was built from, and whether the corpus changed since."""
    from bot.indexing import corpus_documents
    from retrieval.index import IndexError_, RetrievalIndex

    try:
        idx = RetrievalIndex.load(ctx.settings.index_dir)
    except IndexError_ as exc:
        raise click.ClickException(str(exc)) from exc
    m = idx.manifest
    with ctx.sessions()() as session:
        _, version = corpus_documents(session)
    click.echo(f"documents {len(idx.documents)}; model {m.model} ({m.dimension} dims); built {m.built_at}")
    state = "current" if version == m.corpus_version else f"STALE: the database is at {version}"
    click.echo(f"corpus version {m.corpus_version} ({state})")


# ---- serve -------------------------------------------------------------------------------------
def proxy_options(settings: Settings) -> dict[str, Any]:
    """The proxy-header options for uvicorn: believe ``X-Forwarded-*`` only from ``LAWLINE_TRUSTED_PROXIES``.

    uvicorn's own default trusts 127.0.0.1 and ``::1``, so any local process, or a proxy on the same
    host that passes on a client's header, could name any client address. With no trusted proxies the
    headers are not read at all; the app's ``channels.client_address`` applies the same rule.
    """
    trusted = ",".join(str(network) for network in settings.trusted_proxies)
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted or None}


@main.command()
@click.option("--no-rasa", is_flag=True,
              help="Do not start Rasa (answer from retrieval until LAWLINE_RASA_URL answers).")
@pass_context
def serve(ctx: CliContext, no_rasa: bool) -> None:
    """Serve Lawline: the app (WeChat, mini-program, web chat, actions) and a supervised Rasa server.

    Trains the Rasa model first when its data changed. Listens on LAWLINE_HOST:LAWLINE_PORT with
    LAWLINE_WORKERS app processes (default 1).

    The port listens before anything loads (the Rasa check, the index and its encoder, the danger model: 12 s
    on a quiet machine, over 20 s on a busy one): a delivery that arrives while a restarted process loads waits
    in the kernel's queue and is answered once the app is up, instead of being refused until WeChat's three
    retries (about 15 s) are spent. ``lawline bench faults`` (``kill_app``) measures it.
    """
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    from bot.app import create_app, webhook_secret
    from bot.services import build_services
    from bot.supervisor import RasaSupervisor
    from nlu.errors import NluError
    from nlu.layout import RasaLayout
    from nlu.process import RasaServer
    from nlu.project import train_if_changed

    settings = ctx.settings
    secret = webhook_secret(settings)  # Rasa shows it to /webhook; every worker reads the same
    options: dict[str, Any] = {"host": settings.host, "port": settings.port, "log_level": settings.log_level.lower(),
                               "access_log": False, **proxy_options(settings)}
    if settings.workers > 1:
        # Each worker process builds its own services from the same environment; they share the
        # database (and Redis when set), so deduplication, tokens, tickets and queues are common.
        config = uvicorn.Config("bot.app:app_from_environment", factory=True, workers=settings.workers, **options)
    else:
        config = uvicorn.Config(create_app(lambda: build_services(settings), action_secret=secret), **options)
    sock = config.bind_socket()
    sock.listen(config.backlog)  # from now on connections queue; uvicorn accepts them once the app has loaded
    supervisor = None
    if settings.rasa_managed and not no_rasa:
        layout = RasaLayout.default(settings.var_dir)
        try:
            model = train_if_changed(layout.project_dir, layout.models_dir, layout.require_rasa())
        except NluError as exc:
            raise click.ClickException(f"Rasa model: {exc}") from exc
        server = RasaServer(model, layout, port=settings.rasa_port, lawline_port=settings.port,
                            env={"LAWLINE_ACTION_SECRET": secret})
        supervisor = RasaSupervisor(server).start()
    try:
        if settings.workers > 1:
            Multiprocess(config, sockets=[sock]).run()
        else:
            app_server = uvicorn.Server(config)
            app_server.run(sockets=[sock])
            if not app_server.started:  # the app did not start (its reason is logged), as uvicorn.run exits
                raise SystemExit(STARTUP_FAILURE)
    finally:
        sock.close()
        if supervisor is not None:
            supervisor.stop()


# ---- search ------------------------------------------------------------------------------------
@main.group()
def wechat() -> None:
    """Set up the WeChat official account."""


@wechat.command("menu")
@click.option("--apply", "apply_", is_flag=True, help="Send the menu to WeChat (menu/create) instead of printing it.")
@pass_context
def wechat_menu(ctx: CliContext, apply_: bool) -> None:
    """Print the official account's menu as JSON, or create it on WeChat with --apply.

    The menu's click keys are the ones /wechat answers; the web chat button appears when LAWLINE_PUBLIC_URL
    is an https:// address. Needs LAWLINE_WECHAT_APPID and LAWLINE_WECHAT_APPSECRET for --apply.
    """
    import asyncio

    from channels.menu import official_account_menu

    settings = ctx.settings
    menu = official_account_menu(settings.public_url)
    if not apply_:
        click.echo(json.dumps(menu, ensure_ascii=False, indent=2))
        return
    if not (settings.wechat_appid and settings.wechat_appsecret):
        raise click.ClickException("set LAWLINE_WECHAT_APPID and LAWLINE_WECHAT_APPSECRET to create the menu")

    async def create() -> None:
        from bot.db import make_engine, upgrade_schema
        from channels.errors import WeChatError
        from channels.storage import KeyValueStore, RedisStore, SqlStore
        from channels.wechat_api import WeChatClient

        engine = make_engine(settings.database_url)
        upgrade_schema(engine)
        # The shared store: the running app's workers and this command use one access token.
        store: KeyValueStore = RedisStore.from_url(settings.redis_url) if settings.redis_url else SqlStore(engine)
        client = WeChatClient(settings.wechat_appid or "", settings.wechat_appsecret or "", store,
                              api_base=settings.wechat_api_base)
        try:
            await client.create_menu(menu)
        except WeChatError as exc:
            raise click.ClickException(f"WeChat refused the menu: {exc}") from exc
        finally:
            await client.aclose()
            if isinstance(store, RedisStore):
                await store.aclose()
            engine.dispose()

    asyncio.run(create())
    click.echo(f"menu created: {', '.join(b['name'] for b in menu['button'])}")


def _parse_day(_ctx: Any, _param: Any, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD") from None


@main.command()
@click.argument("query")
@click.option("--top", default=5, show_default=True, type=click.IntRange(1, 100), help="How many hits.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (hits with citations and scores).")
@click.option("--region", help="A province, e.g. 山东省: its local rules and national law.")
@click.option("--law", help="Only this law (full title or short name).")
@click.option("--level", multiple=True, help="Only these levels (law, judicial_interpretation, …).")
@click.option("--kind", multiple=True, type=click.Choice(["article", "case", "card"]), help="Only these kinds.")
@click.option("--on", "on", callback=_parse_day, help="Law in force on this date (default today).")
@click.option("--context", multiple=True, metavar="CITATION",
              help="An earlier citation of the conversation, e.g. 《中华人民共和国劳动合同法》第三十条: the law "
                   "of a 第X条 asked alone.")
@pass_context
def search(ctx: CliContext, query: str, top: int, as_json: bool, region: str | None, law: str | None,
           level: tuple[str, ...], kind: tuple[str, ...], on: dt.date | None, context: tuple[str, ...]) -> None:
    """Search statutes, cases and answer cards for QUERY and print cited hits with scores.

    An article QUERY cites (劳动合同法第30条, 民法典1067条 …) is looked up and listed first.
    """
    from bot.indexing import open_retriever
    from retrieval.documents import Filters
    from retrieval.index import IndexError_

    try:
        retriever = open_retriever(ctx.settings.index_dir, ctx.settings.embedding_model)
    except IndexError_ as exc:
        raise click.ClickException(str(exc)) from exc
    filters = Filters(region=region, law=law, levels=frozenset(level) or None, kinds=frozenset(kind) or None, on=on)
    hits = retriever.search(query, k=top, filters=filters, context=context)
    cited = retriever.citations.resolve(query, filters=filters, context=context)
    if as_json:
        click.echo(json.dumps({"query": query, "hits": [h.to_json() for h in hits],
                               "citations": [c.to_json() for c in cited]}, ensure_ascii=False))
        return
    for notice in filter(None, (c.notice() for c in cited)):
        click.echo(notice)
    if not hits:
        click.echo("没有找到相关的法条或案例。")
        return
    for hit in hits:
        doc = hit.document
        how = "cited: looked up" if hit.cited else (
            f"score {hit.score:.3f} (bm25 {hit.sparse_score:.2f}, dense {hit.dense_score:.2f})")
        click.echo(f"{hit.rank}. {doc.citation}  [{doc.kind}] {how} confidence {hit.confidence:.2f}")
        if doc.place:
            click.echo(f"   {doc.place}")
        for line in doc.text.splitlines()[:6]:
            click.echo(f"   {line}")
        if doc.cites:
            click.echo(f"   依据：{'、'.join(doc.cites)}")


# ---- eligibility -------------------------------------------------------------------------------
@main.group()
def eligibility() -> None:
    """The legal-aid eligibility check (法律援助自测)."""


@eligibility.command("check")
@click.option("--json", "raw", required=True, metavar="INPUT",
              help='{"province": "山东", "matter": "<code>", "has_lawyer": false, '
                   '"household_monthly_income_per_capita": 800 | null, "statuses": ["<code>", …]}')
@RULES_OPTION
def eligibility_check(raw: str, rules_dir: Path | None) -> None:
    """Decide one case; the last line is one JSON object: decision, means_test, basis, explanation, rules_version.

    Unknown codes or malformed input: the reason on stderr, {"error": …} on stdout, exit 2.
    """
    from bot.eligibility import InputError, decide, parse_input

    rules = load_eligibility_rules(rules_dir)
    try:
        decision = decide(parse_input(json.loads(raw), rules), rules)
    except (ValueError, InputError) as exc:
        reason = str(exc) if isinstance(exc, InputError) else f"input is not valid JSON ({exc})"
        click.echo(f"error: {reason}", err=True)
        click.echo(json.dumps({"error": reason}, ensure_ascii=False))
        sys.exit(2)
    click.echo(json.dumps(decision.to_audit(), ensure_ascii=False))


# ---- console (issue #6) -------------------------------------------------------------------------
def _console_group() -> click.Group:
    from bot.console.cli import console

    return console


main.add_command(_console_group())


# ---- handoff -----------------------------------------------------------------------------------
@main.group()
def handoff() -> None:
    """Escalation to people: the service directory (LAWLINE_DIRECTORY)."""


@handoff.command("check")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@pass_context
def handoff_check(ctx: CliContext, path: Path | None) -> None:
    """Check a directory file (default LAWLINE_DIRECTORY): every mistake as file:line, then what is not configured."""
    from handoff import DirectoryError, load_directory

    target = path or ctx.settings.directory
    try:
        directory = load_directory(target)
    except DirectoryError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(1)
    kind = "SAMPLE (fictional)" if directory.sample else ("configured" if directory.configured else "NOT configured")
    click.echo(f"{target}: {directory.county.name}, {kind}; {len(directory.towns)} towns, "
               f"{len(directory.villages())} villages, {len(directory.people)} people, {len(directory.groups)} groups, "
               f"{len(directory.points)} service points")
    for note in directory.notes():
        click.echo(f"note: {note}")


main.add_command(bench)
main.add_command(danger)


def _privacy_group() -> click.Group:
    from bot.privacy_cli import privacy  # retention purge, a resident's export or erasure (issue #16)

    return privacy


main.add_command(_privacy_group())
