"""``lawline bench intent``: how well Rasa sorts residents' messages into Lawline's four topics.

Rows are ``{"text", "label"}`` with labels ``wages``, ``support``, ``land``, ``dispute`` or ``other``.
Every intent that is not one of the four topics (``other_legal``, small talk, ``nlu_fallback``, …) counts
as ``other``: a message the classifier was unsure about is not answered on a topic, so it is scored as the
resident experiences it. The metrics are a pure function of the rows and a ``parse`` callable;
``bench_intent`` runs them against a real Rasa server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from nlu.errors import IntentBenchError

__all__ = [
    "LABELS",
    "TOPICS",
    "bench_intent",
    "format_intent_table",
    "load_intent_rows",
    "run_intent_bench",
    "topic_label",
]

log = logging.getLogger(__name__)

TOPICS = ("wages", "support", "land", "dispute")
LABELS = (*TOPICS, "other")
FALLBACK_INTENT = "nlu_fallback"


def topic_label(intent: str) -> str:
    """The benchmark label of a Rasa intent: the topic itself, or ``other``."""
    return intent if intent in TOPICS else "other"


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def run_intent_bench(rows: Iterable[Mapping[str, str]], parse: Callable[[str], str]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix.

    ``parse`` maps a text to a Rasa intent name. Macro-F1 averages the classes that occur among the gold
    labels or the predictions (as scikit-learn does). ``confusion[gold][predicted]`` counts rows.
    """
    confusion = {gold: dict.fromkeys(LABELS, 0) for gold in LABELS}
    total = correct = fallback = 0
    for row in rows:
        gold = row["label"]
        if gold not in LABELS:
            raise IntentBenchError(f"unknown label {gold!r}; expected one of {', '.join(LABELS)}")
        intent = parse(row["text"])
        fallback += intent == FALLBACK_INTENT
        predicted = topic_label(intent)
        confusion[gold][predicted] += 1
        total += 1
        correct += gold == predicted

    per_class: dict[str, dict[str, float]] = {}
    for label in LABELS:
        true_positive = confusion[label][label]
        support = sum(confusion[label].values())
        predicted_count = sum(confusion[gold][label] for gold in LABELS)
        precision = _ratio(true_positive, predicted_count)
        recall = _ratio(true_positive, support)
        f1 = _ratio(2 * true_positive, support + predicted_count)
        per_class[label] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    present = [
        label for label in LABELS
        if per_class[label]["support"] or any(confusion[gold][label] for gold in LABELS)
    ]
    return {
        "n": total,
        "accuracy": _ratio(correct, total),
        "macro_f1": sum(per_class[label]["f1"] for label in present) / len(present) if present else 0.0,
        "per_class": per_class,
        "confusion": confusion,
        "fallback": fallback,
    }


def format_intent_table(result: Mapping[str, Any]) -> str:
    """A plain-text report: per-class table, confusion matrix (rows gold, columns predicted), totals."""
    lines = [f"{'label':10} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}"]
    for label, scores in result["per_class"].items():
        lines.append(
            f"{label:10} {scores['precision']:9.3f} {scores['recall']:7.3f} {scores['f1']:7.3f} {scores['support']:8d}"
        )
    lines.append("")
    lines.append("confusion (rows: gold, columns: predicted)")
    lines.append(" " * 10 + "".join(f"{label:>9}" for label in LABELS))
    for gold, counts in result["confusion"].items():
        lines.append(f"{gold:10}" + "".join(f"{counts[label]:9d}" for label in LABELS))
    lines.append("")
    lines.append(
        f"accuracy {result['accuracy']:.4f}  macro-F1 {result['macro_f1']:.4f}  "
        f"n {result['n']}  fallback {result['fallback']}"
    )
    return "\n".join(lines)


def load_intent_rows(path: Path) -> list[dict[str, str]]:
    """Read ``{"text", "label"}`` JSON lines; a malformed line raises ``IntentBenchError`` naming it."""
    rows = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise IntentBenchError(f"{path}:{number}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict) or not isinstance(row.get("text"), str) or row.get("label") not in LABELS:
                raise IntentBenchError(f"{path}:{number}: needs 'text' and 'label' (one of {', '.join(LABELS)})")
            rows.append({"text": row["text"], "label": row["label"]})
    return rows


async def _classify(url: str, texts: list[str], concurrency: int = 4) -> dict[str, str]:
    from nlu.client import RasaClient

    intents: dict[str, str] = {}
    gate = asyncio.Semaphore(concurrency)
    async with RasaClient(url, timeout=30.0) as client:

        async def one(text: str) -> None:
            async with gate:
                intents[text] = (await client.parse(text)).intent

        await asyncio.gather(*(one(text) for text in dict.fromkeys(texts)))
    return intents


def bench_intent(data_path: Path, rasa_url: str | None = None, *, var_dir: Path | None = None) -> dict[str, Any]:
    """Classify every row of ``data_path`` through Rasa's ``/model/parse`` and score it.

    With ``rasa_url`` the running server there is used. Without it the project is trained if its inputs
    changed, a Rasa server is started on a free loopback port for the run, and stopped afterwards. The
    result is ``run_intent_bench``'s plus ``model`` (the model file name, or None) and ``seconds``.
    """
    rows = load_intent_rows(data_path)
    texts = [row["text"] for row in rows]
    started = time.monotonic()
    model_name: str | None = None
    if rasa_url is not None:
        intents = asyncio.run(_classify(rasa_url, texts))
    else:
        from nlu.layout import RasaLayout
        from nlu.process import RasaServer
        from nlu.project import train_if_changed

        layout = RasaLayout.default(var_dir)
        model = train_if_changed(layout.project_dir, layout.models_dir, layout.require_rasa())
        model_name = model.name
        with RasaServer(model, layout) as server:
            intents = asyncio.run(_classify(server.url, texts))
    result = run_intent_bench(rows, intents.__getitem__)
    result["model"] = model_name
    result["seconds"] = round(time.monotonic() - started, 1)
    log.info("intent bench: %d rows, accuracy %.4f, macro-F1 %.4f", result["n"], result["accuracy"], result["macro_f1"])
    return result
