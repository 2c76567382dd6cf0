"""Other editable data under review: eligibility rules, provincial standards, the service directory, danger.

The rules are issue #4's ``corpus/data/eligibility``; the directory is issue #5's ``LAWLINE_DIRECTORY``.

An editor changes one YAML file as text; the draft is checked with the owning package's own loader
(``bot.eligibility.load_rules``, ``handoff.directory.load_directory``) on a copy before it can be
submitted, and again when a reviewer publishes it (an atomic file replace, in the same step as marking the
draft published). Every worker loads a published file within ``LAWLINE_RELOAD_SECONDS`` (``bot.reloading``);
new danger examples retrain the danger model there.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.settings import Settings

__all__ = ["DataFileError", "DataSet", "danger_data_set", "data_sets", "validate_data_file"]

MAX_DATA_FILE = 2 * 1024 * 1024


class DataFileError(ValueError):
    """The edited file does not load; the message names the file and line where the loader says."""


@dataclass(frozen=True, slots=True)
class DataSet:
    """A folder of editable files and the loader that checks the whole set."""

    key: str
    title: str
    root: Path
    patterns: tuple[str, ...]
    check: Callable[[Path, str], None]  # (a copy of root with the change, the changed file) -> raises

    def files(self) -> list[str]:
        found: set[str] = set()
        for pattern in self.patterns:
            found.update(str(p.relative_to(self.root)) for p in self.root.glob(pattern) if p.is_file())
        return sorted(found)

    def path(self, relative: str) -> Path:
        if relative not in self.files():
            raise DataFileError(f"{relative} 不是可以在控制台修改的文件。")
        return self.root / relative


def _check_rules(folder: Path, _changed: str) -> None:
    from bot.eligibility import RulesError, load_rules

    try:
        load_rules(folder)
    except RulesError as exc:
        raise DataFileError(str(exc)) from None


def _check_directory(folder: Path, changed: str) -> None:
    from handoff.directory import load_directory
    from handoff.errors import DirectoryError

    try:
        load_directory(folder / changed)
    except DirectoryError as exc:
        raise DataFileError(str(exc)) from None


def _check_danger(folder: Path, _changed: str) -> None:
    from handoff.danger import load_examples
    from handoff.errors import DirectoryError
    from handoff.signals import load_signals

    try:
        load_signals(folder / "signals.yaml")
        load_examples(folder / "danger")
    except DirectoryError as exc:
        raise DataFileError(str(exc)) from None


def danger_data_set(folder: Path) -> DataSet:
    """The danger patterns and the model's training examples (``LAWLINE_DANGER_DIR``); a publish retrains it."""
    return DataSet("danger", "危险信号（规则和训练例句）", folder, ("signals.yaml", "danger/*.jsonl"), _check_danger)


def data_sets(settings: Settings) -> dict[str, DataSet]:
    """The editable data sets of this installation (only those whose package is present)."""
    sets: dict[str, DataSet] = {}
    try:
        from bot.eligibility.rules import rules_folder
    except ImportError:  # pragma: no cover - the eligibility package is part of the app
        pass
    else:
        # The rules live in the corpus folder (corpus/data/eligibility); follow LAWLINE_CORPUS_DIR when it has them.
        root = rules_folder(Path(settings.corpus_dir))
        sets["eligibility"] = DataSet("eligibility", "法律援助条件和各省经济困难标准", root,
                                      ("rules.yaml", "provinces/*.yaml"), _check_rules)
    sets["danger"] = danger_data_set(settings.danger_dir)
    directory = getattr(settings, "directory", None)
    if isinstance(directory, Path):
        sets["directory"] = DataSet("directory", "服务目录（乡镇、村、法律顾问、服务点、值班表）", directory.parent,
                                    (directory.name,), _check_directory)
    return sets


def validate_data_file(data_set: DataSet, relative: str, text: str) -> None:
    """Load the whole set with ``relative`` replaced by ``text``; raises ``DataFileError`` if it fails."""
    if len(text.encode("utf-8")) > MAX_DATA_FILE:
        raise DataFileError("文件太大了。")
    data_set.path(relative)
    with tempfile.TemporaryDirectory(prefix="lawline-data-") as folder:
        copy = Path(folder) / "set"
        shutil.copytree(data_set.root, copy, ignore=shutil.ignore_patterns(".*"))
        (copy / relative).write_text(text, encoding="utf-8")
        data_set.check(copy, relative)
