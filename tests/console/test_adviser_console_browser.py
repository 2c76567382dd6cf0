"""Issue #17 item 4 in Debian's Chromium on a phone (360 px, WeChat's user agent): the adviser's queue and case.

A new case appears in the open queue without a reload, marked 新消息 until it is opened; on the case page the
reply box is on the first screen, the transcript is folded to its last lines (展开全部), and a resident's new
message appears while the page is open — by the event stream and by the long poll of an old in-app browser.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bot.console.accounts import create_account
from bot.models import Conversation, Message
from tests.bot.test_web_chat_browser import WECHAT_UA
from tests.conftest import free_port
from tests.console.conftest import PASSWORD, adviser_console
from tests.console.test_adviser_console import open_case
from tests.handoff.conftest import always_on_duty_directory

pytestmark = pytest.mark.slow
PHONE = {"viewport": {"width": 360, "height": 640}, "user_agent": WECHAT_UA, "is_mobile": True, "has_touch": True}


@pytest.fixture
def console(sessions, tmp_path):
    with sessions.begin() as session:
        create_account(session, "p-adviser-1", PASSWORD, "adviser", villages=("sx-t1-v1",))
    with adviser_console(sessions, always_on_duty_directory(tmp_path), free_port()) as served:
        yield served


def say(console, key: str, text: str, direction: str = "in") -> None:
    with console.sessions.begin() as session:
        conversation_id = session.scalar(select(Conversation.id).where(Conversation.key == key))
        session.add(Message(conversation_id=conversation_id, direction=direction, channel="web", text=text, meta={}))


def _adviser(browser, base, *, event_source: bool):
    context = browser.new_context(**PHONE)
    if not event_source:
        context.add_init_script("delete window.EventSource;")
    page = context.new_page()
    refused = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{base}/console/login")
    page.fill("#username", "p-adviser-1")
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_url(re.compile(r".*/console/$"))
    return context, page, refused


@pytest.mark.parametrize("listening", ["event stream", "long poll"])
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_new_case_and_a_residents_message_appear_live_on_a_phone(console, browser, listening):
    context, page, refused = _adviser(browser, console.base, event_source=listening == "event stream")
    page.goto(f"{console.base}/console/cases")
    assert page.locator("a.case-row").count() == 0
    ticket_id, key = open_case(console, said="第一句")
    row = page.locator(f"a.case-row[data-ticket='{ticket_id}']")
    row.wait_for(timeout=10000)  # no reload
    assert row.locator(".unread-mark").is_visible()

    for n in range(2, 9):  # a long conversation
        say(console, key, f"第{n}句：" + "很长的一段话。" * 12, "in" if n % 2 else "out")
    row.click()
    page.wait_for_url(re.compile(rf".*/console/cases/{ticket_id}$"))
    page.goto(f"{console.base}/console/cases")
    assert not row.locator(".unread-mark").is_visible()  # opened: read
    row.click()
    page.wait_for_url(re.compile(rf".*/console/cases/{ticket_id}$"))
    page.click("#claim")
    page.wait_for_url(re.compile(rf".*/console/cases/{ticket_id}\?flash="))
    box = page.locator("#text").bounding_box()
    assert box is not None and box["y"] + box["height"] <= 640, box  # the reply box on the first screen
    assert page.locator("#transcript > .line").count() == 4 and not page.locator("#earlier").get_attribute("open")
    assert "展开全部（前面还有 4 条）" in page.locator("#earlier summary").inner_text()
    assert not page.locator("#earlier .line", has_text="第一句").is_visible()
    page.locator("#earlier summary").tap()
    assert page.locator("#earlier .line", has_text="第一句").is_visible()
    assert page.locator("#close").count() == 1 and not page.locator("#close").is_visible()  # folded under 办结

    page.fill("#text", "我正在写回复")
    say(console, key, "您好，还在吗？")  # as the desk does: the message is recorded, then passed to the case
    console.handoff.tickets.resident_message(key, "您好，还在吗？")
    page.locator("#transcript .line", has_text="还在吗").wait_for(timeout=10000)
    assert page.locator("#earlier").get_attribute("open") is not None  # what the adviser opened stays open
    assert page.input_value("#text") == "我正在写回复"  # and what they were writing stays
    page.goto(f"{console.base}/console/cases")
    assert not page.locator(f"a.case-row[data-ticket='{ticket_id}'] .unread-mark").is_visible()  # opened: read
    console.handoff.tickets.resident_message(key, "又写了一句")  # while the adviser looks at the queue
    page.locator(f"a.case-row[data-ticket='{ticket_id}'] .unread-mark").wait_for(state="visible", timeout=10000)
    assert not refused, refused
    context.close()
