"""``lawline bench``: every benchmark command (results go to docs/BENCHMARKS.md).

Retrieval, intent, load, eligibility and handoff here, with the whole stack under faults, on two nodes and in
conversation; the danger and card-scope benches come from their own modules.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from bot.cli_context import RULES_OPTION, CliContext, load_eligibility_rules, pass_context
from bot.danger_cli import bench_danger
from bot.faultbench import FAULTS
from bot.scope_bench import bench_cards

__all__ = ["bench"]


@click.group()
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
@click.option("--cases", "cases_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='JSONL lines {"id", "query", "relevant": ["case:…"] or []}: the reference case found first among '
                   "the case hits (tests/data/retrieval/cases.jsonl; needs a corpus folder).")
@click.option("--case-show-at", default=0.5, show_default=True, type=click.FloatRange(0, 1),
              help="Confidence from which the first case hit counts as shown.")
@click.option("--top", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="End with one JSON line of the metrics.")
@click.option("--model", help="Embedding model (default LAWLINE_EMBEDDING_MODEL).")
@click.option("--dense-weight", type=click.FloatRange(0, 1), help="Override the fusion weight (for ablations).")
@click.option("--vector-cache", type=click.Path(file_okay=False, path_type=Path),
              help="Keep e5's document vectors in this folder (under /tmp or var/, never committed) so that the next "
                   "run on the same corpus encodes nothing.")
@pass_context
def bench_retrieval(ctx: CliContext, corpus_file: Path, queries_file: Path | None, citations_file: Path | None,
                    cases_file: Path | None, case_show_at: float, top: int, as_json: bool, model: str | None,
                    dense_weight: float | None, vector_cache: Path | None) -> None:
    """Index a corpus with the production pipeline and report recall@k, MRR@10, latency, build time, RSS.

    With --citations, also the share of citation forms whose exact article comes first; with --cases, how often
    the right reference case comes first among the case hits.
    """
    import dataclasses

    from tqdm import tqdm

    from bot.benchmarks import load_bench_corpus
    from bot.indexing import analyzer_info, folder_documents, fusion_for
    from corpus.errors import CorpusError
    from retrieval.bench import BenchError, load_citations, load_queries, run_retrieval_bench
    from retrieval.dense import load_encoder
    from retrieval.text import load_analyzer

    if queries_file is None and citations_file is None and cases_file is None:
        raise click.UsageError("give --queries, --citations, --cases or several")
    model_id = model or ctx.settings.embedding_model
    fusion = fusion_for(model_id)
    if dense_weight is not None:
        fusion = dataclasses.replace(fusion, dense_weight=dense_weight)
    try:
        docs = folder_documents(corpus_file) if corpus_file.is_dir() else load_bench_corpus(corpus_file)
        queries = load_queries(queries_file) if queries_file else []
        citations = load_citations(citations_file) if citations_file else []
        cases = load_queries(cases_file) if cases_file else []
    except (BenchError, CorpusError) as exc:
        raise click.ClickException(str(exc)) from exc
    encoder = load_encoder(model_id, vector_cache=vector_cache)
    wrong: list[str] = []
    with tqdm(total=len(docs), unit="doc", desc="encoding", disable=None) as bar:
        result = run_retrieval_bench(
            docs, queries, encoder, model_id, load_analyzer(), analyzer_info(), top=top, fusion=fusion,
            batch_size=ctx.settings.embedding_batch_size, progress=bar.update, citations=citations, wrong=wrong,
            cases=cases, case_show_at=case_show_at,
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
    if cases:
        keys += ("case@1", "case@3", "case_shown_right", "case_shown_wrongly")
        click.echo(f"cases      right case first {result['case@1']:.4f}, in the first three {result['case@3']:.4f} "
                   f"({int(result['case_queries'])} questions); shown at {case_show_at}: right "
                   f"{result['case_shown_right']:.4f}, for a question no case fits {result['case_shown_wrongly']:.4f} "
                   f"({int(result['case_none_queries'])} questions)")
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
def bench_intent_command(ctx: CliContext, data_file: Path, as_json: bool, rasa_url: str | None) -> None:
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
@click.option("--plain/--no-plain", default=True, show_default=True,
              help="Run the same levels again with Rasa's own `rasa run` (without the project's runtime fixes) and "
                   "compare CPU per message.")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON line of the results.")
@pass_context
def bench_load(ctx: CliContext, levels: str, per_resident: int, plain: bool, as_json: bool) -> None:
    """Simulated residents push signed, AES-encrypted messages to /wechat through the full stack.

    Starts `lawline serve` (app, actions, Rasa) on free loopback ports with the configured database and index,
    and a local stand-in of the WeChat API; prints throughput and p50/p99 latency per concurrency level, the
    CPU milliseconds per message of the app and Rasa, and (with --plain) the same behind a plain `rasa run`
    with the ratio of the two.
    """
    from bot.loadbench import run_load_bench

    try:
        counts = tuple(int(x) for x in levels.split(",") if x.strip())
    except ValueError:
        raise click.BadParameter("use numbers like 1,10,50", param_hint="--levels") from None
    try:
        result = run_load_bench(ctx.settings.var_dir, counts, per_resident, plain=plain)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
    stacks = [("lawline", result)] + ([("plain rasa", result["plain"])] if "plain" in result else [])
    click.echo("stack       residents  messages  msg/s   p50 ms   p99 ms   max ms  passive  pushed  answered  fallback"
               "  errors  cs/msg")
    for name, stack in stacks:
        for row in stack["levels"]:
            click.echo(f"{name:<11} {row['residents']:>9} {row['messages']:>9} {row['throughput_per_s']:>6} "
                       f"{row['p50_ms']:>8} {row['p99_ms']:>8} {row['max_ms']:>8} {row['passive']:>8} "
                       f"{row['pushed']:>7} {row['answered']:>9} {row['from_fallback']:>9} {row['errors']:>7} "
                       f"{row['cs_per_message']:>7}")
    for name, stack in stacks:
        click.echo(f"CPU ms per message, app + Rasa ({name}): "
                   + ", ".join(f"{row['residents']} residents {row['cpu_ms_per_message']}" for row in stack["levels"])
                   + f"; levels without fallback {stack['cpu_ms_per_message']}")
    if "cpu_ratio" in result:
        click.echo(f"plain / lawline CPU per message: {result['cpu_ratio']} (levels {result['cpu_ratio_levels']}, "
                   "where both answered every message through Rasa)")
    if as_json:
        click.echo(json.dumps(result))


@bench.command("eligibility")
@click.option("--cases", "cases_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='JSONL lines {"input": {…}, "expect": {"decision", "means_test", "basis"}} written by the team.')
@click.option("--json", "as_json", is_flag=True, help="End with one JSON line of the results.")
@RULES_OPTION
def bench_eligibility(cases_file: Path, as_json: bool, rules_dir: Path | None) -> None:
    """Score the eligibility engine on the team's cases: accuracy per key and per decision, and the failures."""
    from bot.eligibility.bench import load_cases, run_bench
    from bot.eligibility.errors import BenchCaseError

    rules = load_eligibility_rules(rules_dir)
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
def bench_handoff(ctx: CliContext, residents: int, towns: int, villages: int, as_json: bool) -> None:
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


@click.command("faults")
@click.option("--faults", "names", default=None,
              help=f"Faults to run, in order, comma-separated (of {','.join(FAULTS)}; default: all of them that "
                   "the database and Redis allow).")
@click.option("--residents", default=6, show_default=True, type=click.IntRange(1, 200),
              help="New residents writing at once in each phase.")
@click.option("--database-url", default=None, metavar="URL",
              help="The stack's database (default: LAWLINE_DATABASE_URL); restart_postgres needs the PostgreSQL "
                   "of scripts/postgres.sh.")
@click.option("--redis-url", default=None, metavar="URL",
              help="The stack's Redis (default: LAWLINE_REDIS_URL); kill_redis needs the one of scripts/redis.sh.")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON line of the results.")
def bench_faults(names: str | None, residents: int, database_url: str | None, redis_url: str | None,
                 as_json: bool) -> None:
    """Residents write while WeChat refuses or stalls, Rasa, the app or Redis is killed, PostgreSQL restarts.

    Starts `lawline serve` on free loopback ports with the configured database and index, behind a local
    stand-in of the WeChat API; counts what reaches the residents. Target: 0 lost, 0 incomplete; duplicates
    only after wechat_slow.
    """
    from bot.data_servers import DataServers
    from bot.faultbench import run_fault_bench
    from bot.settings import load_settings

    settings = load_settings()
    servers = DataServers(database_url or settings.database_url, redis_url or settings.redis_url)
    if names is None:
        faults = tuple(fault for fault in FAULTS if servers.missing_for(fault) is None)
    else:
        faults = tuple(name.strip() for name in names.split(",") if name.strip())
    try:
        result = run_fault_bench(servers.database_url or settings.database_url, settings.var_dir, faults, residents,
                                 redis_url=servers.redis_url)
    except (RuntimeError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("fault             sent  answered  lost  incomplete  duplicated  pushes  slowest s  deliveries"
               "  fallback")
    for row in result["faults"]:
        click.echo(f"{row['fault']:<16} {row['sent']:>5} {row['answered']:>9} {row['lost']:>5} "
                   f"{row['incomplete_parts']:>11} {row['duplicated']:>11} {row['pushes']:>7} {row['slowest_s']:>10} "
                   f"{row['deliveries']:>11} {row['fallback']:>9}")
    if as_json:
        click.echo(json.dumps(result))


@click.command("multinode")
@click.option("--residents", default=20, show_default=True, type=click.IntRange(2, 100),
              help="New residents writing at once in each phase, spread over both nodes.")
@click.option("--messages", default=5, show_default=True, type=click.IntRange(2, 50),
              help="Messages each resident writes in the normal phase (a question, \"1\", more questions).")
@click.option("--reload-seconds", default=10.0, show_default=True, type=click.FloatRange(0.5, 60),
              help="LAWLINE_RELOAD_SECONDS of the nodes: how soon node 2 must follow a publish.")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON line of the results.")
def bench_multinode(residents: int, messages: int, reload_seconds: float, as_json: bool) -> None:
    """Two app nodes sharing only PostgreSQL and Redis, on network namespaces (root; scripts/netns.sh).

    Serves the configured index, corpus, danger model and Rasa model (copied) on two nodes; residents write
    through a stand-in of WeChat and a load balancer while node 1 is killed with kill -9 and then publishes a
    card edit in the console. Per phase: sent, answered, lost, duplicated, slowest, msg/s per core; whether
    node 2 followed the publish. Target: 0 lost, 0 duplicated, node 2 follows within --reload-seconds.
    """
    from bot.multinodebench import BenchInputs, run_multinode_bench
    from bot.settings import load_settings
    from nlu.errors import NluError
    from nlu.layout import RasaLayout
    from nlu.project import train_if_changed

    settings = load_settings()
    layout = RasaLayout.default(settings.var_dir)
    try:
        model = train_if_changed(layout.project_dir, layout.models_dir, layout.require_rasa())
    except NluError as exc:
        raise click.ClickException(f"Rasa model: {exc}") from exc
    inputs = BenchInputs(settings.index_dir, settings.corpus_dir, settings.danger_model, model)
    try:
        result = run_multinode_bench(settings.var_dir / "bench" / "multinode", inputs, residents=residents,
                                     messages=messages, reload_seconds=reload_seconds)
    except (RuntimeError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    _echo_multinode(result)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))


def _echo_multinode(result: dict[str, Any]) -> None:
    click.echo(f"{result['nodes']} nodes on {result['cores']} cores, ready in {result['startup_s']} s; "
               f"{result['residents_per_phase']} residents per phase ({result['messages_per_resident']} messages each "
               "in the normal phase)")
    click.echo("phase        sent  answered  lost  duplicated  fallback  slowest s  msg/s  msg/s/core  cpu ms/msg"
               "  answered by")
    for row in result["phases"]:
        by = " · ".join(f"{node} {n}" for node, n in row["answered_by"].items())
        click.echo(f"{row['phase']:<11} {row['sent']:>5} {row['answered']:>9} {row['lost']:>5} {row['duplicated']:>11} "
                   f"{row['fallback']:>9} {row['slowest_s']:>10} {row['msg_per_s']:>6} {row['msg_per_s_per_core']:>11} "
                   f"{row['cpu_ms_per_msg']:>11}  {by}")
        click.echo("  cpu ms/msg: " + ", ".join(f"{role} {ms}" for role, ms in row["cpu_ms_per_msg_by_role"].items()))
        if row["phase"] == "kill_node1":
            back = f"node 1 back in {row['node1_restart_s']} s" if row["node1_restart_s"] else "node 1 left down"
            click.echo(f"  node 1 killed working on {row['node1_unfinished_at_kill']}: {row['finished_by_node2']} "
                       f"finished by node 2; {back}")
        if row["phase"] == "publish":
            edit = ", ".join(f"{node} {'yes' if shown else 'no'}" for node, shown in row["edit_in_answer"].items())
            click.echo(f"  published on node 1 in {row['publish_s']} s; node 2 followed: "
                       f"{'yes' if row['node2_followed'] else 'NO'} after {row['node2_followed_after_s']} s "
                       f"(LAWLINE_RELOAD_SECONDS={result['reload_seconds']}); the new title in answers: {edit}")
    rasa = result["rasa"]
    clients = ", ".join(f"{node} {n}" for node, n in rasa["lock_store_clients"].items())
    click.echo(f"Rasa: Redis lock-store connections {clients}; shared tracker store {rasa['tracker_events']} events "
               f"in {rasa['tracker_conversations']} conversations")
    click.echo(f"published index and rules reach the nodes through: {result['published_via']}")


@click.command("dialogue")
@click.option("--scenarios", "scenarios_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSONL scenarios (turns with must / must_not regexes), written apart from the training data.")
@click.option("--url", default=None, help="A running Lawline to talk to (default: start lawline serve for the run).")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON line of the results.")
def bench_dialogue(scenarios_file: Path, url: str | None, as_json: bool) -> None:
    """Conversations through the web chat API of a real lawline serve; prints what holds and each failing turn."""
    from bot.dialoguebench import ScenarioError, load_scenarios, run_dialogue_bench
    from bot.settings import load_settings

    try:
        scenarios = load_scenarios(scenarios_file)
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        result = run_dialogue_bench(scenarios, load_settings().var_dir, base_url=url)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
    for row in result["results"]:
        if row["holds"]:
            continue
        for failure in row["failures"]:
            click.echo(f"✗ {row['name']} turn {failure['turn']} 「{failure['say']}」: {'; '.join(failure['problems'])}")
            click.echo("    " + failure["reply"][:400].replace("\n", "\n    "))
    click.echo(f"scenarios {result['scenarios']}  hold {result['hold']} ({result['hold_rate']:.1%})  "
               f"longest first reply {result['longest_first_reply']} characters")
    click.echo("by behaviour: " + ", ".join(f"{k} {v}" for k, v in result["by_behaviour"].items()))
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))


for _command in (bench_faults, bench_multinode, bench_dialogue, bench_danger, bench_cards):
    bench.add_command(_command)
