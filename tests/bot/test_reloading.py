"""Every worker picks up what editors publish (bot.reloading): real files, real loaders, real services."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil

import pytest

from bot.eligibility.model import parse_input
from bot.indexing import build_index
from bot.reloading import LiveFiles, Watched, signature
from bot.services import build_services
from tests.console.conftest import copy_corpus_env


def _watch_text(path, seen):
    def load():
        text = path.read_text(encoding="utf-8")
        if "broken" in text:
            raise ValueError("does not parse")
        return text

    return Watched("note", lambda: [path], load, seen.append)


def test_a_changed_file_is_loaded_and_used(tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("one", encoding="utf-8")
    seen: list[str] = []
    live = LiveFiles([_watch_text(note, seen)], interval=0)
    assert live.check() == [] and seen == []
    note.write_text("two, longer", encoding="utf-8")
    assert live.check() == ["note"] and seen == ["two, longer"]
    assert live.check() == []  # nothing new


def test_a_file_that_does_not_load_keeps_the_running_copy_and_is_reported_once(tmp_path, caplog):
    note = tmp_path / "note.txt"
    note.write_text("good", encoding="utf-8")
    seen: list[str] = []
    live = LiveFiles([_watch_text(note, seen)], interval=0)
    note.write_text("broken!", encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="bot.reloading"):
        assert live.check() == [] and live.check() == []
    assert seen == [] and len([r for r in caplog.records if "does not load" in r.getMessage()]) == 1
    note.write_text("fixed again", encoding="utf-8")
    assert live.check() == ["note"] and seen == ["fixed again"]


def test_a_file_replaced_while_it_was_read_is_read_again_next_round(tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("a", encoding="utf-8")
    seen: list[str] = []
    writes = iter(["c, written during the read"])

    def load():
        text = note.read_text(encoding="utf-8")
        for later in writes:  # the editor's next publish lands while this one is being read
            note.write_text(later, encoding="utf-8")
        return text

    live = LiveFiles([Watched("note", lambda: [note], load, seen.append)], interval=0)
    note.write_text("bb", encoding="utf-8")
    assert live.check() == [] and seen == []
    assert live.check() == ["note"] and seen == ["c, written during the read"]


def test_a_missing_file_counts_as_a_change(tmp_path):
    gone = tmp_path / "gone.txt"
    assert signature([gone]) == ((str(gone), -1, -1, -1),)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Module-scoped, so that the one ``module_worker`` below lives on one event loop for the module's async tests."""
    return "asyncio"


@pytest.fixture(scope="module")
async def module_worker(corpus_index, tmp_path_factory):
    """Another worker process's services on a private copy of the corpus, built once for this module.

    Building them (the encoder, the danger model, the index) is most of these tests' time; each test reads
    what the worker has when it starts, so they do not depend on one another's order.
    """
    env = copy_corpus_env(corpus_index, tmp_path_factory.mktemp("reloading"), LAWLINE_RELOAD_SECONDS="0.1")
    services = build_services(env.settings)
    try:
        yield env, services
    finally:
        await services.close()


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_second_worker_follows_the_index_rules_and_directory_on_disk(module_worker, use_encoder, tmp_path):
    env, worker = module_worker  # stands for another worker process on the same files
    retriever = worker.composer.retriever
    rules_version = worker.eligibility.rules.rules_version
    directory = worker.eligibility.directory.directory

    # The index, rebuilt and swapped in whole as the console does (a new folder at the same path; like the
    # console's publish, the build starts from the index there and re-encodes only what changed).
    staging = tmp_path / ".index.staging"
    shutil.copytree(env.index_dir, staging)
    build_index(env.sessions, staging, use_encoder, "use-multilingual-v3")
    os.replace(env.index_dir, tmp_path / ".index.before")
    os.replace(staging, env.index_dir)
    shutil.rmtree(tmp_path / ".index.before")

    # The rules: a new version of rules.yaml, written atomically as the console writes it.
    rules = env.corpus_dir / "eligibility" / "rules.yaml"
    text = rules.read_text(encoding="utf-8")
    changed = tmp_path / "rules.yaml.new"
    changed.write_text(text.replace('version: "2026-11-23.1"', 'version: "2026-11-27.1"', 1), encoding="utf-8")
    os.replace(changed, rules)

    # The directory: the same file, touched with a later time (its content is checked by its loader).
    county = env.settings.directory
    stat = county.stat()
    os.utime(county, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))

    for _ in range(100):
        if (worker.composer.retriever is not retriever
                and worker.eligibility.rules.rules_version != rules_version
                and worker.eligibility.directory.directory is not directory):
            break
        await asyncio.sleep(0.1)
    assert worker.composer.retriever is not retriever
    assert worker.composer.retriever.encoder is retriever.encoder  # the model is not loaded twice
    assert worker.eligibility.rules.rules_version.startswith("2026-11-27.1+")
    assert worker.eligibility.directory.directory is not directory
    answer = worker.composer.answer("包工头跑了，工钱找谁要")
    assert answer.citations  # the reloaded index answers, with citations


@pytest.mark.slow
@pytest.mark.anyio
async def test_the_index_a_worker_already_answers_from_is_not_loaded_twice(module_worker, tmp_path):
    env, worker = module_worker
    retriever = worker.composer.retriever
    # The same index folder swapped in again (what the publishing worker sees after its own swap).
    shutil.copytree(env.index_dir, tmp_path / ".index.same")
    os.replace(env.index_dir, tmp_path / ".index.before")
    os.replace(tmp_path / ".index.same", env.index_dir)
    await asyncio.sleep(1.0)
    assert worker.composer.retriever is retriever


@pytest.mark.slow
@pytest.mark.anyio
async def test_broken_rules_on_disk_leave_the_worker_on_the_rules_it_has(module_worker, tmp_path, caplog):
    env, worker = module_worker
    before = worker.eligibility.rules.rules_version
    rules = env.corpus_dir / "eligibility" / "rules.yaml"
    good = rules.read_text(encoding="utf-8")
    try:
        with caplog.at_level(logging.ERROR, logger="bot.reloading"):
            rules.write_text("version: [\n", encoding="utf-8")
            for _ in range(50):
                if any("eligibility rules changed on disk" in r.getMessage() for r in caplog.records):
                    break
                await asyncio.sleep(0.1)
        assert any("eligibility rules changed on disk" in r.getMessage() for r in caplog.records)
        assert worker.eligibility.rules.rules_version == before
        case = {"province": "山东", "matter": "labor_relation_or_remuneration", "has_lawyer": False,
                "household_monthly_income_per_capita": None, "statuses": ["migrant_worker"]}
        decision = worker.eligibility.check(parse_input(case, worker.eligibility.rules))
        assert decision.decision == "eligible" and decision.rules_version == before  # still on the rules it had
    finally:  # the module's worker goes on with good rules on disk
        fixed = tmp_path / "rules.yaml.fixed"
        fixed.write_text(good, encoding="utf-8")
        os.replace(fixed, rules)
