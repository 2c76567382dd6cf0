"""``lawline danger tune``: fine-tune the danger encoder (``handoff.danger_tuned``) on the team's examples.

The recipe behind the committed ``handoff/data/danger_tuned``: the same folds as ``lawline danger train``
(``handoff.danger.fold_of``); for each, a model tuned on the other folds scores the held-out examples; then one
model tuned on every example is saved with those held-out scores. The bottom layers' states are computed once
for every text and shared by the six trainings.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from handoff.danger import fingerprint, fold_of, load_examples, training_rows
from handoff.danger_tuned import TunedConfig, TunedDanger, text_key, tune

__all__ = ["tune_danger"]


def tune_danger(examples_dir: Path, out_dir: Path, *, folds: int = 5, config: TunedConfig | None = None,
                progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Tune on the examples in ``examples_dir``, save into ``out_dir``; return what the folds measured."""
    import torch

    from retrieval.e5 import load_e5

    say = progress or (lambda _m: None)
    config = config or TunedConfig()
    started = time.monotonic()
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    examples = load_examples(examples_dir)
    network = load_e5()
    fold = fold_of(len(examples), folds, config.seed)
    cache: dict[str, Any] = {}
    held_out: dict[str, float] = {}
    for number in range(folds):
        say(f"fold {number + 1} of {folds}")
        train = [e for e, f in zip(examples, fold, strict=True) if f != number]
        held = [e for e, f in zip(examples, fold, strict=True) if f == number]
        model = tune(*training_rows(train), network, config, cache=cache, progress=say)
        held_out.update(zip((text_key(e.text) for e in held), (float(s) for s in model.scores([e.text for e in held])),
                            strict=True))
    say("tuning on every example")
    final = tune(*training_rows(examples), network, config, cache=cache, progress=say)
    labels = np.array([e.danger for e in examples])
    scores = np.array([held_out[text_key(e.text)] for e in examples])
    final.held_out = held_out
    final.fingerprint = fingerprint(examples, f"e5-small+lora:{config}")
    final.report = {"examples": {"danger": int(labels.sum()), "ordinary": int((~labels).sum())},
                    **fold_measures(scores, labels), "minutes": round((time.monotonic() - started) / 60, 1)}
    final.save(out_dir)
    return final.report


def fold_measures(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """How the held-out scores alone separate: alarm recall at 3 % false alarms, ordinary checked at 99 % recall."""
    danger = np.sort(scores[labels])
    ordinary = np.sort(scores[~labels])[::-1]
    alarm = ordinary[int(np.floor(0.03 * len(ordinary)))]
    check = danger[int(np.floor(0.01 * len(danger)))]
    return {"cv_alarm_recall_at_3pct": round(float((scores[labels] > alarm).mean()), 4),
            "cv_checked_at_99pct": round(float((scores[~labels] >= check).mean()), 4)}


def loaded(folder: Path) -> TunedDanger:
    """The tuned model saved in ``folder`` over a freshly loaded e5-small (for scripts and tests)."""
    from retrieval.e5 import load_e5

    return TunedDanger.load(folder, load_e5())
