"""``lawline bench faults`` and ``lawline bench dialogue``: the whole stack under faults, and in conversation."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bot.faultbench import FAULTS

__all__ = ["bench_dialogue", "bench_faults"]


@click.command("faults")
@click.option("--faults", "names", default=",".join(FAULTS), show_default=True,
              help="Faults to run, in order, comma-separated.")
@click.option("--residents", default=6, show_default=True, type=click.IntRange(1, 200),
              help="New residents writing at once in each phase.")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON line of the results.")
def bench_faults(names: str, residents: int, as_json: bool) -> None:
    """Residents write while WeChat refuses or stalls, Rasa or the app is killed; count what reaches them.

    Starts `lawline serve` on free loopback ports with the configured database and index, behind a local
    stand-in of the WeChat API. Target: 0 lost, 0 incomplete; duplicates only after wechat_slow.
    """
    from bot.faultbench import run_fault_bench
    from bot.settings import load_settings

    settings = load_settings()
    faults = tuple(name.strip() for name in names.split(",") if name.strip())
    try:
        result = run_fault_bench(settings.database_url, settings.var_dir, faults, residents)
    except (RuntimeError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("fault          sent  answered  lost  incomplete  duplicated  pushes  slowest s  deliveries")
    for row in result["faults"]:
        click.echo(f"{row['fault']:<13} {row['sent']:>5} {row['answered']:>9} {row['lost']:>5} "
                   f"{row['incomplete_parts']:>11} {row['duplicated']:>11} {row['pushes']:>7} {row['slowest_s']:>10} "
                   f"{row['deliveries']:>11}")
    if as_json:
        click.echo(json.dumps(result))


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
