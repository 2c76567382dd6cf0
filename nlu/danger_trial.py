"""The other way to recognise danger, measured against the app's model: a high-priority Rasa intent.

``lawline bench danger --detector rasa`` writes a copy of the Rasa project with one more intent,
``danger``, trained on the same team-written danger examples as the app's model, trains it, serves it and
asks it to parse each benchmark message. The production project is not changed: which way is used is decided
by the numbers in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import yaml

from nlu.layout import RasaLayout
from nlu.project import train_if_changed

__all__ = ["TRIAL_INTENT", "train_trial_model"]

TRIAL_INTENT = "danger"


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks, as Rasa's own training files write examples."""


def _literal(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


_Dumper.add_representer(str, _literal)


def train_trial_model(layout: RasaLayout, danger_texts: Sequence[str], folder: Path) -> Path:
    """Train the production project plus a ``danger`` intent (``danger_texts``) under ``folder``; the model."""
    source = layout.project_dir
    project = folder / "nlu" / "rasa"  # the same depth as nlu/rasa, so relative paths in config.yml hold
    if project.exists():
        shutil.rmtree(project)
    shutil.copytree(source, project)
    domain = yaml.safe_load((project / "domain.yml").read_text(encoding="utf-8"))
    domain["intents"] = [*domain.get("intents", []), TRIAL_INTENT]
    (project / "domain.yml").write_text(yaml.safe_dump(domain, allow_unicode=True, sort_keys=False),
                                        encoding="utf-8")
    examples = "".join(f"- {' '.join(t.split())}\n" for t in dict.fromkeys(danger_texts))
    data = {"version": "3.1", "nlu": [{"intent": TRIAL_INTENT, "examples": examples}]}
    (project / "data" / "danger_trial.yml").write_text(
        yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False), encoding="utf-8")
    root = source.resolve().parents[1]
    return train_if_changed(project, folder / "models", layout.require_rasa(),
                            legal_terms=root / "retrieval" / "data" / "legal_terms.txt", timeout=3600.0)
