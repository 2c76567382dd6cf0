"""The models the tests use, trained from this checkout's data into ``var/test-cache``.

Each is named by what it was trained from (Rasa's fingerprint, the danger examples' fingerprint), so a second
run on the same data skips training; a clean clone, as in CI, trains each once. ``python -m
tests.model_cache`` trains both ahead of pytest: ``make test`` starts it in the background while the lint, the
type check and the test servers start, and the session fixtures wait on the same locks, then copy what they use.
"""

from __future__ import annotations

import fcntl
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "var" / "test-cache"
DANGER = CACHE / "danger" / "model.joblib"
ENCODER = "use-multilingual-v3"


def cached_rasa_model(project_dir: Path, rasa_bin: Path) -> Path:
    """The Rasa model of the project's current data in CACHE (trained now unless another run did or does)."""
    from nlu.project import train_if_changed

    folder = CACHE / "rasa-models"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:  # parallel runs: one trains, the others wait for it
        fcntl.flock(lock, fcntl.LOCK_EX)
        return train_if_changed(project_dir, folder, rasa_bin)


def cached_danger_model(embed: Callable[[list[str]], np.ndarray]) -> Path:
    """The danger model of the shipped examples in CACHE (``ensure_model`` locks it: one run trains)."""
    from handoff.danger import ensure_model

    ensure_model(DANGER, embed, ENCODER)
    return DANGER


def main() -> int:
    """Train both models into CACHE, Rasa in a thread beside the danger model (two cores, two trainings)."""
    from nlu.layout import RasaLayout
    from retrieval.dense import encode, load_encoder

    layout = RasaLayout.default()
    failures: list[BaseException] = []

    def rasa() -> None:
        try:
            print(cached_rasa_model(layout.project_dir, layout.rasa_bin), flush=True)
        except BaseException as exc:  # noqa: BLE001 - said below; pytest trains it again itself
            failures.append(exc)

    thread = threading.Thread(target=rasa, name="rasa-train")
    with_rasa = layout.rasa_bin.is_file()  # else the Rasa tests say what is missing
    if with_rasa:
        thread.start()
    encoder = load_encoder(ENCODER)
    print(cached_danger_model(lambda texts: encode(encoder, texts)), flush=True)
    if with_rasa:
        thread.join()
    for failure in failures:
        print(f"rasa model: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
