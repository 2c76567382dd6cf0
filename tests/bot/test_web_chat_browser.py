"""The web chat page in a real headless Chromium (Debian's), against the real app served by uvicorn.

Desktop and a WeChat in-app browser profile (mobile viewport, WeChat user agent).
"""


import pytest

from tests.conftest import app_settings, free_port, running_app

pytestmark = pytest.mark.slow

WECHAT_UA = ("Mozilla/5.0 (Linux; Android 10; V1938T Build/QP1A.190711.020; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Version/4.0 Chrome/86.0.4240.99 XWEB/4343 MMWEBSDK/20220805 Mobile Safari/537.36 MicroMessenger/8.0.27")


@pytest.fixture(scope="module")
def server(corpus_index, tmp_path_factory):
    # Nothing listens at LAWLINE_RASA_URL: the answers come from retrieval.
    settings = app_settings(corpus_index, tmp_path_factory.mktemp("var"),
                            LAWLINE_RASA_URL=f"http://127.0.0.1:{free_port()}", LAWLINE_ENGINE_TIMEOUT="1.0")
    with running_app(settings, free_port()) as base:
        yield base



@pytest.mark.parametrize("profile", ["desktop", "wechat"])
def test_resident_asks_and_reads_a_cited_answer(server, browser, profile):
    options = {"viewport": {"width": 1280, "height": 800}}
    if profile == "wechat":
        options = {"viewport": {"width": 360, "height": 640}, "user_agent": WECHAT_UA, "is_mobile": True,
                   "has_touch": True}
    context = browser.new_context(**options)
    page = context.new_page()
    blocked = []  # the page's own script runs under the Content-Security-Policy (its nonce), nothing is refused
    page.on("console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text
            else None)
    page.goto(f"{server}/chat")
    assert "12348" in page.title()
    page.fill("#text", "我在工地干了半年，包工头跑了，工钱找谁要")
    page.click("#send")
    reply = page.locator(".msg.bot").nth(1)
    reply.wait_for(timeout=20000)
    assert "《保障农民工工资支付条例》" in reply.inner_text()
    page.click("text=法律援助自测")
    page.locator(".msg.bot").nth(2).wait_for(timeout=20000)
    assert page.evaluate("window.localStorage.getItem('lawline-chat-session')")
    assert not blocked, blocked
    context.close()
