"""The editors' main flows in a real headless Chromium (Debian's, driven by Playwright) against the real app.

Log in, edit an article, review and publish it (with the progress page), the hit test shows the new text;
upload an amendment (preview, submit, publish); view analytics — on a desktop and on a phone screen.
"""

import datetime as dt
import re

import pytest

from tests.conftest import free_port, running_app
from tests.console.conftest import PASSWORD, add_accounts, copy_corpus_env

pytestmark = pytest.mark.slow
MARKER = "（浏览器测试修改）"


@pytest.fixture(scope="module")
def env(corpus_index, tmp_path_factory):
    env = copy_corpus_env(corpus_index, tmp_path_factory.mktemp("console-browser"))
    add_accounts(env.sessions)
    return env


@pytest.fixture(scope="module")
def base(env):
    with running_app(env.settings, free_port()) as url:
        yield url



def _page(browser, mobile: bool = False):
    if mobile:
        context = browser.new_context(viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True)
    else:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
    return context, context.new_page()


def _log_in(page, base, username):
    page.goto(f"{base}/console/")
    assert "/console/login" in page.url
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_url(re.compile(r".*/console/$"))


def _publish(browser, base, draft_url):
    context, page = _page(browser)
    _log_in(page, base, "reviewer")
    page.goto(f"{base}/console/drafts?status=submitted")
    page.click(f"a[href='{draft_url}'] >> nth=0")
    for box in page.locator("input[name=checked]").all():  # an amendment: every change ticked (its own test checks)
        box.check()
    page.click("#approve")
    page.wait_for_url(re.compile(r".*/progress$"))
    # Locators, not wait_for_function: a string predicate is eval, which the pages' CSP refuses (no 'unsafe-eval').
    page.locator("#result", has_text="已发布").wait_for(timeout=120000)
    assert "重新编码" in page.inner_text("#result")
    return context, page


def test_edit_review_publish_then_the_hit_test_shows_the_new_text(browser, base, env):
    context, page = _page(browser)
    _log_in(page, base, "editor")
    page.click("header nav >> text=知识库")
    page.fill("input[name=q]", "支付令")
    page.click("#search")
    page.click("text=《中华人民共和国劳动合同法》第三十条")
    text = page.input_value("#text")
    page.fill("#text", text.replace("人民法院应当依法发出支付令。", "人民法院应当依法发出支付令。" + MARKER))
    page.fill("#note", "浏览器测试")
    page.click("#submit-draft")
    page.wait_for_url(re.compile(r".*/console/drafts/\d+$"))
    assert MARKER in page.inner_text("#diff") and page.locator("#diff ins").count() == 1
    draft_url = re.search(r"/console/drafts/\d+", page.url)[0]
    assert page.locator("#approve").count() == 0  # the editor cannot approve
    context.close()

    context, page = _publish(browser, base, draft_url)
    page.goto(f"{base}/console/hit")
    page.fill("#q", "拖欠劳动报酬 向人民法院申请支付令")
    page.click("#ask")
    page.wait_for_selector("#hits")
    assert MARKER in page.inner_text("#hits")
    assert "对话引擎（Rasa）现在连不上" in page.inner_text("#intent")
    context.close()
    assert MARKER in (env.corpus_dir / "statutes" / "中华人民共和国劳动合同法.md").read_text(encoding="utf-8")


def test_upload_an_amendment_with_preview(browser, base, env, tmp_path):
    text = (env.corpus_dir / "statutes" / "中华人民共和国劳动法.md").read_text(encoding="utf-8")
    text = re.sub(r"^effective: .*$", f"effective: {dt.date.today().isoformat()}", text, count=1, flags=re.M)
    text = text.replace("第五十条 工资应当以货币形式按月支付给劳动者本人。",
                        "第五十条 工资应当以货币形式按月支付给劳动者本人（浏览器修正测试）。")
    upload = tmp_path / "劳动法修正.md"
    upload.write_text(text, encoding="utf-8")
    context, page = _page(browser)
    _log_in(page, base, "editor")
    page.goto(f"{base}/console/corpus/upload")
    page.set_input_files("#file", str(upload))
    page.click("#preview")
    page.wait_for_selector("#preview-result")
    preview = page.inner_text("#preview-result")
    assert "共 107 条" in preview and "修改 1 条" in preview and "浏览器修正测试" in preview
    page.click("#submit-upload")
    page.wait_for_url(re.compile(r".*/console/drafts/\d+$"))
    draft_url = re.search(r"/console/drafts/\d+", page.url)[0]
    context.close()

    context, page = _publish(browser, base, draft_url)
    page.goto(f"{base}/console/hit?q=工资应当以货币形式按月支付给劳动者本人")
    assert "浏览器修正测试" in page.inner_text("#hits")
    context.close()


@pytest.mark.parametrize("mobile", [False, True])
def test_view_analytics(browser, base, mobile):
    from tests.console.conftest import client_for

    chat = client_for(base)
    chat.post("/api/chat/messages", json={"text": "老板欠了三个月工钱不给"})
    context, page = _page(browser, mobile)
    _log_in(page, base, "admin")
    page.click("text=数据分析")
    page.wait_for_selector("#kpi-questions")
    assert int(page.inner_text("#kpi-questions")) >= 1
    assert page.locator("svg.chart").count() >= 3
    assert "服务概况" in page.inner_text("#weekly-summary")
    if mobile:  # nothing wider than the phone's screen but the scrollable tables
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360 + 1, width
    context.close()


def test_a_resident_rates_an_answer_in_the_web_chat(browser, base, env):
    from sqlalchemy import select

    from bot.console.models import AnswerRating

    context, page = _page(browser, mobile=True)
    page.goto(f"{base}/chat")
    page.fill("#text", "我在工地干了半年，包工头跑了，工钱找谁要")
    page.click("#send")
    reply = page.locator(".msg.bot").nth(1)
    reply.wait_for(timeout=20000)
    reply.locator("button[data-rating=down]").click()
    reply.locator(".rate", has_text="谢谢").wait_for()
    context.close()
    with env.sessions() as session:
        assert -1 in set(session.scalars(select(AnswerRating.rating)))
