"""Issue #17 item 4 over HTTP: the live events of the queue and a case, close only a claimed case, legal-aid cases
named in Chinese (with the contact the resident left, masked until revealed), village assignment chosen from the
directory by name.

The console is served alone (``adviser_console``: real middleware, CSRF, ticket service, eligibility rules) on
SQLite and PostgreSQL, so no corpus index is built. Every new route is also asked by an adviser of another
village, who must get exactly what a case that does not exist gets.
"""

from __future__ import annotations

import asyncio
import itertools
import json

import pytest
from sqlalchemy import select

from bot.console.accounts import create_account
from bot.console.models import ConsoleAccount
from bot.eligibility.ports import Contact, SubmittedPreApplication
from bot.eligibility.service import EligibilityService
from bot.handoff_adapters import pre_application_hook
from bot.models import Conversation, Message
from bot.web_chat import TEMPLATES
from handoff.models import Ticket
from tests.conftest import free_port
from tests.console.conftest import PASSWORD, adviser_console, client_for, csrf_of, post_form
from tests.handoff.conftest import always_on_duty_directory

_residents = itertools.count(1)


@pytest.fixture
def console(sessions, tmp_path):
    with sessions.begin() as session:
        create_account(session, "adviser-a", PASSWORD, "adviser", villages=("sx-t1-v1",))  # 示例镇示例村
        create_account(session, "p-adviser-2", PASSWORD, "adviser", villages=("sx-t2",))  # 演示乡 and its villages
        create_account(session, "admin", PASSWORD, "admin")
        create_account(session, "editor", PASSWORD, "editor")
    with adviser_console(sessions, always_on_duty_directory(tmp_path), free_port()) as served:
        yield served


def open_case(console, village: str | None = "sx-t1-v1", said: str = "老板欠我三个月工钱") -> tuple[int, str]:
    """A resident's conversation and the ticket the desk opens for it (the real ticket service)."""
    key = f"web:{next(_residents):032d}"
    with console.sessions.begin() as session:
        conversation = Conversation(key=key, channel="web", openid=key[4:])
        session.add(conversation)
        session.flush()
        session.add(Message(conversation_id=conversation.id, direction="in", channel="web", text=said, meta={}))
    opened = console.handoff.tickets.open(key, reason="requested", topic="wages", village=village, channel="web")
    return opened.ticket.id, key


def state_of(console, ticket_id: int) -> str:
    with console.sessions() as session:
        return session.get(Ticket, ticket_id).state


# ---- live events -------------------------------------------------------------------------------------
def test_the_queue_hears_of_a_new_case_only_in_the_advisers_villages(console):
    a, b = client_for(console.base, "adviser-a"), client_for(console.base, "p-adviser-2")
    start = a.get("/console/cases/events", params={"wait": "0"}).json()["after"]
    ticket_id, _ = open_case(console)
    heard = a.get("/console/cases/events", params={"after": start, "wait": "5"}).json()
    assert [(e["ticket"], e["kind"], e["alert"]) for e in heard["events"]] == [(ticket_id, "opened", True)]
    assert heard["after"] == heard["events"][-1]["id"]
    assert b.get("/console/cases/events", params={"after": start, "wait": "0"}).json()["events"] == []
    admin = client_for(console.base, "admin")
    assert [e["ticket"] for e in admin.get("/console/cases/events", params={"after": start, "wait": "0"})
            .json()["events"]] == [ticket_id]
    assert client_for(console.base, "editor").get("/console/cases/events").status_code == 403
    assert a.get("/console/cases/events", params={"after": "x"}).status_code == 400


def test_a_case_page_listens_to_its_own_case_and_another_village_gets_404(console):
    a, b = client_for(console.base, "adviser-a"), client_for(console.base, "p-adviser-2")
    ticket_id, key = open_case(console)
    other_id, _ = open_case(console)
    start = a.get(f"/console/cases/{ticket_id}/events", params={"wait": "0"}).json()["after"]
    console.handoff.tickets.resident_message(key, "我的电话是13912345678，什么时候回我")
    console.handoff.tickets.resident_message(open_case(console)[1], "别的案件")
    events = a.get(f"/console/cases/{ticket_id}/events", params={"after": start, "wait": "5"}).json()["events"]
    assert [(e["ticket"], e["kind"]) for e in events] == [(ticket_id, "resident_message")]
    assert "1391234" not in json.dumps(events)  # an event never carries what the resident wrote
    missing = b.get("/console/cases/999999999/events", params={"wait": "0"})
    refused = b.get(f"/console/cases/{ticket_id}/events", params={"wait": "0"})
    assert missing.status_code == refused.status_code == 404 and refused.text == missing.text
    assert b.get(f"/console/cases/{other_id}/events", params={"wait": "0"}).status_code == 404
    assert client_for(console.base, "editor").get(f"/console/cases/{ticket_id}/events").status_code == 403


def test_the_event_stream_brings_a_residents_message_to_the_open_case(console):
    a = client_for(console.base, "adviser-a")
    ticket_id, key = open_case(console)
    start = a.get(f"/console/cases/{ticket_id}/events", params={"wait": "0"}).json()["after"]  # as the page renders
    with a.stream("GET", f"/console/cases/{ticket_id}/events", params={"after": start},
                  headers={"Accept": "text/event-stream"}, timeout=20) as stream:
        assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines) == "retry: 3000"
        console.handoff.tickets.resident_message(key, "还在吗")
        received = [next(lines) for _ in range(3)]
    assert received[0] == "" and received[1].startswith("id: ")
    assert json.loads(received[2].removeprefix("data: "))["kind"] == "resident_message"


def test_the_pages_say_where_to_listen_and_which_cases_are_unread(console):
    a = client_for(console.base, "adviser-a")
    ticket_id, _ = open_case(console)
    queue = a.get("/console/cases").text
    assert 'data-events="/console/cases/events"' in queue
    assert f'data-ticket="{ticket_id}" data-alert="' in queue and 'data-alert="0"' not in queue
    page = a.get(f"/console/cases/{ticket_id}")
    assert f'data-events="/console/cases/{ticket_id}/events"' in page.text
    assert "script-src 'nonce-" in page.headers["content-security-policy"]
    listener = (TEMPLATES / "live.js").read_text(encoding="utf-8").rstrip("\n")  # the web chat's listener
    assert all(listener in html and html.count("function liveUpdates") == 1 for html in (queue, page.text))


# ---- close only a claimed case ---------------------------------------------------------------------
def test_an_unclaimed_case_cannot_be_closed_and_offers_no_close_button(console):
    a = client_for(console.base, "adviser-a")
    ticket_id, _ = open_case(console)
    case = f"/console/cases/{ticket_id}"
    assert 'id="close"' not in a.get(case).text
    refused = post_form(a, case, f"{case}/close", {"outcome": "resolved", "note": "已解答"})
    assert refused.status_code == 409 and "还没有人认领，不能办结" in refused.text
    assert state_of(console, ticket_id) == "open"
    assert post_form(a, case, f"{case}/claim", {}).status_code == 303
    assert 'id="close"' in a.get(case).text
    admin = client_for(console.base, "admin")  # claimed by someone else: no button, and refused
    assert 'id="close"' not in admin.get(case).text
    assert post_form(admin, case, f"{case}/close", {"outcome": "resolved"}).status_code == 409
    assert post_form(a, case, f"{case}/close", {"outcome": "resolved", "note": "已解答"}).status_code == 303
    assert state_of(console, ticket_id) == "closed"
    b = client_for(console.base, "p-adviser-2")  # another village: the case is not there
    token = csrf_of(b.get("/console/cases").text)
    other, _ = open_case(console)
    assert b.post(f"/console/cases/{other}/close", data={"csrf_token": token, "outcome": "resolved"}).status_code == 404


# ---- legal aid -------------------------------------------------------------------------------------
def test_a_legal_aid_case_shows_matter_district_and_decision_in_chinese(console):
    hook = pre_application_hook(console.handoff.tickets, console.sessions)
    asyncio.run(hook(SubmittedPreApplication(
        token="t" * 20, code="000042", page_url=None, sender=None,
        decision={"decision": "needs_review", "means_test": "unknown", "basis": [], "explanation": "",
                  "rules_version": "x"},
        answers=[("什么事", "讨工钱")], result={"decision_label": "要由法律援助机构进一步审查"},
        situation={"matter": "labor_relation_or_remuneration", "province": "重庆", "area": "黔江区"})))
    with console.sessions() as session:
        ticket_id = session.scalar(select(Ticket.id).where(Ticket.reason == "legal_aid_pre_application"))
    admin = client_for(console.base, "admin")
    page = admin.get(f"/console/cases/{ticket_id}").text
    assert "事项：请求确认劳动关系或者支付劳动报酬 · 地点：重庆市黔江区" in page
    assert "结论：要由法律援助机构进一步审查" in page and "经济困难：要由法律援助机构核查" in page
    assert "needs_review" not in page and "未分类" not in page and "未说明" not in page
    queue = admin.get("/console/cases").text
    assert "请求确认劳动关系或者支付劳动报酬" in queue and "needs_review" not in queue



def test_the_contact_left_with_a_pre_application_is_masked_until_the_handler_reveals_it(console):
    service = EligibilityService.from_folder(sessions=console.sessions,
                                             on_submit=pre_application_hook(console.handoff.tickets, console.sessions))
    answers = {"elig_urgency": "none", "elig_matter": "labor_relation_or_remuneration", "elig_stage": "not_started",
               "elig_province": "重庆", "elig_place": "黔江区", "elig_has_lawyer": "no", "elig_identity": "migrant_worker"}
    token = service.conclude(answers, sender=None).token
    assert asyncio.run(service.submit(token, Contact("张三", "13912345678"))).status == "sent"
    with console.sessions() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.reason == "legal_aid_pre_application")).one()
    assert "13912345678" not in ticket.summary and "张三" not in ticket.summary  # the group robot's card
    admin = client_for(console.base, "admin")
    case = f"/console/cases/{ticket.id}"
    page = admin.get(case).text
    assert "联系人：张三 · 电话 139********（居民同意留下，供法律援助中心回电）" in page and "13912345678" not in page
    assert post_form(admin, case, f"{case}/claim", {}).status_code == 303
    revealed = post_form(admin, case, f"{case}/reveal", {})
    assert "联系人：张三 · 电话 13912345678（" in revealed.text
    other = client_for(console.base, "adviser-a")  # a village adviser: not their case, not there
    assert other.get(case).status_code == 404


def test_an_advisers_villages_are_chosen_from_the_directory_and_shown_by_name(console):
    admin = client_for(console.base, "admin")
    page = admin.get("/console/accounts").text
    for choice in ('value="sx-t1"> 示例镇（全镇）', 'value="sx-t1-v2"> 示例镇样板村', 'value="sx-t2-v2"> 演示乡虚构社区'):
        assert choice in page, choice
    assert "<td>示例镇示例村</td>" in page and "<td>sx-t1-v1</td>" not in page  # names, never a bare code
    update = {"action": "update", "username": "adviser-a", "role": "adviser", "name": "甲", "active": "1"}
    refused = post_form(admin, "/console/accounts", "/console/accounts", {**update, "villages": ["sx-t1-v2", "示例村xx"]})
    assert refused.status_code == 400 and "服务目录里没有：示例村xx。请从列表里选村（社区）或乡镇。" in refused.text
    saved = post_form(admin, "/console/accounts", "/console/accounts", {**update, "villages": ["sx-t1-v2", "sx-t2"]})
    assert saved.status_code == 200 and "已更新账号 adviser-a。" in saved.text
    with console.sessions() as session:
        villages = session.scalar(select(ConsoleAccount.villages).where(ConsoleAccount.username == "adviser-a"))
    assert villages == ["sx-t1-v2", "sx-t2"]
    home = client_for(console.base, "adviser-a").get("/console/").text
    assert "您负责的村（社区）：示例镇样板村、演示乡（全镇）。" in home
