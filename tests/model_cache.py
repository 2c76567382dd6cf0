"""The models the tests use, trained from this checkout's data into ``var/test-cache``, and a seed index.

Each is named by what it was trained from (Rasa's fingerprint, the danger examples' fingerprint), so a second
run on the same data skips training; a clean clone, as in CI, trains each once. ``python -m
tests.model_cache`` trains both ahead of pytest: ``make test`` starts it in the background while the lint, the
type check and the test servers start, and the session fixtures wait on the same locks, then copy what they use.
The seed index (the shipped corpus encoded once) lets each pytest worker's index build reuse its vectors: the
worker still imports and indexes the corpus itself, only unchanged documents' vectors come from the seed.
"""

from __future__ import annotations

import fcntl
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "var" / "test-cache"
DANGER = CACHE / "danger" / "model.joblib"
ENCODER = "use-multilingual-v3"
SEED_INDEX = CACHE / "index"
TUNED = ROOT / "handoff" / "data" / "danger_tuned"  # the shipped fine-tuned danger encoder (LAWLINE_DANGER_TUNED)


def cached_rasa_model(project_dir: Path, rasa_bin: Path) -> Path:
    """The Rasa model of the project's current data in CACHE (trained now unless another run did or does)."""
    from nlu.project import train_if_changed

    folder = CACHE / "rasa-models"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:  # parallel runs: one trains, the others wait for it
        fcntl.flock(lock, fcntl.LOCK_EX)
        return train_if_changed(project_dir, folder, rasa_bin)


def cached_danger_model(embed: Callable[[list[str]], np.ndarray], tuned: Any = None) -> Path:
    """The danger model of the shipped examples in CACHE (``ensure_model`` locks it: one run trains).

    Its thresholds are for the combination with the shipped tuned encoder, as in the app (``tuned``: that
    model if the caller has it loaded already).
    """
    from handoff.danger import ensure_model

    ensure_model(DANGER, embed, ENCODER, tuned=tuned or shipped_tuned())
    return DANGER


def seed_index(encoder: Any) -> Path:
    """An index of the shipped corpus with ``encoder`` in CACHE, built once (other runs wait on the lock).

    Only a seed: ``tests.conftest.corpus_index`` copies it and builds incrementally, so a seed older than the
    corpus or the code costs the changed documents' encoding, never a wrong index.
    """
    import shutil
    import tempfile

    from bot.db import make_engine, make_sessions, upgrade_schema
    from bot.indexing import build_index
    from corpus import import_corpus

    SEED_INDEX.mkdir(parents=True, exist_ok=True)
    target = SEED_INDEX / "index"
    with open(SEED_INDEX / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "manifest.json").is_file():
            return target
        with tempfile.TemporaryDirectory(dir=SEED_INDEX) as work:
            engine = make_engine(f"sqlite:///{Path(work) / 'db.sqlite3'}")
            upgrade_schema(engine)
            import_corpus(ROOT / "corpus" / "data", make_sessions(engine))
            build_index(make_sessions(engine), Path(work) / "index", encoder, ENCODER)
            engine.dispose()
            shutil.move(str(Path(work) / "index"), target)
    return target


def shipped_tuned() -> Any:
    """The shipped fine-tuned danger encoder over e5-small, as ``bot.services.load_tuned`` loads it."""
    from bot.services import load_tuned

    return load_tuned(TUNED)


def main(which: list[str]) -> int:
    """Train the models named (``danger``, ``rasa``, ``index``; default all) into CACHE, each in its own thread.

    ``make test`` starts ``danger`` and ``index`` as soon as the app's virtualenv is there (while Rasa's and
    the Debian packages install) and ``rasa`` once Rasa's virtualenv is. A failure is said; pytest then
    trains or builds it itself.
    """
    from nlu.layout import RasaLayout
    from retrieval.dense import encode, load_encoder

    failures: list[str] = []
    encoders: list[Any] = []
    loading = threading.Lock()

    def use() -> Any:
        with loading:  # one encoder for both jobs
            if not encoders:
                encoders.append(load_encoder(ENCODER))
            return encoders[0]

    def rasa() -> None:
        layout = RasaLayout.default()
        if layout.rasa_bin.is_file():  # else the Rasa tests say what is missing
            print(cached_rasa_model(layout.project_dir, layout.rasa_bin), flush=True)

    def danger() -> None:
        encoder = use()
        print(cached_danger_model(lambda texts: encode(encoder, texts)), flush=True)

    def index() -> None:
        print(seed_index(use()), flush=True)

    def run(name: str, work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - said below; pytest trains it again itself
            failures.append(f"{name} model: {exc}")

    jobs = {"rasa": rasa, "danger": danger, "index": index}
    threads = [threading.Thread(target=run, args=(name, jobs[name]), name=name) for name in (which or list(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    unknown = [name for name in sys.argv[1:] if name not in ("rasa", "danger", "index")]
    sys.exit(f"usage: python -m tests.model_cache [danger] [rasa] [index] (not {unknown})" if unknown
             else main(sys.argv[1:]))
