"""Issue #16: every case route × every role through the real app, on the sample directory's villages.

Advisers see and act on the cases of their villages and those assigned to or claimed by them, a hotline
lawyer the hotline's, administrators all; anything else is 404 exactly like a case that does not exist
(and nothing changes), editors and reviewers get 403. A case page shows the resident's name to those who may
see it, their phone, callback and ID numbers masked; whole only to the person handling the case, after the
audited 显示完整号码 — and nowhere for the others.
"""

import datetime as dt
import itertools
import re

import httpx
import pytest
from sqlalchemy import func, select

from bot.console.accounts import create_account
from bot.console.models import AuditEntry
from bot.models import Conversation, Message
from handoff.models import Delivery, Ticket, TicketEvent
from tests.conftest import free_port, running_app
from tests.console.conftest import PASSWORD, copy_corpus_env, csrf_of, sign_in
from tests.handoff.conftest import always_on_duty_directory

pytestmark = pytest.mark.slow

# role → (username, console role, villages as an administrator writes them)
ACCOUNTS = {
    "editor": ("editor", "editor", ()),
    "reviewer": ("reviewer", "reviewer", ()),
    "adviser_a": ("adviser-a", "adviser", ("sx-t1-v1",)),  # village A (示例镇示例村), no directory person
    "adviser_b": ("p-adviser-2", "adviser", ("演示乡",)),  # a town by name: its villages; the directory's 乙顾问
    "hotline": ("p-lawyer-labour", "adviser", ()),  # the directory's hotline lawyer 丙律师
    "admin": ("admin", "admin", ()),
}
ROLES = list(ACCOUNTS)
ACTOR = {"adviser_a": "account:adviser-a", "adviser_b": "p-adviser-2", "hotline": "p-lawyer-labour",
         "admin": "account:admin"}
CASES = {  # name: (village, target, assignee, owner, state)
    "A": ("sx-t1-v1", "adviser", "p-adviser-1", None, "open"),  # village A's case
    "B": ("sx-t2-v1", "adviser", "p-adviser-2", None, "open"),  # village B's case
    "H": ("sx-t1-v2", "hotline", "p-lawyer-family", None, "open"),  # the hotline's, another lawyer suggested
    "X": ("sx-t1-v2", "adviser", "p-adviser-2", None, "open"),  # outside B's town, assigned to B
    "O": (None, "legal_aid", None, "p-lawyer-labour", "claimed"),  # no village, claimed by the hotline lawyer
}
VISIBLE = {"editor": set(), "reviewer": set(), "adviser_a": {"A"}, "adviser_b": {"B", "X"},
           "hotline": {"H", "O"}, "admin": set(CASES)}
_numbers = itertools.count(1000)


@pytest.fixture(scope="module")
def env(corpus_index, tmp_path_factory):
    root = tmp_path_factory.mktemp("case-access")
    return copy_corpus_env(corpus_index, root, LAWLINE_DIRECTORY=always_on_duty_directory(root),
                           LAWLINE_WECOM_API_BASE=f"http://127.0.0.1:{free_port()}")  # robots: nothing listens


@pytest.fixture(scope="module")
def clients(env):
    with env.sessions.begin() as session:
        for username, role, villages in ACCOUNTS.values():
            create_account(session, username, PASSWORD, role, villages=villages)
    with running_app(env.settings, free_port()) as base:
        signed_in = {}
        for role, (username, _, _) in ACCOUNTS.items():
            client = httpx.Client(base_url=base, timeout=60, follow_redirects=False)
            assert sign_in(client, username).status_code == 303
            signed_in[role] = client
        yield signed_in
        for client in signed_in.values():
            client.close()


def make_cases(env) -> dict[str, dict]:
    """The five cases afresh, each with a transcript carrying the resident's own phone and ID numbers."""
    made = {}
    now = dt.datetime.now(dt.UTC)
    with env.sessions.begin() as session:
        for name, (village, target, assignee, owner, state) in CASES.items():
            n = next(_numbers)
            phone, id_number = f"139{n:08d}", f"11010119900307{n:04d}"
            key = f"web:{n:032d}"
            conversation = Conversation(key=key, channel="web", openid=f"{n:032d}")
            session.add(conversation)
            session.flush()
            session.add(Message(conversation_id=conversation.id, direction="in", channel="web", meta={},
                                text=f"我叫王{n}，电话{phone}，身份证{id_number}，老板欠工钱", created_at=now))
            ticket = Ticket(conversation_key=key, channel="web", openid=f"{n:032d}", reason="requested",
                            topic="wages", summary="欠工钱", village=village, target=target, assignee=assignee,
                            owner=owner, state=state, created_at=now, updated_at=now, callback_at=now,
                            callback_phone=phone, first_response_due=now + dt.timedelta(days=30),
                            resolution_due=now + dt.timedelta(days=60))
            session.add(ticket)
            session.flush()
            made[name] = {"id": ticket.id, "secrets": (phone, id_number, f"王{n}")}
    return made


def snapshot(env, ticket_id: int) -> tuple:
    with env.sessions() as session:
        ticket = session.get(Ticket, ticket_id)
        events = session.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.ticket_id == ticket_id))
        deliveries = session.scalar(select(func.count()).select_from(Delivery).where(Delivery.ticket_id == ticket_id))
        return ticket.state, ticket.owner, ticket.target, ticket.outcome, events, deliveries


def listed(html: str) -> set[int]:
    return {int(i) for i in re.findall(r'href="/console/cases/(\d+)"', html)}


def _sees(role: str, ticket: Ticket) -> bool:
    """The rule written out independently of bot.console.access (the oracle for lists and counts)."""
    if role == "admin":
        return True
    person = ACTOR.get(role)
    if ticket.owner == person or ticket.assignee == person:
        return True
    villages = {"adviser_a": {"sx-t1-v1"}, "adviser_b": {"sx-t2", "sx-t2-v1", "sx-t2-v2"}}.get(role, set())
    return ticket.village in villages or (role == "hotline" and ticket.target == "hotline")


# ---- the queue -------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ROLES)
def test_the_queue_lists_exactly_the_cases_the_role_may_see(env, clients, role):
    cases = make_cases(env)
    views = {"": ("open", "callback", "claimed"), "?view=closed": ("closed",), "?view=mine": ("claimed",)}
    for query, states in views.items():
        response = clients[role].get(f"/console/cases{query}")
        if role in ("editor", "reviewer"):
            assert response.status_code == 403, (role, query)
            continue
        assert response.status_code == 200, (role, query)
        with env.sessions() as session:
            expected = {t.id for t in session.scalars(select(Ticket).where(Ticket.state.in_(states)))
                        if _sees(role, t) and (query != "?view=mine" or t.owner == ACTOR[role])}
        assert listed(response.text) == expected, (role, query)
        for name, case in cases.items():
            assert (case["id"] in listed(response.text)) == (name in VISIBLE[role] and (
                query == "" or query == "?view=mine" and CASES[name][3] == ACTOR[role])), (role, query, name)
    if role in ("adviser_a", "adviser_b", "hotline"):
        assert "您负责的" not in clients[role].get("/console/cases").text  # every entry is a directory place


def test_an_entry_the_directory_does_not_know_is_shown_to_fix(env, clients):
    with env.sessions.begin() as session:
        create_account(session, "typo", PASSWORD, "adviser", villages=("城西街道白土坝村",))
    client = httpx.Client(base_url=str(clients["admin"].base_url), timeout=60, follow_redirects=False)
    with client:
        assert sign_in(client, "typo").status_code == 303
        page = client.get("/console/cases")
    assert page.status_code == 200 and "服务目录里找不到您负责的：城西街道白土坝村" in page.text
    with env.sessions() as session:
        assert listed(page.text) == {t.id for t in session.scalars(select(Ticket)) if t.owner == "account:typo"}


# ---- one case --------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ROLES)
def test_a_case_page_opens_only_for_those_who_may_see_it(env, clients, role):
    cases = make_cases(env)
    client = clients[role]
    missing = client.get("/console/cases/999999999")
    assert missing.status_code == (403 if role in ("editor", "reviewer") else 404)
    for name, case in cases.items():
        response = client.get(f"/console/cases/{case['id']}")
        if role in ("editor", "reviewer"):
            assert response.status_code == 403, (role, name)
        elif name in VISIBLE[role]:
            assert response.status_code == 200, (role, name)
            phone, id_number, resident = case["secrets"]
            assert resident in response.text  # the transcript is there, with the name they talk to
            assert phone not in response.text and id_number not in response.text, (role, name)  # until revealed
            assert f"电话 {phone[:3]}********（居民同意回电）" in response.text and id_number[:3] + "*" * 15 in response.text
            continue
        else:
            assert response.status_code == 404, (role, name)
            assert response.text == missing.text  # word for word a case that does not exist
        assert not any(secret in response.text for secret in case["secrets"]), (role, name)


# ---- 显示完整号码 ------------------------------------------------------------------------------------
def _reveals(env, ticket_id: int) -> int:
    with env.sessions() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "case.reveal", AuditEntry.target == f"ticket:{ticket_id}"))


@pytest.mark.parametrize("role", ROLES)
def test_only_the_person_handling_a_case_sees_its_numbers_whole_and_it_is_audited(env, clients, role):
    cases = make_cases(env)
    client = clients[role]
    token = csrf_of(client.get("/console/").text)
    for name, case in cases.items():
        phone, id_number, _ = case["secrets"]
        handles = CASES[name][4] == "claimed" and CASES[name][3] == ACTOR.get(role)  # only O, the hotline lawyer's
        page = client.get(f"/console/cases/{case['id']}")
        assert ('id="reveal"' in page.text) == handles, (role, name)
        response = client.post(f"/console/cases/{case['id']}/reveal", data={"csrf_token": token})
        expected = 403 if role in ("editor", "reviewer") else 404 if name not in VISIBLE[role] else (
            200 if handles else 403)
        assert response.status_code == expected, (role, name)
        assert (phone in response.text and id_number in response.text) == handles, (role, name)
        if handles:
            assert f"电话 {phone}（居民同意回电）" in response.text and "已记入操作记录" in response.text
        assert _reveals(env, case["id"]) == (1 if handles else 0), (role, name)
    forged = client.post(f"/console/cases/{cases['O']['id']}/reveal", data={})  # no CSRF token: refused
    assert forged.status_code == 403 and _reveals(env, cases["O"]["id"]) == (1 if role == "hotline" else 0)


def test_claiming_a_case_lets_its_adviser_reveal_the_numbers(env, clients):
    case = make_cases(env)["A"]
    adviser = clients["adviser_a"]
    token = csrf_of(adviser.get("/console/").text)
    assert adviser.post(f"/console/cases/{case['id']}/reveal", data={"csrf_token": token}).status_code == 403
    assert adviser.post(f"/console/cases/{case['id']}/claim", data={"csrf_token": token}).status_code == 303
    revealed = adviser.post(f"/console/cases/{case['id']}/reveal", data={"csrf_token": token})
    assert revealed.status_code == 200 and all(secret in revealed.text for secret in case["secrets"])
    assert not any(secret in adviser.get(f"/console/cases/{case['id']}").text for secret in case["secrets"][:2])
    assert _reveals(env, case["id"]) == 1


# ---- every action ----------------------------------------------------------------------------------
FORMS = {
    "claim": {},
    "reply": {"text": "您好，我是负责您这件事的顾问。"},
    "transfer": {"target": "hotline", "note": "转热线"},
    "close": {"outcome": "resolved", "note": "已解答"},
    "report_danger": {"message": "0" * 16, "kind": "threat"},  # no such line: refused after the access check
    "no_such_action": {},
}


def expected_status(role: str, name: str, action: str) -> int:
    """What a role that may see the case gets: the case's own state decides (claim first, someone else's …)."""
    if role in ("editor", "reviewer"):
        return 403
    if name not in VISIBLE[role] or action == "no_such_action":
        return 404
    if action == "report_danger":
        return 400
    owner = CASES[name][3]
    if action == "claim":
        return 303 if owner in (None, ACTOR[role]) else 409
    return 303 if owner == ACTOR[role] else 409  # reply, transfer, close: only by the one who claimed it


@pytest.mark.parametrize("action", list(FORMS))
@pytest.mark.parametrize("role", ROLES)
def test_every_action_on_every_case_for_every_role(env, clients, role, action):
    cases = make_cases(env)
    client = clients[role]
    token = csrf_of(client.get("/console/").text)
    for name, case in cases.items():
        before = snapshot(env, case["id"])
        response = client.post(f"/console/cases/{case['id']}/{action}", data={"csrf_token": token, **FORMS[action]})
        status = expected_status(role, name, action)
        assert response.status_code == status, (role, name, action, response.text[-400:])
        assert not any(secret in response.text for secret in case["secrets"])
        after = snapshot(env, case["id"])
        if status != 303:
            assert after == before, (role, name, action)  # refused: nothing changed, the resident is told nothing
            if status == 404:
                message = "没有这个操作。" if name in VISIBLE[role] else "没有这个案件。"
                assert message in response.text, (role, name, action)
            continue
        state, owner, target, outcome, events, deliveries = after
        assert response.headers["location"].startswith(f"/console/cases/{case['id']}?flash=")
        assert events > before[4] or (action == "claim" and before[1] == ACTOR[role]), (role, name, action)
        if action == "claim":
            assert (state, owner) == ("claimed", ACTOR[role])
        elif action == "close":
            assert (state, outcome) == ("closed", "resolved") and deliveries == before[5] + 1
        elif action == "reply":
            assert deliveries == before[5] + 1
        elif action == "transfer":
            assert (state, target, owner) == ("open", "hotline", None)


def test_a_case_transferred_out_of_reach_goes_back_to_the_queue(env, clients):
    case = make_cases(env)["O"]  # the hotline lawyer's claimed case, no village
    lawyer, adviser_b = clients["hotline"], clients["adviser_b"]
    assert adviser_b.get(f"/console/cases/{case['id']}").status_code == 404
    token = csrf_of(lawyer.get("/console/").text)
    moved = lawyer.post(f"/console/cases/{case['id']}/transfer",
                        data={"csrf_token": token, "target": "adviser", "to_person": "p-adviser-2"})
    assert moved.status_code == 303 and moved.headers["location"].startswith("/console/cases?flash=")
    assert lawyer.get(f"/console/cases/{case['id']}").status_code == 404
    assert adviser_b.get(f"/console/cases/{case['id']}").status_code == 200  # now assigned to B


# ---- analytics and its export ----------------------------------------------------------------------
@pytest.mark.parametrize("role", ["adviser_a", "adviser_b", "hotline"])
def test_analytics_count_only_the_cases_the_adviser_may_see(env, clients, role):
    make_cases(env)
    client = clients[role]
    page = client.get("/console/analytics")
    csv_text = client.get("/console/analytics.csv").text
    assert page.status_code == 200
    with env.sessions() as session:
        mine = [t for t in session.scalars(select(Ticket)) if _sees(role, t)]
    assert re.search(r"<b>(\d+)</b>转人工工单", page.text)[1] == str(len(mine))
    others = {"adviser_a": ("演示乡", "样板村"), "adviser_b": ("示例村",), "hotline": ("演示乡", "示例镇示例村")}
    for place in others[role]:
        assert place not in page.text and place not in csv_text, (role, place)
