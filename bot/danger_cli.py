"""``lawline danger …`` and ``lawline bench danger``: train and check the danger model, measure triage."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

__all__ = ["bench_danger", "danger"]


def _settings() -> Any:
    from bot.settings import load_settings

    return load_settings()


def _embedder(model_name: str) -> Any:
    from retrieval.dense import encode, load_encoder

    encoder = load_encoder(model_name)
    return lambda texts: encode(encoder, texts)


@click.group()
def danger() -> None:
    """The danger triage: curated patterns (handoff/data/signals.yaml) and the model trained on examples."""


@danger.command("train")
@click.option("--force", is_flag=True, help="Train even when the saved model matches the examples.")
@click.option("--no-embeddings", is_flag=True, help="Character n-grams only (for comparison; the app uses both).")
def danger_train(force: bool, no_embeddings: bool) -> None:
    """Train the model on handoff/data/danger/*.jsonl when they (or the encoder) changed; print how it measured.

    The threshold is chosen for recall on held-out folds of the examples. `make run` and `lawline serve` do
    this too; the model is saved at LAWLINE_DANGER_MODEL.
    """
    from handoff.danger import ensure_model
    from handoff.errors import DirectoryError

    settings = _settings()
    path = settings.danger_model
    if force:
        path.with_suffix(".json").unlink(missing_ok=True)
    embed = None if no_embeddings else _embedder(settings.embedding_model)
    tuned = None
    if settings.danger_tuned is not None and not no_embeddings:
        from bot.services import load_tuned

        tuned = load_tuned(settings.danger_tuned)
    try:
        model = ensure_model(path, embed, settings.embedding_model, folder=settings.danger_dir / "danger",
                             tuned=tuned, progress=lambda m: click.echo(f"  {m}", err=True))
    except DirectoryError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps({"path": str(path), "threshold": model.threshold, "fingerprint": model.fingerprint,
                           **model.report}, ensure_ascii=False))


@danger.command("tune")
@click.option("--folds", type=click.IntRange(2, 10), default=5, show_default=True,
              help="Held-out folds for the examples' honest scores (the linear model's thresholds use them).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where to save (default LAWLINE_DANGER_TUNED, i.e. handoff/data/danger_tuned).")
def danger_tune(folds: int, out_dir: Path | None) -> None:
    """Fine-tune e5-small's top layers on the danger examples; about 40 minutes on two cores.

    Trains one model per fold to score the examples it did not see, then one on every example, and saves it
    (commit the folder). Then `lawline danger train` chooses the thresholds of the combination.
    """
    from bot.tune_danger import tune_danger

    settings = _settings()
    target = out_dir or settings.danger_tuned
    if target is None:
        raise click.ClickException("LAWLINE_DANGER_TUNED is off; give --out")
    report = tune_danger(settings.danger_dir / "danger", target, folds=folds,
                         progress=lambda m: click.echo(f"  {m}", err=True))
    click.echo(json.dumps({"path": str(target), **report}, ensure_ascii=False))


@danger.command("check")
@click.argument("text")
def danger_check(text: str) -> None:
    """What triage makes of one message: the kinds, the pattern that fired, the model's score."""
    from bot.services import load_triage

    settings = _settings()
    triage = load_triage(settings, _embedder(settings.embedding_model))
    click.echo(json.dumps(triage.assess(text).evidence(), ensure_ascii=False))


@click.command("danger")
@click.option("--data", "data_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='JSONL lines {"text", "danger": true|false, "kind"?} written apart from the training examples.')
@click.option("--json", "as_json", is_flag=True, help='End with one JSON line {"recall", "false_alarm_rate", …}.')
@click.option("--detector", type=click.Choice(["triage", "patterns", "model", "rasa"]), default="triage",
              show_default=True, help="The app's triage, or one half of it, or a Rasa server's `danger` intent.")
@click.option("--rasa-url", help="With --detector rasa: a running Rasa server trained with a `danger` intent.")
@click.option("--rasa-threshold", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="With --detector rasa: also count `danger` as found when its confidence reaches this.")
def bench_danger(data_file: Path, as_json: bool, detector: str, rasa_url: str | None, rasa_threshold: float) -> None:
    """Recall per kind of danger, the false-alarm rate and every miss, on messages never trained on."""
    from handoff.danger_bench import format_danger_report, load_bench_lines, run_danger_bench

    try:
        lines = load_bench_lines(data_file)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    with _detector(detector, rasa_url, rasa_threshold) as detect:
        result = run_danger_bench(lines, detect)
    click.echo(format_danger_report(result))
    if as_json:
        keys = ("recall", "alarm_recall", "false_alarm_rate", "check_rate", "per_kind", "kind_accuracy", "messages",
                "p50_ms", "p95_ms")
        click.echo(json.dumps({"detector": detector, **{k: result[k] for k in keys}}, ensure_ascii=False))


@contextmanager
def _detector(name: str, rasa_url: str | None, rasa_threshold: float) -> Iterator[Any]:
    from bot.services import load_triage
    from handoff.danger import Triage

    settings = _settings()
    if name == "rasa":
        if rasa_url:
            yield _rasa_detector(rasa_url, rasa_threshold)
            return
        with _trial_rasa(settings) as url:
            yield _rasa_detector(url, rasa_threshold)
        return
    triage = load_triage(settings, _embedder(settings.embedding_model))
    if name == "patterns":
        only = Triage(triage.signals)
        yield lambda text: ([k.kind for k in only.assess(text).kinds], False)
        return
    if name == "model":
        assert triage.model is not None
        model, embed, tuned = triage.model, triage.embed, triage.tuned

        def by_model(text: str) -> tuple[list[str], bool]:
            score, ranked = model.predict(text, embed, tuned)
            kinds = [k for k, _ in ranked[:2]] if score >= model.threshold else []
            return kinds, not kinds and score >= model.check_threshold

        yield by_model
        return

    def by_triage(text: str) -> tuple[list[str], bool]:
        found = triage.assess(text)
        return [k.kind for k in found.kinds], found.check

    yield by_triage


@contextmanager
def _trial_rasa(settings: Any) -> Iterator[str]:
    """Train the Rasa project plus a ``danger`` intent on the same examples, and serve it for the bench."""
    from handoff.danger import load_examples
    from nlu.danger_trial import train_trial_model
    from nlu.layout import RasaLayout
    from nlu.process import RasaServer

    layout = RasaLayout.default(settings.var_dir / "danger_trial")
    texts = [e.text for e in load_examples(settings.danger_dir / "danger") if e.danger]
    click.echo(f"training the Rasa project with a `danger` intent ({len(texts)} examples)…", err=True)
    model = train_trial_model(layout, texts, settings.var_dir / "danger_trial")
    with RasaServer(model, layout, startup_timeout=600.0) as server:
        yield server.url


def _rasa_detector(url: str, threshold: float) -> Any:
    import httpx

    client = httpx.Client(base_url=url.rstrip("/"), timeout=30.0)

    def detect(text: str) -> tuple[list[str], bool]:
        parsed = client.post("/model/parse", json={"text": text}).raise_for_status().json()
        ranking = {r["name"]: r["confidence"] for r in parsed.get("intent_ranking") or []}
        top = (parsed.get("intent") or {}).get("name")
        hit = top == "danger" or (threshold > 0 and ranking.get("danger", 0.0) >= threshold)
        return (["unspecified"] if hit else []), False

    return detect
