"""The Rasa project in ``nlu/rasa``: train it only when its inputs changed, and validate it.

A model is named after a fingerprint of everything training reads (config, domain, training data and the
generated jieba dictionary), so "is there a model for these inputs?" is a file lookup and a model file
always says which inputs built it. Rasa runs from the repository root because ``config.yml`` names the
dictionary folder relative to it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from nlu._environment import rasa_environment
from nlu.errors import RasaCommandFailed, RasaNotInstalled, TrainingFailed, ValidationFailed

__all__ = ["MODEL_SUFFIX", "dictionary_dir", "fingerprint", "train_if_changed", "validate", "write_jieba_dictionary"]

log = logging.getLogger(__name__)

MODEL_SUFFIX = ".tar.gz"
DICTIONARY_FILE = "legal_terms.txt"
_OUTPUT_TAIL = 6000


def _repository_root(project_dir: Path) -> Path:
    """``nlu/rasa`` → the repository root."""
    return project_dir.resolve().parents[1]


def dictionary_dir(project_dir: Path, root: Path | None = None) -> Path | None:
    """The folder the JiebaTokenizer in ``config.yml`` loads user dictionaries from, if it names one."""
    config = yaml.safe_load((project_dir / "config.yml").read_text(encoding="utf-8")) or {}
    pipeline: list[dict[str, Any]] = config.get("pipeline") or []
    for component in pipeline:
        if component.get("name") == "JiebaTokenizer" and component.get("dictionary_path"):
            path = Path(str(component["dictionary_path"]))
            return path if path.is_absolute() else (root or _repository_root(project_dir)) / path
    return None


def write_jieba_dictionary(legal_terms: Path, target_dir: Path) -> Path:
    """Write ``legal_terms`` without comment and blank lines into ``target_dir`` (jieba has no comments).

    The folder holds only this file afterwards: the tokenizer loads every file in it. Unchanged content is
    not rewritten.
    """
    lines = [line.strip() for line in legal_terms.read_text(encoding="utf-8").splitlines()]
    content = "".join(f"{line}\n" for line in lines if line and not line.startswith("#"))
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / DICTIONARY_FILE
    for stale in target_dir.iterdir():
        if stale != target and stale.is_file():
            stale.unlink()
    if not target.is_file() or target.read_text(encoding="utf-8") != content:
        partial = target.with_name(f".{target.name}.{os.getpid()}")
        partial.write_text(content, encoding="utf-8")
        partial.replace(target)
    return target


def _training_inputs(project_dir: Path, dictionary: Path | None) -> list[tuple[str, Path]]:
    inputs = [("config.yml", project_dir / "config.yml"), ("domain.yml", project_dir / "domain.yml")]
    data = project_dir / "data"
    inputs += [(f"data/{p.relative_to(data).as_posix()}", p) for p in sorted(data.rglob("*.yml"))]
    if dictionary is not None:
        inputs += [(f"jieba/{p.name}", p) for p in sorted(dictionary.iterdir()) if p.is_file()]
    return inputs


def fingerprint(project_dir: Path, dictionary: Path | None = None) -> str:
    """A short hash of everything training reads; equal inputs give an equal name."""
    digest = hashlib.sha256()
    for name, path in _training_inputs(project_dir, dictionary):
        digest.update(name.encode("utf-8") + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def _run(
    command: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float, error: type[RasaCommandFailed]
) -> tuple[int, str]:
    try:
        done = subprocess.run(
            list(command), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace", timeout=timeout, check=False,
        )
    except subprocess.TimeoutExpired as exc:
        output = exc.output.decode("utf-8", "replace") if isinstance(exc.output, bytes) else exc.output or ""
        raise error(command, -1, f"did not finish within {timeout:.0f}s\n{output[-_OUTPUT_TAIL:]}") from None
    return done.returncode, done.stdout[-_OUTPUT_TAIL:]


def _check_rasa(rasa_bin: Path) -> None:
    if not rasa_bin.is_file():
        raise RasaNotInstalled(rasa_bin)


def train_if_changed(
    project_dir: Path,
    models_dir: Path,
    rasa_bin: Path,
    *,
    legal_terms: Path | None = None,
    timeout: float = 900.0,
    keep: int = 3,
) -> Path:
    """Return the model for the project's current inputs, training it first if there is none.

    Trains with ``rasa train --fixed-model-name <fingerprint>`` into a temporary folder and moves the model
    into ``models_dir`` only when training succeeded, so a model file is always complete. After training,
    only the ``keep`` newest models are kept.
    """
    _check_rasa(rasa_bin)
    root = _repository_root(project_dir)
    dictionary = dictionary_dir(project_dir, root)
    if dictionary is not None:
        write_jieba_dictionary(legal_terms or root / "retrieval" / "data" / "legal_terms.txt", dictionary)
    name = fingerprint(project_dir, dictionary)
    model = models_dir / f"{name}{MODEL_SUFFIX}"
    if model.is_file():
        log.info("Rasa model %s is current; not training", model.name)
        return model

    models_dir.mkdir(parents=True, exist_ok=True)
    log.info("training Rasa model %s", name)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=".training-", dir=models_dir) as scratch:
        command = [
            str(rasa_bin), "train",
            "--config", str(project_dir / "config.yml"),
            "--domain", str(project_dir / "domain.yml"),
            "--data", str(project_dir / "data"),
            "--out", scratch,
            "--fixed-model-name", name,
            "--force",
        ]
        env = rasa_environment(Path(scratch) / "cache")
        returncode, output = _run(command, root, env, timeout, TrainingFailed)
        trained = Path(scratch) / f"{name}{MODEL_SUFFIX}"
        if returncode != 0 or not trained.is_file():
            raise TrainingFailed(command, returncode, output)
        trained.replace(model)
    log.info("trained Rasa model %s in %.1fs", model.name, time.monotonic() - started)
    _prune(models_dir, keep=max(1, keep), current=model)
    return model


def _prune(models_dir: Path, keep: int, current: Path) -> None:
    models = sorted(models_dir.glob(f"*{MODEL_SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in [m for m in models if m != current][keep - 1:]:
        log.info("removing old Rasa model %s", old.name)
        old.unlink(missing_ok=True)


def validate(project_dir: Path, rasa_bin: Path, *, timeout: float = 300.0) -> str:
    """Run ``rasa data validate`` on the project; its output (warnings included) on success.

    Raises ``ValidationFailed`` with Rasa's output when the domain, stories, rules or NLU data disagree.
    """
    _check_rasa(rasa_bin)
    root = _repository_root(project_dir)
    command = [
        str(rasa_bin), "data", "validate",
        "--config", str(project_dir / "config.yml"),
        "--domain", str(project_dir / "domain.yml"),
        "--data", str(project_dir / "data"),
    ]
    with tempfile.TemporaryDirectory(prefix="lawline-rasa-validate-") as scratch:
        returncode, output = _run(command, root, rasa_environment(Path(scratch)), timeout, ValidationFailed)
    if returncode != 0:
        raise ValidationFailed(command, returncode, output)
    return output
