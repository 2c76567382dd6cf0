"""The web chat as a resident on a phone uses it (issue #17): Debian's Chromium, WeChat's user agent, the real app.

A person's reply goes through the real console (sign in, claim, reply, close) and reaches the resident's open
page without the resident writing; a reload restores the conversation; options are buttons; links and phone
numbers are anchors; the rating bar shows under answers only. Rasa is down (nothing listens on its port): the
answers come from retrieval, and escalation does not depend on it.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from bot.console.accounts import create_account
from handoff.models import Ticket
from tests.bot.test_web_chat_browser import WECHAT_UA
from tests.conftest import free_port, running_app
from tests.console.conftest import PASSWORD, client_for, copy_corpus_env, post_form
from tests.handoff.conftest import always_on_duty_directory

pytestmark = pytest.mark.slow

PHONE = {"viewport": {"width": 360, "height": 640}, "user_agent": WECHAT_UA, "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="module")
def stack(corpus_index, tmp_path_factory):
    root = tmp_path_factory.mktemp("webchat")
    port = free_port()
    env = copy_corpus_env(corpus_index, root, LAWLINE_PORT=str(port), LAWLINE_DIRECTORY=always_on_duty_directory(root),
                          LAWLINE_PUBLIC_URL="https://lawline.example")
    with env.sessions.begin() as session:
        create_account(session, "p-adviser-1", PASSWORD, "adviser", display_name="甲顾问")
    with running_app(env.settings, port) as base:
        yield base, env


def _phone_page(browser, base, *, event_source: bool = True):
    context = browser.new_context(**PHONE)
    if not event_source:  # an in-app browser without server-sent events: the page long-polls instead
        context.add_init_script("delete window.EventSource;")
    page = context.new_page()
    refused = []  # the page's scripts run under the Content-Security-Policy: nothing may be refused
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{base}/chat")
    return context, page, refused


def _say(page, text: str, replies_before: int) -> None:
    page.fill("#text", text)
    page.click("#send")
    page.locator(".msg.bot:not(.thinking)").nth(replies_before).wait_for(timeout=20000)


@pytest.mark.parametrize("listening", ["event stream", "long poll"])
def test_a_persons_reply_and_the_closing_notice_reach_the_open_chat_live(stack, browser, listening):
    base, env = stack
    context, page, refused = _phone_page(browser, base, event_source=listening == "event stream")
    listened = []
    page.on("request", lambda r: listened.append(r.headers.get("accept", "")) if "/api/chat/events" in r.url else None)
    _say(page, "转人工", 1)
    assert "哪个乡镇、哪个村" in page.locator(".msg.bot").nth(1).inner_text()
    _say(page, "我是示例镇示例村的", 2)
    page.locator(".msg.bot", has_text="甲顾问（示例）").wait_for(timeout=5000)  # who takes the case
    with env.sessions() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.channel == "web").order_by(Ticket.id.desc())).first()
    adviser = client_for(base, "p-adviser-1")
    case = f"/console/cases/{ticket.id}"
    assert post_form(adviser, case, f"{case}/claim", {}).status_code == 303
    assert "居民在网页上咨询" in adviser.get(case).text and "居民会在微信里收到" not in adviser.get(case).text

    sent = time.monotonic()
    reply = "您好，请把承包合同拍照，或者打 0851-12345678 找我，也可以看 https://lawline.example/help 。"
    assert post_form(adviser, case, f"{case}/reply", {"text": reply, "canned": ""}).status_code == 303
    staff = page.locator(".msg.staff", has_text="承包合同")
    staff.wait_for(timeout=10000)  # the resident wrote nothing since
    assert time.monotonic() - sent < 8
    assert "甲顾问" in staff.inner_text()
    assert staff.locator("a[href='tel:085112345678']").count() == 1
    assert staff.locator("a[href='https://lawline.example/help']").count() == 1
    assert staff.locator(".rate").count() == 0  # no rating under a person's reply

    assert post_form(adviser, case, f"{case}/close", {"outcome": "resolved", "note": "已解答"}).status_code == 303
    page.locator(".msg.staff", has_text="满意").wait_for(timeout=10000)

    page.reload()  # the conversation comes back from the server, each message once
    page.locator(".msg.staff", has_text="满意").wait_for(timeout=10000)
    page.wait_for_timeout(2500)  # the live stream is open again: it must not bring them a second time
    texts = page.locator(".msg").all_inner_texts()
    assert any("转人工" == t for t in texts) and any("我是示例镇示例村的" == t for t in texts)
    assert sum("承包合同" in t for t in texts) == 1 and sum("满意" in t for t in texts) == 1
    # The rating question is answered like any message; the reply comes back to the page.
    _say(page, "5", page.locator(".msg.bot:not(.thinking)").count())
    assert "谢谢" in page.locator(".msg.bot").last.inner_text()
    adviser.close()
    assert listened and all(("text/event-stream" in a) == (listening == "event stream") for a in listened)
    assert not refused, refused
    context.close()


def test_options_are_buttons_links_are_anchors_and_only_answers_are_rated(stack, browser):
    base, _ = stack
    context, page, refused = _phone_page(browser, base)
    page.fill("#text", "包工头跑了，干了半年的工钱找谁要")
    page.click("#send")
    page.locator(".msg.thinking").wait_for(timeout=5000)  # 正在查… while the answer is coming
    answer = page.locator(".msg.bot:not(.thinking)").nth(1)
    answer.wait_for(timeout=20000)
    assert page.locator(".msg.thinking").count() == 0
    assert answer.locator(".rate").count() == 1 and page.locator(".rate").count() == 1
    assert page.locator(".msg.me .rate").count() == 0
    assert answer.locator("a[href='tel:12348']").count() >= 1
    # A long answer opens at its top, not at its end.
    top, bottom = page.evaluate("(el) => [el.getBoundingClientRect().top, el.getBoundingClientRect().bottom]",
                                answer.element_handle())
    assert 0 <= top and (top <= 16 or bottom <= 640 - 100), (top, bottom)

    buttons = page.locator(".options button")
    assert buttons.nth(0).inner_text() == "1 看法条原文"
    buttons.nth(0).tap()
    page.locator(".msg.me", has_text="看法条原文").wait_for(timeout=5000)
    articles = page.locator(".msg.bot:not(.thinking)").nth(2)
    articles.wait_for(timeout=20000)
    assert "第" in articles.inner_text() and "条" in articles.inner_text()
    assert page.locator(".options button").count() == 3  # the menu is offered again, once

    # The greeting's text and the quick buttons are no answer: not rated.
    assert page.locator("#greeting .rate").count() == 0
    assert not refused, refused
    context.close()


def test_large_text_is_remembered(stack, browser):
    base, _ = stack
    context, page, _ = _phone_page(browser, base)
    small = page.evaluate("parseFloat(getComputedStyle(document.getElementById('greeting')).fontSize)")
    page.tap("#large")
    large = page.evaluate("parseFloat(getComputedStyle(document.getElementById('greeting')).fontSize)")
    assert large > small
    page.reload()
    assert page.evaluate("document.body.className") == "large"
    assert page.locator("#large").inner_text() == "标准字"
    context.close()
