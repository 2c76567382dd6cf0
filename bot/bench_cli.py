"""``lawline bench faults``, ``multinode`` and ``dialogue``: the whole stack under faults, on two nodes, talking."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from bot.faultbench import FAULTS

__all__ = ["bench_dialogue", "bench_faults", "bench_multinode"]


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
