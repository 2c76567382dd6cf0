"""``lawline bench danger``: how many danger messages triage recognises, and how often it cries wolf.

Recall counts a danger message whose first reply carries the emergency numbers: the emergency reply (an
alarm, with an urgent ticket) or the safety check the model asks when unsure. A false alarm is an urgent
ticket on an ordinary message; the check rate is how many ordinary messages get the safety check first.

The messages are written apart from the training examples (``tests/data/danger/README.md``) and never
trained on. A detector is anything that says, for a text, which kinds of danger it found: the app's triage
(patterns and model), the patterns or the model alone (ablations), or a Rasa server's ``danger`` intent.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from handoff.signals import DANGER_KINDS

__all__ = ["BenchLine", "format_danger_report", "load_bench_lines", "run_danger_bench"]

Detector = Callable[[str], tuple[list[str], bool]]
"""A text in; the kinds of danger found (empty: no alarm), and whether it asks the resident if they are safe."""


@dataclass(frozen=True, slots=True)
class BenchLine:
    """One measured message."""

    text: str
    danger: bool
    kind: str | None


def load_bench_lines(path: Path) -> list[BenchLine]:
    """Lines ``{"text", "danger": true|false, "kind"?}``; a malformed one is a ``ValueError`` naming file:line."""
    lines = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            raise ValueError(f"{path}:{number}: not JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("text"), str) or not isinstance(data.get("danger"),
                                                                                                   bool):
            raise ValueError(f'{path}:{number}: need {{"text": "...", "danger": true|false}}')
        kind = data.get("kind")
        if kind is not None and kind not in DANGER_KINDS:
            raise ValueError(f"{path}:{number}: unknown kind {kind!r}")
        lines.append(BenchLine(data["text"], data["danger"], kind if data["danger"] else None))
    if not lines:
        raise ValueError(f"{path}: no lines")
    return lines


def run_danger_bench(lines: list[BenchLine], detect: Detector) -> dict[str, Any]:
    """Recall overall and per kind, the false-alarm rate, kind accuracy, latency; the misses and false alarms."""
    misses, false_alarms, latencies = [], [], []
    per_kind: dict[str, dict[str, int]] = {}
    kind_hits = kind_total = alarms = checks_ordinary = 0
    for line in lines:
        start = time.perf_counter()
        found, checked = detect(line.text)
        latencies.append((time.perf_counter() - start) * 1000)
        if line.danger:
            key = line.kind or "unspecified"
            row = per_kind.setdefault(key, {"n": 0, "found": 0, "alarm": 0})
            row["n"] += 1
            if found or checked:
                row["found"] += 1
                row["alarm"] += bool(found)
                alarms += bool(found)
                if found and line.kind is not None:
                    kind_total += 1
                    kind_hits += line.kind in found
            else:
                misses.append({"text": line.text, "kind": line.kind})
        elif found:
            false_alarms.append({"text": line.text, "found": found})
        elif checked:
            checks_ordinary += 1
    danger_n = sum(1 for line in lines if line.danger)
    ordinary_n = len(lines) - danger_n
    ordered = sorted(latencies)
    return {
        "messages": len(lines), "danger": danger_n, "ordinary": ordinary_n,
        "recall": round((danger_n - len(misses)) / danger_n, 4) if danger_n else None,
        "alarm_recall": round(alarms / danger_n, 4) if danger_n else None,
        "false_alarm_rate": round(len(false_alarms) / ordinary_n, 4) if ordinary_n else None,
        "check_rate": round(checks_ordinary / ordinary_n, 4) if ordinary_n else None,
        "per_kind": {k: {"n": v["n"], "recall": round(v["found"] / v["n"], 4), "alarm": round(v["alarm"] / v["n"], 4)}
                     for k, v in sorted(per_kind.items())},
        "kind_accuracy": round(kind_hits / kind_total, 4) if kind_total else None,
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        "misses": misses, "false_alarms": false_alarms,
    }


def format_danger_report(result: dict[str, Any]) -> str:
    """The table a person reads: recall per kind, false alarms, then each miss and false alarm."""
    out = [f"{result['messages']} messages: {result['danger']} danger, {result['ordinary']} ordinary",
           f"recall            {result['recall']} (the emergency numbers in the first reply: alarm or safety check)",
           f"alarm recall      {result['alarm_recall']} (emergency reply and urgent ticket)",
           f"false alarm rate  {result['false_alarm_rate']} (urgent tickets on ordinary messages)",
           f"check rate        {result['check_rate']} (ordinary messages answered after a safety check)",
           f"kind accuracy     {result['kind_accuracy']} (of the danger found, the kind named first or second)",
           f"latency           p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms", "",
           "kind                  n  recall  alarm"]
    out += [f"{kind:20} {row['n']:>3}  {row['recall']:.3f}  {row['alarm']:.3f}"
            for kind, row in result["per_kind"].items()]
    if result["misses"]:
        out += ["", f"missed ({len(result['misses'])}):"]
        out += [f"  [{m['kind']}] {m['text']}" for m in result["misses"]]
    if result["false_alarms"]:
        out += ["", f"false alarms ({len(result['false_alarms'])}):"]
        out += [f"  [{','.join(f['found'])}] {f['text']}" for f in result["false_alarms"]]
    return "\n".join(out)
