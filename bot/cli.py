"""The ``lawline`` command: corpus import, index build, search and benchmarks.

Every command reads the settings once (``LAWLINE_*``), does its work, and exits non-zero with a one-line
reason on failure. Heavy imports (torch, FAISS) happen inside the commands that need them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from bot.settings import Settings, SettingsError, load_settings

__all__ = ["main", "proxy_options"]

log = logging.getLogger(__name__)


class _Context:
    def __init__(self) -> None:
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings()
            except SettingsError as exc:
                raise click.ClickException(f"bad setting {exc}") from exc
            logging.basicConfig(level=self._settings.log_level, format="%(levelname)s %(name)s: %(message)s")
            for noisy in ("alembic", "sentence_transformers", "bm25s", "httpx", "jieba"):
                logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
        return self._settings

    def sessions(self) -> Any:
        from bot.db import make_engine, make_sessions, upgrade_schema

        engine = make_engine(self.settings.database_url)
        upgrade_schema(engine)
        return make_sessions(engine)


pass_context = click.make_pass_decorator(_Context, ensure=True)


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
def db_upgrade(ctx: _Context) -> None:
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
def corpus_import(ctx: _Context, path: Path | None, prune: bool, verbose: bool) -> None:
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
def index_build(ctx: _Context, full: bool) -> None:
    """Build the index from the imported corpus (incremental by default), with a progress bar."""
    from tqdm import tqdm

    from bot.indexing import build_index
    from retrieval.dense import load_encoder

    settings = ctx.settings
    sessions = ctx.sessions()
    encoder = load_encoder(settings.embedding_model)
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
def index_status(ctx: _Context) -> None:
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
def serve(ctx: _Context, no_rasa: bool) -> None:
    """Serve Lawline: the app (WeChat, mini-program, web chat, actions) and a supervised Rasa server.

    Trains the Rasa model first when its data changed. Listens on LAWLINE_HOST:LAWLINE_PORT with
    LAWLINE_WORKERS app processes (default 1).
    """
    import uvicorn

    from bot.app import create_app, webhook_secret
    from bot.services import build_services
    from bot.supervisor import RasaSupervisor
    from nlu.errors import NluError
    from nlu.layout import RasaLayout
    from nlu.process import RasaServer
    from nlu.project import train_if_changed

    settings = ctx.settings
    secret = webhook_secret(settings)  # Rasa shows it to /webhook; every worker reads the same
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
            # Each worker process builds its own services from the same environment; they share the
            # database (and Redis when set), so deduplication, tokens, tickets and queues are common.
            uvicorn.run("bot.app:app_from_environment", factory=True, workers=settings.workers,
                        host=settings.host, port=settings.port, log_level=settings.log_level.lower(),
                        access_log=False, **proxy_options(settings))
        else:
            uvicorn.run(create_app(lambda: build_services(settings), action_secret=secret), host=settings.host,
                        port=settings.port, log_level=settings.log_level.lower(), access_log=False,
                        **proxy_options(settings))
    finally:
        if supervisor is not None:
            supervisor.stop()


# ---- search ------------------------------------------------------------------------------------
@main.group()
def wechat() -> None:
    """Set up the WeChat official account."""


@wechat.command("menu")
@click.option("--apply", "apply_", is_flag=True, help="Send the menu to WeChat (menu/create) instead of printing it.")
@pass_context
def wechat_menu(ctx: _Context, apply_: bool) -> None:
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
def search(ctx: _Context, query: str, top: int, as_json: bool, region: str | None, law: str | None,
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
_RULES_OPTION = click.option("--rules", "rules_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
                             help="Rules folder (default: the one the app uses: $LAWLINE_CORPUS_DIR/eligibility "
                                  "when it has rules, else corpus/data/eligibility).")


def _load_eligibility_rules(rules_dir: Path | None) -> Any:
    from bot.eligibility import DEFAULT_RULES_DIR, RulesError, load_rules
    from bot.eligibility.rules import rules_folder

    if rules_dir is None:  # not load_settings(): the audit command must not depend on unrelated settings
        corpus = os.environ.get("LAWLINE_CORPUS_DIR")
        rules_dir = rules_folder(Path(corpus).expanduser()) if corpus else DEFAULT_RULES_DIR
    try:
        return load_rules(rules_dir)
    except RulesError as exc:
        raise click.ClickException(f"eligibility rules: {exc}") from exc


@main.group()
def eligibility() -> None:
    """The legal-aid eligibility check (法律援助自测)."""


@eligibility.command("check")
@click.option("--json", "raw", required=True, metavar="INPUT",
              help='{"province": "山东", "matter": "<code>", "has_lawyer": false, '
                   '"household_monthly_income_per_capita": 800 | null, "statuses": ["<code>", …]}')
@_RULES_OPTION
def eligibility_check(raw: str, rules_dir: Path | None) -> None:
    """Decide one case; the last line is one JSON object: decision, means_test, basis, explanation, rules_version.

    Unknown codes or malformed input: the reason on stderr, {"error": …} on stdout, exit 2.
    """
    from bot.eligibility import InputError, decide, parse_input

    rules = _load_eligibility_rules(rules_dir)
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


def _danger_commands() -> None:
    from bot.bench_cli import bench_dialogue, bench_faults, bench_multinode
    from bot.danger_cli import bench_danger, danger
    from bot.scope_bench import bench_cards

    main.add_command(danger)
    bench.add_command(bench_danger)
    bench.add_command(bench_faults)
    bench.add_command(bench_multinode)
    bench.add_command(bench_dialogue)
    bench.add_command(bench_cards)


# ---- benchmarks --------------------------------------------------------------------------------
@main.group()
def bench() -> None:
    """Speed and quality benchmarks (results go to docs/BENCHMARKS.md)."""


@bench.command("retrieval")
@click.option("--corpus", "corpus_file", required=True, type=click.Path(exists=True, path_type=Path),
              help='JSONL lines {"id", "law", "article_no", "text"}, or a corpus folder (corpus/data) indexed as '
                   "production indexes it.")
@click.option("--queries", "queries_file", type=click.Path(exists=True, path_type=Path),
              help='JSONL lines {"id", "query", "relevant": [ids]}.')
@click.option("--citations", "citations_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='JSONL lines {"query", "context", "law", "article"}: the share found at rank 1 '
                   "(tests/data/retrieval/citations.jsonl).")
@click.option("--top", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="End with one JSON line of the metrics.")
@click.option("--model", help="Embedding model (default LAWLINE_EMBEDDING_MODEL).")
@click.option("--dense-weight", type=click.FloatRange(0, 1), help="Override the fusion weight (for ablations).")
@pass_context
def bench_retrieval(ctx: _Context, corpus_file: Path, queries_file: Path | None, citations_file: Path | None,
                    top: int, as_json: bool, model: str | None, dense_weight: float | None) -> None:
    """Index a corpus with the production pipeline and report recall@k, MRR@10, latency, build time, RSS.

    With --citations, also the share of citation forms whose exact article comes first.
    """
    import dataclasses

    from tqdm import tqdm

    from bot.benchmarks import load_bench_corpus
    from bot.indexing import DEFAULT_FUSION, analyzer_info, folder_documents
    from corpus.errors import CorpusError
    from retrieval.bench import BenchError, load_citations, load_queries, run_retrieval_bench
    from retrieval.dense import load_encoder
    from retrieval.text import load_analyzer

    if queries_file is None and citations_file is None:
        raise click.UsageError("give --queries, --citations or both")
    model_id = model or ctx.settings.embedding_model
    fusion = DEFAULT_FUSION if dense_weight is None else dataclasses.replace(DEFAULT_FUSION, dense_weight=dense_weight)
    try:
        docs = folder_documents(corpus_file) if corpus_file.is_dir() else load_bench_corpus(corpus_file)
        queries = load_queries(queries_file) if queries_file else []
        citations = load_citations(citations_file) if citations_file else []
    except (BenchError, CorpusError) as exc:
        raise click.ClickException(str(exc)) from exc
    encoder = load_encoder(model_id)
    wrong: list[str] = []
    with tqdm(total=len(docs), unit="doc", desc="encoding", disable=None) as bar:
        result = run_retrieval_bench(
            docs, queries, encoder, model_id, load_analyzer(), analyzer_info(), top=top, fusion=fusion,
            batch_size=ctx.settings.embedding_batch_size, progress=bar.update, citations=citations, wrong=wrong,
        )
    click.echo(f"model {model_id}; dense weight {fusion.dense_weight}; {int(result['documents'])} documents, "
               f"{int(result['queries'])} queries" + (f", {len(citations)} citation lines" if citations else ""))
    keys: tuple[str, ...] = ()
    if queries:
        keys = ("recall@1", "recall@5", "recall@10", "recall@20", "mrr@10", "p50_ms", "p95_ms")
        for key in ("recall@1", "recall@5", "recall@10", "recall@20", "mrr@10"):
            click.echo(f"{key:10} {result[key]:.4f}")
        click.echo(f"latency    p50 {result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms")
    if citations:
        keys += ("citations@1", "citations_repealed", "citations_none")
        click.echo(f"citations  exact article at rank 1 {result['citations@1']:.4f}; repealed law named with its "
                   f"successor {result['citations_repealed']:.4f}; nothing pinned when none cited "
                   f"{result['citations_none']:.4f}")
        for line in wrong:
            click.echo(f"  wrong: {line}")
    click.echo(f"build      {result['index_build_s']:.1f} s; peak RSS {result['peak_rss_mb']:.0f} MB")
    if as_json:
        keys += ("index_build_s", "peak_rss_mb")
        click.echo(json.dumps({k: round(result[k], 4) for k in keys}))


@bench.command("intent")
@click.option("--data", "data_file", required=True, type=click.Path(exists=True, path_type=Path),
              help='JSONL lines {"text", "label"}; labels wages/support/land/dispute/other.')
@click.option("--json", "as_json", is_flag=True, help="End with one JSON line: accuracy, macro_f1, per_class.")
@click.option("--rasa-url", help="Use this running Rasa server instead of training/starting one.")
@pass_context
def bench_intent_command(ctx: _Context, data_file: Path, as_json: bool, rasa_url: str | None) -> None:
    """Classify every line with the trained Rasa model; accuracy, macro-F1, per-class scores, confusion matrix."""
    from nlu.errors import NluError
    from nlu.intent_bench import bench_intent, format_intent_table

    try:
        result = bench_intent(data_file, rasa_url, var_dir=ctx.settings.var_dir)
    except (NluError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(format_intent_table(result))
    if as_json:
        keys = ("accuracy", "macro_f1", "per_class")
        click.echo(json.dumps({k: result[k] for k in keys}, ensure_ascii=False))


@bench.command("load")
@click.option("--levels", default="1,10,50", show_default=True, help="Concurrent residents per run, comma-separated.")
@click.option("--per-resident", default=4, show_default=True, type=click.IntRange(1, 1000),
              help="Messages each resident sends, one after another.")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON line of the results.")
@pass_context
def bench_load(ctx: _Context, levels: str, per_resident: int, as_json: bool) -> None:
    """Simulated residents push signed, AES-encrypted messages to /wechat through the full stack.

    Starts `lawline serve` (app, actions, Rasa) on free loopback ports with the configured database and index,
    and a local stand-in of the WeChat API; prints throughput and p50/p99 latency per concurrency level.
    """
    from bot.loadbench import run_load_bench

    try:
        counts = tuple(int(x) for x in levels.split(",") if x.strip())
    except ValueError:
        raise click.BadParameter("use numbers like 1,10,50", param_hint="--levels") from None
    try:
        result = run_load_bench(ctx.settings.var_dir, counts, per_resident)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("residents  messages  msg/s   p50 ms   p99 ms   max ms  passive  pushed  answered  fallback  errors"
               "  cs/msg")
    for row in result["levels"]:
        click.echo(f"{row['residents']:>9} {row['messages']:>9} {row['throughput_per_s']:>6} {row['p50_ms']:>8} "
                   f"{row['p99_ms']:>8} {row['max_ms']:>8} {row['passive']:>8} {row['pushed']:>7} "
                   f"{row['answered']:>9} {row['from_fallback']:>9} {row['errors']:>7} {row['cs_per_message']:>7}")
    if as_json:
        click.echo(json.dumps(result))


@bench.command("eligibility")
@click.option("--cases", "cases_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='JSONL lines {"input": {…}, "expect": {"decision", "means_test", "basis"}} written by the team.')
@click.option("--json", "as_json", is_flag=True, help="End with one JSON line of the results.")
@_RULES_OPTION
def bench_eligibility(cases_file: Path, as_json: bool, rules_dir: Path | None) -> None:
    """Score the eligibility engine on the team's cases: accuracy per key and per decision, and the failures."""
    from bot.eligibility.bench import load_cases, run_bench
    from bot.eligibility.errors import BenchCaseError

    rules = _load_eligibility_rules(rules_dir)
    try:
        result = run_bench(load_cases(cases_file), rules)
    except BenchCaseError as exc:
        raise click.ClickException(f"{cases_file}: {exc}") from exc
    click.echo(f"rules {result['rules_version']}; {result['cases']} cases, {result['passed']} passed, "
               f"accuracy {result['accuracy']:.4f}; {result['ms_per_decision']} ms per decision")
    for key, value in result["per_key"].items():
        click.echo(f"  {key:11} {value:.4f}")
    for decision, row in result["per_decision"].items():
        click.echo(f"  expected {decision:13} {row['passed']}/{row['cases']}")
    for failure in result["failures"]:
        click.echo(f"  FAILED {failure['id']}: expected {failure['expect']}, got {failure['got']}")
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))


@bench.command("handoff")
@click.option("--residents", default=50, show_default=True, type=click.IntRange(1, 500),
              help="Residents escalating at the same moment.")
@click.option("--towns", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option("--villages", default=8, show_default=True, type=click.IntRange(2, 100), help="Villages per town.")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON line of the results.")
@pass_context
def bench_handoff(ctx: _Context, residents: int, towns: int, villages: int, as_json: bool) -> None:
    """Time from a resident's message to the case card in the adviser's WeChat Work group.

    Starts `lawline serve --no-rasa` with a fresh database, a generated fictional county (an adviser per two
    villages, a group per adviser) and local stand-ins of WeChat and the group robots; RESIDENTS residents
    in different villages escalate at once. Prints p50/p99 latency, tickets, cards and lost cards.
    """
    from bot.handoffbench import run_handoff_bench

    try:
        result = run_handoff_bench(ctx.settings, residents=residents, towns=towns, villages=villages)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{result['residents']} residents in {result['villages']} villages, {result['groups']} work groups "
               f"({result['groups_used']} reached, at most {result['max_cards_per_group']} cards in one)")
    click.echo(f"tickets {result['tickets']}, cards {result['cards']}, lost {result['lost']}, "
               f"robot refusals {result['robot_refusals']}")
    click.echo(f"message → card: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, max {result['max_ms']} ms")
    if as_json:
        click.echo(json.dumps(result))


# ---- handoff -----------------------------------------------------------------------------------
@main.group()
def handoff() -> None:
    """Escalation to people: the service directory (LAWLINE_DIRECTORY)."""


@handoff.command("check")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@pass_context
def handoff_check(ctx: _Context, path: Path | None) -> None:
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


_danger_commands()


def _privacy_group() -> click.Group:
    from bot.privacy_cli import privacy  # retention purge, a resident's export or erasure (issue #16)

    return privacy


main.add_command(_privacy_group())
