"""Sign-in throttling and client addresses in the real app (uvicorn, real sockets from 127.0.0.x).

Each client binds its own loopback address, so the app sees real, different socket peers; ``PROXY`` is
the one named in ``LAWLINE_TRUSTED_PROXIES``. ``base`` is served as ``lawline serve`` serves it (uvicorn's
proxy options from the same setting); ``own_rule_base`` serves the same app through a second uvicorn that
reads no proxy headers at all, so only the console's own rule (``channels.client_address``) can name the
client there. Waits are passed by moving the recorded attempts into the past, never by sleeping.
"""

import datetime as dt
import logging
import re

import httpx
import pytest
from sqlalchemy import select

from bot.app import create_app
from bot.cli import proxy_options
from bot.console.accounts import create_account
from bot.console.models import AuditEntry, LoginAttempt
from bot.services import build_services
from tests.conftest import ACTION_SECRET, free_port, serving
from tests.console.conftest import PASSWORD, add_accounts, copy_corpus_env, csrf_of, post_form, sign_in

pytestmark = pytest.mark.slow
PROXY = "127.0.0.2"
WRONG = "not the password 1"


@pytest.fixture(scope="module")
def env(corpus_index, tmp_path_factory):
    return copy_corpus_env(corpus_index, tmp_path_factory.mktemp("throttle"), LAWLINE_TRUSTED_PROXIES=PROXY)


@pytest.fixture(scope="module")
def names(env):
    return add_accounts(env.sessions)


@pytest.fixture(scope="module")
def app(env, names):
    """The real app on the module's corpus copy; its services are built once, by ``base``'s lifespan."""
    return create_app(lambda: build_services(env.settings), action_secret=ACTION_SECRET)


@pytest.fixture(scope="module")
def base(env, app):
    with serving(app, free_port(), **proxy_options(env.settings)) as url:
        yield url


@pytest.fixture(scope="module")
def own_rule_base(app, base):
    """The same app behind a second uvicorn that reads no proxy headers (its services are ``base``'s)."""
    with serving(app, free_port(), proxy_headers=False, lifespan="off") as url:
        yield url


@pytest.fixture
def client_at():
    """``client_at(base, address)``: an HTTP client whose connections come from ``address`` (loopback)."""
    made: list[httpx.Client] = []

    def make(base: str, address: str = "127.0.0.1") -> httpx.Client:
        client = httpx.Client(base_url=base, timeout=60, follow_redirects=False,
                              transport=httpx.HTTPTransport(local_address=address))
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def _account(env, username: str, role: str = "adviser") -> str:
    with env.sessions.begin() as session:
        create_account(session, username, PASSWORD, role)
    return username


def _sign_in(client: httpx.Client, username: str, password: str, forwarded_for: str) -> httpx.Response:
    page = client.get("/console/login", headers={"X-Forwarded-For": forwarded_for})
    return client.post("/console/login", headers={"X-Forwarded-For": forwarded_for},
                       data={"username": username, "password": password, "csrf_token": csrf_of(page.text)})


def _message(response: httpx.Response) -> str:
    match = re.search(r'<div class="danger" role="alert">([^<]+)</div>', response.text)
    assert match, response.text[:300]
    return match.group(1)


def _addresses(env, username: str) -> set[str]:
    with env.sessions() as session:
        return set(session.scalars(select(LoginAttempt.address).where(LoginAttempt.username == username)))


def _audit(env, action: str, target: str) -> list[AuditEntry]:
    with env.sessions() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action, AuditEntry.target == target)
                                    .order_by(AuditEntry.id)))


def _let_time_pass(env, address: str, seconds: int) -> None:
    """The app reads the real clock: move this address's recorded attempts ``seconds`` into the past."""
    with env.sessions.begin() as session:  # in Python: SQLite has no datetime arithmetic on these columns
        for row in session.scalars(select(LoginAttempt).where(LoginAttempt.address == address)):
            row.created_at -= dt.timedelta(seconds=seconds)


def test_the_owner_signs_in_at_their_desk_while_the_guessing_address_waits(env, base, client_at):
    name = _account(env, "dutylawyer")
    attacker, desk = client_at(base, "127.0.0.11"), client_at(base, "127.0.0.12")
    for _ in range(5):
        assert sign_in(attacker, name, WRONG).status_code == 401
    refused = sign_in(attacker, name, PASSWORD)  # the right password, but from the guessing address
    assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
    assert _message(refused) == "登录尝试过多，请 1 分钟后再试。"
    owner = sign_in(desk, name, PASSWORD)
    assert owner.status_code == 303 and desk.get("/console/").status_code == 200
    assert sign_in(attacker, name, PASSWORD).status_code == 429
    # A name nobody has: the same answer, so waits tell nothing about accounts.
    for _ in range(5):
        assert sign_in(attacker, "nobody-at-all", WRONG).status_code == 401
    missing = sign_in(attacker, "nobody-at-all", PASSWORD)
    assert missing.status_code == 429 and _message(missing) == _message(refused)
    assert _addresses(env, name) == {"127.0.0.11", "127.0.0.12"}


def test_each_guess_after_a_wait_doubles_the_next_wait(env, base, client_at):
    name = _account(env, "lawyer-backoff")
    attacker = client_at(base, "127.0.0.13")
    for _ in range(5):
        sign_in(attacker, name, WRONG)
    for minutes in (1, 2, 4):
        assert _message(sign_in(attacker, name, PASSWORD)) == f"登录尝试过多，请 {minutes} 分钟后再试。"
        _let_time_pass(env, "127.0.0.13", minutes * 60)
        assert sign_in(attacker, name, WRONG).status_code == 401  # the one guess the wait allows
    assert _message(sign_in(attacker, name, PASSWORD)) == "登录尝试过多，请 8 分钟后再试。"


def test_an_administrator_unlocks_an_account_and_the_unlock_is_audited(env, base, names, client_at):
    name = _account(env, "lawyer-unlock")
    attacker = client_at(base, "127.0.0.14")
    for _ in range(5):
        sign_in(attacker, name, WRONG)
    assert sign_in(attacker, name, PASSWORD).status_code == 429
    editor = client_at(base)
    assert sign_in(editor, names["editor"]).status_code == 303
    home = editor.get("/console/")
    refused = editor.post("/console/accounts", data={"csrf_token": csrf_of(home.text), "action": "unlock",
                                                    "username": name})
    assert refused.status_code == 403 and _audit(env, "account.unlock", f"account:{name}") == []
    admin = client_at(base)
    assert sign_in(admin, names["admin"]).status_code == 303
    page = admin.get("/console/accounts")
    assert "登录受限：1 个地址需再等最多 1 分钟" in page.text and "解除登录限制" in page.text
    done = post_form(admin, "/console/accounts", "/console/accounts", {"action": "unlock", "username": name})
    assert done.status_code == 200 and f"已解除 {name} 的登录限制（清除 5 次失败记录）" in done.text
    assert sign_in(attacker, name, PASSWORD).status_code == 303
    [entry] = _audit(env, "account.unlock", f"account:{name}")
    assert (entry.username, entry.detail) == (names["admin"], {"failures": 5})


# 127.0.0.1: uvicorn's own default would believe it (what ``lawline serve`` must not leave on).
@pytest.mark.parametrize(("server", "peer"), [("base", "127.0.0.1"), ("own_rule_base", "127.0.0.16")])
def test_forwarded_for_from_an_untrusted_peer_is_ignored(env, request, client_at, server, peer):
    name = _account(env, f"xff-untrusted-{server.replace('_', '-')}")
    client = client_at(request.getfixturevalue(server), peer)
    for i in range(5):  # a new made-up address each time would dodge the throttle if it were believed
        assert _sign_in(client, name, WRONG, f"203.0.113.{i}").status_code == 401
    assert _sign_in(client, name, PASSWORD, "203.0.113.99").status_code == 429
    assert _addresses(env, name) == {peer}


@pytest.mark.parametrize(("server", "net"), [("base", "203.0.113"), ("own_rule_base", "198.51.100")])
def test_forwarded_for_behind_the_trusted_proxy_names_the_client(env, request, client_at, server, net):
    name = _account(env, f"xff-trusted-{net[:3]}")
    proxy = client_at(request.getfixturevalue(server), PROXY)
    attacker, owner = f"{net}.50", f"{net}.7"
    for _ in range(5):  # 6.6.6.6 is what the attacker wrote; the proxy appended the address it saw
        assert _sign_in(proxy, name, WRONG, f"6.6.6.6, {attacker}").status_code == 401
    assert _sign_in(proxy, name, PASSWORD, attacker).status_code == 429
    assert _sign_in(proxy, name, PASSWORD, owner).status_code == 303  # the owner, through the same proxy
    assert _addresses(env, name) == {attacker, owner}


def test_a_burst_on_one_account_is_audited_logged_and_shown_to_administrators(env, base, names, client_at,
                                                                              caplog):
    caplog.set_level(logging.WARNING, logger="bot.console.throttle")
    name = _account(env, "burst-target")
    proxy = client_at(base, PROXY)
    for i in range(8):  # eight addresses, one guess each: no address waits, but the account is under attack
        assert _sign_in(proxy, name, WRONG, f"192.0.2.{i}").status_code == 401
    [alert] = _audit(env, "login.alert", f"account:{name}")
    assert alert.detail == {"failures": 8, "addresses": 8, "minutes": 15}
    warnings = [r.getMessage() for r in caplog.records if r.name == "bot.console.throttle"]
    assert len(warnings) == 1 and name in warnings[0] and "192.0.2." not in caplog.text
    assert WRONG not in caplog.text
    admin = client_at(base)
    assert sign_in(admin, names["admin"]).status_code == 303
    assert "条登录异常提醒" in admin.get("/console/").text
    page = admin.get("/console/accounts").text
    assert f"账号 {name}：15 分钟内登录失败 8 次，来自 8 个地址" in page and "192.0.2." not in page
