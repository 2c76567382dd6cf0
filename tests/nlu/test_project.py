"""The Rasa project: validation, the generated jieba dictionary, fingerprints, train-if-changed."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from nlu.errors import RasaNotInstalled
from nlu.layout import RasaLayout
from nlu.project import dictionary_dir, fingerprint, train_if_changed, validate, write_jieba_dictionary

# Responses that only custom or default actions use, so `rasa data validate` cannot see them used.
USED_BY_ACTIONS = re.compile(r"utter_(intent_\w+|ask_affirm|ask_rephrase|default|human|other_legal|offer_card_question)")


def test_jieba_dictionary_drops_comments_and_blank_lines(tmp_path):
    terms = tmp_path / "legal_terms.txt"
    terms.write_text("# 注释\n\n劳动报酬 100 n\n  # 缩进的注释\n土地承包经营权 100 n\n", encoding="utf-8")
    folder = tmp_path / "dict"
    folder.mkdir()
    (folder / "stale.txt").write_text("旧词 1 n\n", encoding="utf-8")
    written = write_jieba_dictionary(terms, folder)
    assert written.read_text(encoding="utf-8") == "劳动报酬 100 n\n土地承包经营权 100 n\n"
    assert [p.name for p in folder.iterdir()] == [written.name]


def test_real_legal_terms_become_a_clean_dictionary(tmp_path):
    layout = RasaLayout.default()
    written = write_jieba_dictionary(layout.legal_terms, tmp_path)
    lines = written.read_text(encoding="utf-8").splitlines()
    assert len(lines) > 500
    assert not [line for line in lines if line.startswith("#") or len(line.split()) not in (1, 2, 3)]
    assert "土地承包经营权 100 n" in lines or any(line.startswith("土地承包经营权 ") for line in lines)


def test_config_names_the_generated_dictionary_under_var():
    layout = RasaLayout.default()
    assert dictionary_dir(layout.project_dir) == layout.root / "var" / "rasa" / "jieba_dict"


def test_fingerprint_follows_every_training_input(tmp_path):
    project = tmp_path / "nlu" / "rasa"
    shutil.copytree(RasaLayout.default().project_dir, project)
    dictionary = tmp_path / "dict"
    dictionary.mkdir()
    (dictionary / "legal_terms.txt").write_text("劳动报酬 100 n\n", encoding="utf-8")
    first = fingerprint(project, dictionary)
    assert fingerprint(project, dictionary) == first
    (project / "endpoints.yml").write_text("# not a training input\n", encoding="utf-8")
    assert fingerprint(project, dictionary) == first
    for changed in (project / "data" / "nlu.yml", project / "domain.yml", dictionary / "legal_terms.txt"):
        original = changed.read_bytes()
        changed.write_bytes(original + b"\n# changed\n")
        assert fingerprint(project, dictionary) != first, changed.name
        changed.write_bytes(original)
    assert fingerprint(project, dictionary) == first


def test_missing_rasa_is_named(tmp_path):
    layout = RasaLayout.default()
    with pytest.raises(RasaNotInstalled, match="bootstrap-rasa.sh"):
        train_if_changed(layout.project_dir, tmp_path, tmp_path / "no-rasa")
    with pytest.raises(RasaNotInstalled):
        validate(layout.project_dir, tmp_path / "no-rasa")


@pytest.mark.slow
def test_rasa_data_validate_passes(rasa_layout):
    output = validate(rasa_layout.project_dir, rasa_layout.rasa_bin)
    warnings = re.findall(r"UserWarning: (.+)", output)
    unexpected = [w for w in warnings if not (USED_BY_ACTIONS.search(w) and "is not used in any story" in w)]
    assert not unexpected, unexpected
    assert "No story structure conflicts found" in output


@pytest.mark.slow
def test_training_makes_a_model_and_reuses_it(rasa_layout, rasa_model):
    assert rasa_model.parent == rasa_layout.models_dir
    assert rasa_model.name.endswith(".tar.gz") and rasa_model.stat().st_size > 1_000_000
    before = rasa_model.stat().st_mtime_ns
    started = time.monotonic()
    again = train_if_changed(rasa_layout.project_dir, rasa_layout.models_dir, rasa_layout.rasa_bin)
    assert again == rasa_model
    assert time.monotonic() - started < 5, "a current model must not be retrained"
    assert rasa_model.stat().st_mtime_ns == before
    assert sorted(p.name for p in rasa_layout.models_dir.iterdir()) == [rasa_model.name]


def test_generated_files_stay_out_of_git():
    root = RasaLayout.default().root
    ignored = (root / ".gitignore").read_text(encoding="utf-8").split()
    assert "var/" in ignored and ".venv-rasa/" in ignored
    assert not list(Path(root, "nlu", "rasa").rglob("*.tar.gz"))


@pytest.mark.slow
def test_bootstrap_is_idempotent_and_cpu_only(rasa_layout):
    import subprocess

    def bootstrap() -> str:
        done = subprocess.run(["bash", "scripts/bootstrap-rasa.sh"], cwd=rasa_layout.root, capture_output=True,
                              text=True, timeout=900, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    bootstrap()
    assert "is up to date" in bootstrap()
    packages = subprocess.run([str(rasa_layout.root / ".venv-rasa" / "bin" / "python"), "-m", "pip", "list"],
                              capture_output=True, text=True, timeout=120, check=True).stdout.lower()
    assert "rasa " in packages and "jieba " in packages
    assert "nvidia" not in packages
