"""Console fixtures: a private copy of the imported corpus (database, index and corpus files) per module, so
publishing writes only there; the real app in-process; accounts of every role; a signed-in client helper."""

from __future__ import annotations

import re
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.console.accounts import create_account
from bot.db import make_engine, make_sessions, upgrade_schema
from tests.conftest import CORPUS, PRISTINE, ROOT, free_port

PASSWORD = "correct horse battery 9"
ROLES = ("editor", "reviewer", "adviser", "admin")


@dataclass
class ConsoleEnv:
    """A copy of the corpus and the settings of an app that uses it."""

    root: Path
    corpus_dir: Path
    index_dir: Path
    database_url: str
    settings: object
    sessions: object


def copy_corpus_env(corpus_index, root: Path, **overrides: str) -> ConsoleEnv:
    """Copy the session's corpus as imported (SQLite backup, index folder, corpus files) under ``root``."""
    from bot.settings import load_settings

    index_dir, _, _ = corpus_index
    source = sqlite3.connect(index_dir.parent / PRISTINE)
    target = sqlite3.connect(root / "db.sqlite3")
    with target:
        source.backup(target)
    source.close()
    target.close()
    shutil.copytree(index_dir, root / "index")
    shutil.copytree(CORPUS, root / "corpus")
    (root / "directory").mkdir()
    shutil.copy(ROOT / "handoff" / "data" / "county.yaml", root / "directory" / "county.yaml")
    url = f"sqlite:///{root / 'db.sqlite3'}"
    env = {
        "LAWLINE_VAR_DIR": str(root / "var"),
        "LAWLINE_DATABASE_URL": url,
        "LAWLINE_INDEX_DIR": str(root / "index"),
        "LAWLINE_DANGER_MODEL": str(index_dir.parent / "danger" / "model.joblib"),
        "LAWLINE_CORPUS_DIR": str(root / "corpus"),
        "LAWLINE_RASA_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens: Rasa is down
        "LAWLINE_ENGINE_TIMEOUT": "1.0",
        "LAWLINE_CONSOLE_SECRET": "test-secret-" + "x" * 40,
        "LAWLINE_DIRECTORY": str(root / "directory" / "county.yaml"),
        **overrides,
    }
    settings = load_settings(env, dotenv=root / "none")
    engine = make_engine(url)
    upgrade_schema(engine)
    return ConsoleEnv(root, root / "corpus", root / "index", url, settings, make_sessions(engine))


def add_accounts(sessions, suffix: str = "") -> dict[str, str]:
    """One account per role (plus a second reviewer and an editor); returns role → user name."""
    names = {}
    with sessions.begin() as session:
        for role in ROLES:
            name = f"{role}{suffix}"
            create_account(session, name, PASSWORD, role, display_name=f"测试{role}",
                           villages=("城西街道白土坝村",) if role == "adviser" else ())
            names[role] = name
        create_account(session, f"reviewer2{suffix}", PASSWORD, "reviewer", display_name="第二审核员")
        names["reviewer2"] = f"reviewer2{suffix}"
    return names


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


_OPEN_CLIENTS: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def _close_clients():
    """Clients made by ``client_for`` are closed after each test."""
    yield
    while _OPEN_CLIENTS:
        _OPEN_CLIENTS.pop().close()


def client_for(base: str, username: str | None = None, password: str = PASSWORD) -> httpx.Client:
    """An HTTP client of the running app, signed in as ``username`` when given (closed after the test)."""
    client = httpx.Client(base_url=base, timeout=60, follow_redirects=False)
    _OPEN_CLIENTS.append(client)
    if username is not None:
        response = sign_in(client, username, password)
        assert response.status_code == 303, (response.status_code, response.text[:300])
    return client


def sign_in(client: httpx.Client, username: str, password: str = PASSWORD) -> httpx.Response:
    page = client.get("/console/login")
    return client.post("/console/login", data={"username": username, "password": password,
                                               "csrf_token": csrf_of(page.text), "next": "/console/"})


def post_form(client: httpx.Client, page_url: str, action: str, data: dict[str, str], files=None) -> httpx.Response:
    """Open ``page_url`` (for its CSRF token), then POST ``data`` to ``action`` as the page's form would."""
    page = client.get(page_url)
    assert page.status_code == 200, (page.status_code, page.text[:300])
    return client.post(action, data={"csrf_token": csrf_of(page.text), **data}, files=files)


def wait_published(client: httpx.Client, draft_id: int, timeout: float = 180) -> dict:
    """Wait until the publish of ``draft_id`` has ended (and the app answers from the new index)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/console/drafts/{draft_id}/progress.json").json()
        if body["status"] != "publishing":
            return body
        time.sleep(0.3)
    raise AssertionError("publishing did not finish")


def draft_id_of(response: httpx.Response) -> int:
    match = re.match(r"^/console/drafts/(\d+)", response.headers.get("location", ""))
    assert match, (response.status_code, response.headers.get("location"), response.text[:300])
    return int(match.group(1))


@dataclass
class AdviserConsole:
    """The adviser console served alone (no corpus index, no Rasa) on a real database and the sample directory."""

    base: str
    handoff: object
    sessions: object


def adviser_console(sessions, directory_path: str, port: int):
    """A context manager serving ``/console`` (sign-in, accounts, the case routes) as ``bot.services`` mounts it.

    Real components: the console's middleware and CSRF, the security headers (CSP nonces), the ticket service
    and the eligibility rules as shipped; only the corpus pages are left out, so no index is built.
    """
    from contextlib import contextmanager

    @contextmanager
    def serve():
        from starlette.applications import Starlette
        from starlette.middleware import Middleware
        from starlette.routing import Mount

        from bot.console.advisers import adviser_routes
        from bot.console.auth import ConsoleMiddleware, ConsoleState
        from bot.console.routes_account import account_routes
        from bot.eligibility.service import EligibilityService
        from bot.handoff_adapters import ConversationTranscript
        from bot.middleware import SecurityHeaders
        from handoff import HandoffService, load_directory
        from tests.conftest import serving

        http = httpx.AsyncClient()
        handoff = HandoffService(sessions, load_directory(Path(directory_path)), http=http, messenger=None,
                                 transcript=ConversationTranscript(sessions))
        state = ConsoleState(sessions, b"adviser-console-test-secret-" + b"x" * 20,
                             services={"directory": lambda: handoff.directory})
        routes = [*account_routes(), *adviser_routes(handoff, EligibilityService.from_folder(sessions=sessions))]
        app = Starlette(routes=[Mount("/console", routes=routes,
                                      middleware=[Middleware(ConsoleMiddleware, state=state)])],
                        middleware=[Middleware(SecurityHeaders)])
        with serving(app, port) as base:
            yield AdviserConsole(base, handoff, sessions)

    return serve()
