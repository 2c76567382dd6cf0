"""Shared fixtures: real databases (SQLite file, PostgreSQL from scripts/postgres.sh) and the real corpus."""

from __future__ import annotations

import functools
import os
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bot.db import make_engine, make_sessions, upgrade_schema
from tests.channels.wechat_standin import MP_APPID, MP_SECRET, OA_APPID, OA_SECRET, WeChatStandIn
from tests.model_cache import cached_danger_model, cached_rasa_model, seed_index

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus" / "data"
# What the tests' Rasa servers show the apps' /webhook (a developer's own LAWLINE_ACTION_SECRET would win on
# Rasa's side, so it is used here too).
ACTION_SECRET = os.environ.get("LAWLINE_ACTION_SECRET") or "test-action-secret-" + "x" * 32


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules that need neither the corpus index nor Rasa run first, then the index's, then Rasa's.

    On a clean clone the danger and Rasa models train in the background (``make test``) and the index is
    built once per worker: the first test that needs them waits minutes, which the plain tests now fill.
    Whole modules move, in their own order, so module fixtures are set up once.
    """
    def need(item: pytest.Item) -> int:
        names = set(getattr(item, "fixturenames", ()))
        return 2 if "rasa_model" in names else 1 if "corpus_index" in names else 0

    def module(item: pytest.Item) -> str:
        return item.nodeid.split("::", 1)[0]

    group: dict[str, int] = {}
    for item in items:
        group[module(item)] = max(group.get(module(item), 0), need(item))
    items.sort(key=lambda item: group[module(item)])


@pytest.fixture(scope="session")
def standin_server() -> Iterator[WeChatStandIn]:
    """The local WeChat stand-in, one per run; it knows the official account's and the mini-program's secrets."""
    server = WeChatStandIn({OA_APPID: OA_SECRET, MP_APPID: MP_SECRET})
    server.start()
    yield server
    server.stop()


def _postgres_admin_url() -> str:
    url = os.environ.get("LAWLINE_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("LAWLINE_TEST_POSTGRES_URL is not set in CI; `make test` starts PostgreSQL")
        pytest.skip("PostgreSQL not started (run `make test`, which starts it with scripts/postgres.sh)")
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each kind: a SQLite file, or a new PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'lawline.sqlite3'}"
        return
    admin_url = make_url(_postgres_admin_url())
    name = f"lawline_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\''))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessions(engine)


@pytest.fixture(scope="session")
def use_encoder():
    """The production default encoder (USE multilingual v3 through sentence-transformers), loaded once."""
    from retrieval.dense import load_encoder

    return load_encoder("use-multilingual-v3")


@functools.cache
def tuned_danger_model():
    """The shipped fine-tuned danger encoder, loaded once per run (the app's workers load their own)."""
    from tests.model_cache import shipped_tuned

    return shipped_tuned()


@pytest.fixture(scope="session")
def tuned_danger():
    return tuned_danger_model()


@pytest.fixture(scope="session")
def e5_network():
    """e5-small in torch (retrieval.e5), the one under the shipped tuned danger encoder."""
    return tuned_danger_model().network


@pytest.fixture(scope="session")
def analyzer():
    from retrieval.text import load_analyzer

    return load_analyzer()


@pytest.fixture(scope="session")
def _rasa_training(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Future[Path] | None]:
    """Rasa's training started in the background as soon as a test needs the corpus (``rasa_model`` waits).

    The corpus index and the danger model keep one of the two cores busy at a time for minutes; the Rasa
    training (a process of its own) uses the other. None when Rasa is not installed (``rasa_layout`` says so)
    or no test of this run needs the model.
    """
    from nlu.layout import RasaLayout

    layout = RasaLayout.default(var_dir=tmp_path_factory.getbasetemp() / "rasa-var")
    wanted = any("rasa_model" in getattr(item, "fixturenames", ()) for item in request.session.items)
    if not wanted or not layout.rasa_bin.is_file():
        yield None
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rasa-train") as pool:
        yield pool.submit(_rasa_model_for, layout)


def _rasa_model_for(layout) -> Path:
    """The Rasa model of the project's current data in ``layout``'s models folder (from the cache)."""
    cached = cached_rasa_model(layout.project_dir, layout.rasa_bin)
    layout.models_dir.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy2(cached, layout.models_dir / cached.name))


@pytest.fixture(scope="session")
def corpus_index(tmp_path_factory, use_encoder, _rasa_training):
    """The whole shipped corpus imported into SQLite and indexed with the default encoder (built once)."""
    from bot.indexing import build_index
    from corpus import import_corpus

    folder = tmp_path_factory.mktemp("corpus")
    engine = make_engine(f"sqlite:///{folder / 'db.sqlite3'}")
    upgrade_schema(engine)
    sessions = make_sessions(engine)
    assert not import_corpus(CORPUS, sessions).failed
    shutil.copytree(seed_index(use_encoder), folder / "index")  # its vectors are reused where documents match
    result = build_index(sessions, folder / "index", use_encoder, "use-multilingual-v3")
    _sqlite_copy(folder / "db.sqlite3", folder / PRISTINE)
    danger_model(folder, use_encoder)
    return folder / "index", sessions, result


def danger_model(folder: Path, use_encoder) -> Path:
    """The danger model trained once per run on the shipped examples, beside the shared index (read-only)."""
    from retrieval.dense import encode

    path = folder / "danger" / "model.joblib"
    cached = cached_danger_model(lambda texts: encode(use_encoder, texts), tuned_danger_model())
    path.parent.mkdir(parents=True, exist_ok=True)
    for source in (cached, cached.with_suffix(".json")):
        shutil.copyfile(source, path.parent / source.name)
    return path


PRISTINE = "pristine.sqlite3"


def _sqlite_copy(source_path: Path, target_path: Path) -> None:
    import sqlite3

    source = sqlite3.connect(source_path)
    target = sqlite3.connect(target_path)
    with target:
        source.backup(target)
    source.close()
    target.close()


@pytest.fixture(scope="session")
def corpus_retriever(corpus_index, use_encoder):
    from bot.indexing import open_retriever

    return open_retriever(corpus_index[0], "use-multilingual-v3", use_encoder)


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio (anyio's pytest plugin)."""
    return "asyncio"


@pytest.fixture(scope="session")
def rasa_layout(tmp_path_factory):
    """This checkout's Rasa project; what Rasa writes goes to a session temp folder. Needs `.venv-rasa`."""
    from nlu.layout import RasaLayout

    layout = RasaLayout.default(var_dir=tmp_path_factory.getbasetemp() / "rasa-var")
    # The Rasa servers of the tests read it from here (nlu.action_secret); running_app's apps expect it.
    layout.var_dir.mkdir(parents=True, exist_ok=True)
    (layout.var_dir / "action.secret").write_text(ACTION_SECRET, encoding="ascii")
    if not layout.rasa_bin.is_file():
        message = f"Rasa is not installed at {layout.rasa_bin}: run scripts/bootstrap-rasa.sh (make test does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return layout


@pytest.fixture(scope="session")
def rasa_model(rasa_layout, _rasa_training):
    """The Rasa model for the project's current data (trained when the cache has none for this data)."""

    if _rasa_training is not None:
        return _rasa_training.result()
    return _rasa_model_for(rasa_layout)


@dataclass(frozen=True)
class SharedRasa:
    """The session's ``rasa run``: ``url`` to talk to it, ``app_port`` where it calls the custom actions."""

    url: str
    app_port: int


@pytest.fixture(scope="session")
def shared_rasa(rasa_layout, rasa_model) -> Iterator[SharedRasa]:
    """One real Rasa server for every test module that needs one with the real app behind it.

    Starting ``rasa run`` takes 15–25 s; one per module cost minutes of CI. Rasa opens a new HTTP session for
    each action call, so the app of each module in turn serves ``app_port`` (modules run one after another;
    their apps are module- or function-scoped). Tests that stop, restart or reconfigure Rasa start their own.
    """
    from nlu.process import RasaServer

    port = free_port()
    with RasaServer(rasa_model, rasa_layout, lawline_port=port) as rasa:
        yield SharedRasa(rasa.url, port)


def free_port() -> int:
    """A free TCP port on loopback."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def app_settings(corpus_index, var: Path, **overrides: str):
    """Settings for an app on the shared corpus database and index; ``overrides`` are more LAWLINE_* values."""
    from bot.settings import load_settings

    env = {
        "LAWLINE_VAR_DIR": str(var),
        "LAWLINE_DATABASE_URL": f"sqlite:///{corpus_index[0].parent / 'db.sqlite3'}",
        "LAWLINE_INDEX_DIR": str(corpus_index[0]),
        "LAWLINE_DANGER_MODEL": str(corpus_index[0].parent / "danger" / "model.joblib"),
        **overrides,
    }
    return load_settings(env, dotenv=var / "none")


def private_corpus_database(corpus_index, folder: Path) -> tuple[str, sessionmaker[Session]]:
    """A copy of the corpus database as imported (before any test wrote to it) under ``folder``.

    For tests that write tickets, decisions or conversations other tests would otherwise see."""
    target = folder / "db.sqlite3"
    _sqlite_copy(corpus_index[0].parent / PRISTINE, target)
    url = f"sqlite:///{target}"
    return url, make_sessions(make_engine(url))


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium (scripts/chromium.sh) driven by Playwright, one per test module."""
    import shutil

    playwright_api = pytest.importorskip("playwright.sync_api")
    executable = shutil.which("chromium")
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; `make test` installs it with scripts/chromium.sh")
        pytest.skip("chromium not installed (scripts/chromium.sh)")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=executable,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield browser
        browser.close()


@contextmanager
def serving(app: Any, port: int, **options: Any) -> Iterator[str]:
    """``app`` served by uvicorn in a thread on loopback ``port``; yields its base URL (``options``: more uvicorn)."""
    import threading
    import time

    import uvicorn

    options.setdefault("log_level", "warning")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "app did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def running_app(settings, port: int, **options) -> Iterator[str]:
    """The real app on ``settings`` served on ``port`` (``serving``); yields its base URL."""
    from bot.app import create_app
    from bot.services import build_services

    app = create_app(lambda: build_services(settings), action_secret=ACTION_SECRET)
    with serving(app, port, **options) as url:
        yield url


@contextmanager
def app_with_rasa(corpus_index, rasa: SharedRasa, var: Path, **overrides: str) -> Iterator[Any]:
    """The real app serving the shared Rasa server's actions; yields the settings.

    ``overrides`` are more LAWLINE_* settings (a private database, a directory); the engine timeout is 10 s
    unless they say otherwise."""
    settings = app_settings(corpus_index, var, **{"LAWLINE_ENGINE_TIMEOUT": "10", **overrides,
                                                  "LAWLINE_PORT": str(rasa.app_port), "LAWLINE_RASA_URL": rasa.url})
    with running_app(settings, rasa.app_port):
        yield settings
