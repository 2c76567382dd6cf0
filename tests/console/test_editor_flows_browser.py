"""The editors' flows of issue #17 in a real headless Chromium (Debian's, driven by Playwright) against the real
app on a private copy of the imported corpus and its index (Rasa is down: nothing listens).

An editor finds an article by the citation the bot prints, and its address still opens it after a publish;
a reviewer reviews an amendment by the articles it changes, ticking each; the audit log reads in Chinese
and Beijing time; the hit test speaks in words with the scores behind a toggle; the feedback queue holds
only real questions, each once.
"""

import re
from urllib.parse import unquote

import pytest
from sqlalchemy import select

from tests.conftest import free_port, running_app
from tests.console.conftest import PASSWORD, add_accounts, client_for, copy_corpus_env

pytestmark = pytest.mark.slow
MARKER = "（固定链接测试）"
CITED = re.compile(r"《[^》]+》第[零一二三四五六七八九十百千]+条")


@pytest.fixture(scope="module")
def env(corpus_index, tmp_path_factory):
    env = copy_corpus_env(corpus_index, tmp_path_factory.mktemp("editor-flows"))
    add_accounts(env.sessions)
    return env


@pytest.fixture(scope="module")
def base(env):
    with running_app(env.settings, free_port()) as url:
        yield url


def _signed_in(browser, base, username):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{base}/console/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_url(re.compile(r".*/console/$"))
    return context, page


def _publish(page, base, draft_url):
    """As the reviewer: approve the draft (every change already ticked) and wait for the publish."""
    page.click("#approve")
    page.wait_for_url(re.compile(r".*/progress$"))
    page.locator("#result", has_text="已发布").wait_for(timeout=180000)


def test_an_editor_finds_the_article_the_bot_cites_and_its_address_survives_a_publish(browser, base, env):
    reply = client_for(base).post("/api/chat/messages", json={"text": "劳动合同法第三十条是怎么规定的"}).json()
    printed = CITED.search(reply["replies"][0])[0]  # as the resident read it
    assert printed == "《中华人民共和国劳动合同法》第三十条"

    context, page = _signed_in(browser, base, "editor")
    page.click("header nav >> text=知识库")
    for query in (printed, "劳动合同法第30条"):
        page.fill("input[name=q]", query)
        with page.expect_navigation():
            page.click("#search")
        first = page.locator("ul.hits li a").first
        assert first.inner_text() == printed, query
    first.click()
    page.wait_for_selector("#article-text")
    address = page.url
    assert unquote(address).endswith("/console/corpus/laws/中华人民共和国劳动合同法/第三十条"), address
    assert "始终打开现行有效的版本" in page.inner_text("#stable-link")
    text = page.input_value("#text")
    page.fill("#text", text.replace("支付劳动报酬。", "支付劳动报酬。" + MARKER, 1))
    page.fill("#note", "固定链接测试")
    page.click("#submit-draft")
    page.wait_for_url(re.compile(r".*/console/drafts/\d+$"))
    draft_url = re.search(r"/console/drafts/\d+", page.url)[0]
    context.close()

    context, page = _signed_in(browser, base, "reviewer")
    page.goto(base + draft_url)
    _publish(page, base, draft_url)
    page.goto(address)  # the address the editor kept: publishing re-imported the law's articles as new rows
    assert MARKER in page.inner_text("#article-text")
    page.goto(f"{base}/console/corpus/laws/中华人民共和国劳动合同法")  # the law's page links the same address
    assert unquote(page.locator("a", has_text="第三十条").first.get_attribute("href")).endswith("/第三十条")
    context.close()


def _amendment(env) -> str:
    import datetime as dt

    text = (env.corpus_dir / "statutes" / "中华人民共和国劳动法.md").read_text(encoding="utf-8")
    text = re.sub(r"^effective: .*$", f"effective: {dt.date.today().isoformat()}", text, count=1, flags=re.M)
    text = text.replace("第五十条 工资应当以货币形式按月支付给劳动者本人。", "第五十条 工资应当以货币形式按月足额支付给劳动者本人。")
    text = text.replace("\n第五十一条 ", "\n第五十条之一 用人单位应当书面记录支付劳动者工资的数额、时间，并保存两年以上。\n\n第五十一条 ", 1)
    return re.sub(r"\n第一百零六条 [^\n]*\n", "\n", text)


def test_a_reviewer_reviews_an_amendment_by_the_articles_it_changes(browser, base, env, tmp_path):
    upload = tmp_path / "劳动法修正.md"
    upload.write_text(_amendment(env), encoding="utf-8")
    context, page = _signed_in(browser, base, "editor")
    page.goto(f"{base}/console/corpus/upload")
    page.set_input_files("#file", str(upload))
    page.click("#preview")
    page.wait_for_selector("#amendment")
    assert "新增 1 条，修改 1 条，删去 1 条，条号变化 0 条，未改动 105 条" in page.inner_text("#amendment-summary")
    assert "第一百零五条之后条号不连续" in page.inner_text("#preview-result")  # the parser's warning, in Chinese
    changed = page.locator("#amendment li.change.changed")
    assert changed.count() == 1 and "第五十条" in changed.inner_text()
    assert changed.locator("ins").inner_text() == "足额"
    assert page.locator("#amendment li.change.added").inner_text().count("保存两年以上") == 1
    assert "规定劳动合同制度的实施步骤" in page.locator("#amendment li.change.removed del").inner_text()
    assert page.locator("input[name=checked]").count() == 0  # the editor previews; only a reviewer ticks
    page.fill("#upload-note", "测试修正")
    page.click("#submit-upload")
    page.wait_for_url(re.compile(r".*/console/drafts/\d+$"))
    draft_url = re.search(r"/console/drafts/\d+", page.url)[0]
    context.close()

    context, page = _signed_in(browser, base, "reviewer")
    page.goto(base + draft_url)
    entries = page.locator("#amendment li.change")
    assert [entries.nth(i).get_attribute("data-kind") for i in range(entries.count())] == ["changed", "added",
                                                                                          "removed"]
    assert not page.locator("#diff").is_visible()  # the whole-file diff (the law as "added") is folded away
    boxes = page.locator("input[name=checked]")
    assert boxes.count() == 3
    page.click("#approve")  # nothing ticked: the browser keeps the form
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.click("#approve")  # one still unticked
    assert page.url.endswith(draft_url)
    reviewer = client_for(base, "reviewer2")  # and the server refuses an approval that skips the ticks
    from tests.console.conftest import csrf_of

    token = csrf_of(reviewer.get(draft_url).text)
    refused = reviewer.post(f"{draft_url}/approve", data={"csrf_token": token, "checked": ["changed:第五十条"]})
    assert refused.status_code == 400 and "还有 2 处改动没有打勾核对：新增第五十条之一、删去第一百零六条" in refused.text
    boxes.nth(2).check()
    _publish(page, base, draft_url)
    page.goto(f"{base}/console/corpus?q=" + "劳动法第五十条之一")
    assert page.locator("ul.hits li a").first.inner_text() == "《中华人民共和国劳动法》第五十条之一"
    context.close()

    context, page = _signed_in(browser, base, "admin")
    page.goto(f"{base}/console/audit")
    draft_id = draft_url.rsplit("/", 1)[1]
    row = page.locator("#audit tr", has_text=f"草稿 #{draft_id}").filter(has_text="审核通过")
    assert "逐条核对的条文：3 条" in row.inner_text() and "类型：新法规/修正" in row.inner_text()
    table = page.inner_text("#audit")
    assert "draft.approve" not in table and "statute_file" not in table and "时间（北京时间）" in table
    from bot.console.models import AuditEntry
    from bot.console.times import beijing

    with env.sessions() as session:
        at = session.scalar(select(AuditEntry.created_at).where(AuditEntry.action == "draft.approve",
                                                                AuditEntry.target == f"draft:{draft_id}"))
    assert row.locator("td").first.inner_text() == beijing(at, "%Y-%m-%d %H:%M:%S", zone=False)
    context.close()


def test_the_hit_test_speaks_in_words_with_the_scores_behind_a_toggle(browser, base):
    context, page = _signed_in(browser, base, "editor")
    page.goto(f"{base}/console/hit")
    page.fill("#q", "老板拖欠了三个月工资不给怎么办")
    with page.expect_navigation():
        page.click("#ask")
    page.wait_for_selector("#hits")
    intent = page.inner_text("#intent")
    assert "对话引擎（Rasa）现在连不上（连接不上）" in intent and "RasaUnavailable" not in intent
    hits = page.inner_text("#hits")
    assert re.search(r"很相关|相关", hits) and "BM25" not in hits and not re.search(r"\d\.\d\d", hits)
    assert "有把握" in page.inner_text("#verdict") and "北京时间" in page.inner_text("#hits + p")
    table = page.locator("#scores table")
    assert not table.is_visible()
    page.click("#scores summary")
    assert table.is_visible() and "BM25" in table.inner_text()
    assert re.search(r"\d\.\d\d\d", table.inner_text())
    context.close()


def test_the_feedback_queue_holds_only_real_questions_each_once(browser, base, env):
    from bot.console.models import AnswerRating
    from bot.console.times import beijing
    from bot.models import Message

    question = "厂里老板扣着我的押金不退，该去哪里说理"
    for text in ("你好", "谢谢", question, question):  # each in its own chat, rated 👎 like a resident would
        chat = client_for(base)
        sent = chat.post("/api/chat/messages", json={"text": text}).json()
        rated = chat.post("/api/chat/feedback", json={"session": sent["session"], "reply": sent["replies"][0],
                                                      "rating": "down"})
        assert rated.status_code == 200, (text, rated.text)
    with env.sessions() as session:  # the chatter was answered and rated like the question: only words differ
        assert len(session.scalars(select(AnswerRating.id).where(AnswerRating.rating == -1)).all()) == 4
        last = session.scalars(select(Message.created_at).where(Message.direction == "out")
                               .order_by(Message.id.desc())).first()

    context, page = _signed_in(browser, base, "editor")
    page.click("header nav >> text=反馈队列")
    queue = page.locator("#queue")
    queue.wait_for()
    text = queue.inner_text()
    assert "你好" not in text and "谢谢" not in text
    rows = page.locator("#queue tr", has_text=question)
    assert rows.count() == 1 and "同样的话还有 1 次" in rows.inner_text()
    assert "时间（北京时间）" in text and beijing(last, "%m-%d %H:%M", zone=False) in rows.inner_text()
    rows.locator("a.button", has_text="处理").click()
    page.wait_for_selector("#question")
    assert "BM25" not in page.inner_text("ol.hits") and not re.search(r"\d\.\d\d", page.inner_text("ol.hits"))
    page.locator("ol.hits li").first.locator("button", has_text="就是这一条").click()
    page.wait_for_url(re.compile(r".*/console/feedback$"))
    assert question not in page.inner_text("#queue")  # judged once: gone for both residents
    context.close()
