"""The console in the real app (uvicorn, real HTTP) on a private copy of the imported corpus and its index.

Sign-in, sessions, CSRF, throttling, permissions of every role on every route, draft → review → publish
with the incremental re-index (and the hit test showing the new text), failures that publish nothing,
cards, an uploaded amendment, the feedback loop and analytics. Rasa is down here (nothing listens).
"""

import datetime as dt
import hashlib
import json
import re

import pytest
from sqlalchemy import select

from bot.console.auth import Account
from bot.console.drafts import approve_draft, new_article_draft
from bot.console.models import AnswerRating, AuditEntry, ConsoleAccount, CorpusDraft, RetrievalJudgement
from bot.console.publishing import Publisher, PublishJob
from corpus import import_corpus
from corpus.models import AnswerCard, Article, Case, Law
from retrieval.index import RetrievalIndex
from tests.conftest import free_port, running_app
from tests.console.conftest import (
    PASSWORD,
    add_accounts,
    client_for,
    copy_corpus_env,
    csrf_of,
    draft_id_of,
    post_form,
    sign_in,
    wait_published,
)

pytestmark = pytest.mark.slow
MARKER = "（控制台测试：本款文字已修改）"


@pytest.fixture(scope="module")
def env(corpus_index, tmp_path_factory):
    return copy_corpus_env(corpus_index, tmp_path_factory.mktemp("console"))


@pytest.fixture(scope="module")
def names(env):
    return add_accounts(env.sessions)


@pytest.fixture(scope="module")
def base(env, names):
    with running_app(env.settings, free_port()) as url:
        yield url


@pytest.fixture(scope="module")
def ids(env):
    with env.sessions() as session:
        article = session.scalar(select(Article).join(Law).where(
            Law.source_file == "statutes/中华人民共和国劳动合同法.md", Article.label == "第三十条"))
        return {"article": article.id, "law": article.law_id,
                "card": session.scalar(select(AnswerCard.slug).order_by(AnswerCard.slug)),
                "case": session.scalar(select(Case.slug).order_by(Case.slug))}


def _account(env, username) -> Account:
    with env.sessions() as session:
        return Account.of(session.scalar(select(ConsoleAccount).where(ConsoleAccount.username == username)))


# ---- sign-in, sessions, CSRF ----------------------------------------------------------------------
def test_sign_in_sets_a_strict_http_only_session_and_sign_out_ends_it(base, names):
    client = client_for(base)
    assert client.get("/console/hit").headers["location"] == "/console/login?next=%2Fconsole%2Fhit"
    response = sign_in(client, names["editor"])
    assert response.status_code == 303 and response.headers["location"] == "/console/"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/console" in cookie
    home = client.get("/console/")
    assert home.status_code == 200 and "测试editor" in home.text
    token = client.cookies.get("lawline_console")
    client.post("/console/logout", data={"csrf_token": csrf_of(home.text)})
    stale = client_for(base)
    stale.cookies.set("lawline_console", token, path="/console")
    assert stale.get("/console/").status_code == 303


def test_wrong_password_then_throttling_even_with_the_right_one(env, base):
    with env.sessions.begin() as session:
        from bot.console.accounts import create_account

        create_account(session, "throttled", PASSWORD, "editor")
    client = client_for(base)
    assert sign_in(client, "throttled", "wrong password 123").status_code == 401
    for _ in range(4):
        sign_in(client, "throttled", "wrong password 123")
    locked = sign_in(client, "throttled", PASSWORD)
    assert locked.status_code == 429 and "登录尝试过多，请 1 分钟后再试" in locked.text
    assert sign_in(client, "nobody-here", PASSWORD).status_code == 401


def test_posts_without_the_session_csrf_token_are_refused(env, base, names, ids):
    client = client_for(base, names["editor"])
    other = client_for(base, names["reviewer"])
    others_token = csrf_of(other.get("/console/").text)
    with env.sessions() as session:
        before = len(session.scalars(select(CorpusDraft.id)).all())
    edit = f"/console/corpus/articles/{ids['article']}/edit"
    assert client.post(edit, data={"text": "偷偷改"}).status_code == 403
    assert client.post(edit, data={"text": "偷偷改", "csrf_token": others_token}).status_code == 403
    login_page = client_for(base)
    assert login_page.post("/console/login", data={"username": "x", "password": "y"}).status_code == 403
    with env.sessions() as session:
        assert len(session.scalars(select(CorpusDraft.id)).all()) == before


def test_a_sign_in_redirect_never_leaves_the_console(base, names):
    client = client_for(base)
    page = client.get("/console/login?next=https://evil.example/")
    response = client.post("/console/login", data={"username": names["editor"], "password": PASSWORD,
                                                   "csrf_token": csrf_of(page.text),
                                                   "next": "https://evil.example/"})
    assert response.headers["location"] == "/console/"


# ---- permissions ----------------------------------------------------------------------------------
EVERYONE = {"editor", "reviewer", "adviser", "admin"}
STAFF = {"editor", "reviewer", "admin"}
EDITORS = {"editor", "reviewer"}
GET_ROUTES = {
    "/console/": EVERYONE, "/console/hit": EVERYONE, "/console/analytics": EVERYONE,
    "/console/analytics.csv": EVERYONE, "/console/analytics/weekly": EVERYONE,
    "/console/corpus": STAFF, "/console/corpus/laws/{law}": STAFF, "/console/corpus/articles/{article}": STAFF,
    "/console/corpus/cards/{card}": STAFF, "/console/corpus/cases/{case}": STAFF, "/console/drafts": STAFF,
    "/console/history": STAFF, "/console/corpus/upload": EDITORS, "/console/feedback": EDITORS,
    "/console/feedback/export.jsonl": EDITORS, "/console/feedback/corpus.jsonl": EDITORS,
    "/console/accounts": {"admin"}, "/console/audit": {"admin"}, "/console/data": STAFF,
    "/console/data/eligibility/rules.yaml": STAFF, "/console/data/directory/county.yaml": STAFF,
    "/console/corpus/laws/中华人民共和国劳动合同法": STAFF, "/console/corpus/laws/中华人民共和国劳动合同法/第三十条": STAFF,
}
POST_ROUTES = {
    "/console/corpus/articles/{article}/edit": EDITORS, "/console/corpus/laws/{law}/dates": EDITORS,
    "/console/corpus/cards/{card}": EDITORS, "/console/corpus/upload": EDITORS, "/console/accounts": {"admin"},
    "/console/feedback/999999999/dismiss": EDITORS, "/console/data/eligibility/rules.yaml": EDITORS,
    "/console/corpus/laws/中华人民共和国劳动合同法/第三十条/edit": EDITORS,
}


ROUTE_ROLES = {  # every console route (relative to /console) and who may use it
    "/": EVERYONE, "/logout": EVERYONE, "/hit": EVERYONE, "/analytics": EVERYONE, "/analytics.csv": EVERYONE,
    "/analytics/weekly": EVERYONE,
    "/corpus": STAFF, "/corpus/laws/{law_id:int}": STAFF, "/corpus/articles/{article_id:int}": STAFF,
    "/corpus/cards/{slug}": STAFF, "/corpus/cases/{slug}": STAFF, "/drafts": STAFF, "/history": STAFF,
    "/drafts/{draft_id:int}": STAFF, "/drafts/{draft_id:int}/progress": STAFF,
    "/drafts/{draft_id:int}/progress.json": STAFF, "/drafts/{draft_id:int}/{action}": STAFF,
    "/corpus/upload": EDITORS, "/corpus/articles/{article_id:int}/edit": EDITORS,
    "/corpus/laws/{law_id:int}/dates": EDITORS, "/feedback": EDITORS, "/feedback/export.jsonl": EDITORS,
    "/feedback/corpus.jsonl": EDITORS, "/feedback/{message_id:int}": EDITORS,
    "/feedback/{message_id:int}/{action}": EDITORS,
    "/accounts": {"admin"}, "/audit": {"admin"}, "/data": STAFF, "/data/{key}/{path:path}": STAFF,
    "/corpus/laws/{title}": STAFF, "/corpus/laws/{title}/{label}": STAFF, "/corpus/laws/{title}/{label}/edit": EDITORS,
}


def test_every_console_route_is_in_the_permission_table():
    from bot.console.routes_account import account_routes
    from bot.console.routes_corpus import corpus_routes
    from bot.console.routes_data import data_routes
    from bot.console.routes_drafts import draft_routes
    from bot.console.routes_tools import tool_routes

    declared = {route.path: set(route.endpoint.console_roles)
                for route in [*account_routes(), *corpus_routes(), *draft_routes(), *data_routes(), *tool_routes()]
                if route.path != "/login"}
    assert declared == ROUTE_ROLES


@pytest.mark.parametrize("role", ["anonymous", "editor", "reviewer", "adviser", "admin"])
def test_each_role_opens_exactly_its_pages(base, names, ids, role):
    client = client_for(base, None if role == "anonymous" else names[role])
    token = None if role == "anonymous" else csrf_of(client.get("/console/").text)
    for path, allowed in GET_ROUTES.items():
        url = path.format(law=ids["law"], article=ids["article"], card=ids["card"], case=ids["case"])
        status = client.get(url).status_code
        expected = 303 if role == "anonymous" else 200 if role in allowed else 403
        assert status == expected, (role, url, status)
    for path, allowed in POST_ROUTES.items():
        url = path.format(law=ids["law"], article=ids["article"], card=ids["card"], case=ids["case"])
        # Empty forms: an allowed role gets a calm 400/404/409, never a change; others get 403.
        status = client.post(url, data={"csrf_token": token or ""}).status_code
        if role == "anonymous":
            assert status == 303, (url, status)
        elif role in allowed:
            assert status in (200, 400, 404, 409), (role, url, status)
        else:
            assert status == 403, (role, url, status)


# ---- draft → review → publish ---------------------------------------------------------------------
def _hit_text(client, question):
    page = client.get("/console/hit", params={"q": question})
    assert page.status_code == 200
    return page.text


def test_edit_review_publish_reindexes_only_the_article_and_survives_reimport(env, base, names, ids):
    editor, reviewer = client_for(base, names["editor"]), client_for(base, names["reviewer"])
    article_url = f"/console/corpus/articles/{ids['article']}"
    original = editor.get(article_url)
    old_text = re.search(r'<textarea id="text"[^>]*>(.*?)</textarea>', original.text, re.S)[1]
    new_text = old_text.replace("人民法院应当依法发出支付令。", "人民法院应当依法发出支付令。" + MARKER)
    assert new_text != old_text
    draft = draft_id_of(post_form(editor, article_url, f"{article_url}/edit", {"text": new_text, "note": "测试"}))
    page = editor.get(f"/console/drafts/{draft}")
    assert f"<ins>{MARKER}</ins>" in page.text and "审核通过并发布" not in page.text
    refused = post_form(editor, f"/console/drafts/{draft}", f"/console/drafts/{draft}/approve", {})
    assert refused.status_code == 409 and "审核员" in refused.text

    approved = post_form(reviewer, f"/console/drafts/{draft}", f"/console/drafts/{draft}/approve", {"note": "同意"})
    assert approved.headers["location"] == f"/console/drafts/{draft}/progress"
    assert "发布草稿" in reviewer.get(f"/console/drafts/{draft}/progress").text
    result = wait_published(reviewer, draft)
    assert result["status"] == "published", result
    assert result["stats"]["encoded"] == 1 and result["stats"]["reused"] > 4000  # only the edited article
    assert MARKER in _hit_text(editor, "用人单位拖欠劳动报酬 劳动者向人民法院申请支付令")

    key = "statutes/中华人民共和国劳动合同法.md"
    assert MARKER in (env.corpus_dir / key).read_text(encoding="utf-8")
    report = import_corpus(env.corpus_dir, env.sessions)
    assert not report.failed and key in report.unchanged and not report.updated
    with env.sessions() as session:
        text = session.scalar(select(Article.text).join(Law).where(Law.source_file == key,
                                                                   Article.label == "第三十条"))
        actions = set(session.scalars(select(AuditEntry.action).where(AuditEntry.target == f"draft:{draft}")))
        from bot.indexing import corpus_documents

        _, version = corpus_documents(session)
    assert MARKER in text and {"draft.submit", "draft.approve", "draft.publish"} <= actions
    assert RetrievalIndex.load(env.index_dir).manifest.corpus_version == version
    history = editor.get("/console/history").text
    assert f"/console/drafts/{draft}" in history


def _snapshot(env, key):
    with env.sessions() as session:
        texts = sorted(session.execute(select(Law.source_file, Law.sha256, Law.superseded_on)).all())
        drafts = session.scalars(select(CorpusDraft.status).order_by(CorpusDraft.id)).all()
    index = {name: hashlib.sha256((env.index_dir / name).read_bytes()).hexdigest()
             for name in ("manifest.json", "documents.jsonl", "dense.faiss")}
    return texts, (env.corpus_dir / key).read_bytes(), index, len(drafts)


@pytest.mark.parametrize("fail_at", ["index", "commit:database", "commit:file", "commit:index"])
def test_a_failure_at_any_step_publishes_nothing(env, names, use_encoder, analyzer, fail_at):
    key = "statutes/中华人民共和国劳动合同法.md"
    with env.sessions.begin() as session:
        article = session.scalar(select(Article).join(Law).where(Law.source_file == key, Article.label == "第八十五条"))
        draft = new_article_draft(session, _account(env, names["editor"]), env.corpus_dir, article.id,
                                  article.text + "（失败测试）")
        approve_draft(session, _account(env, names["reviewer2"]), draft.id)
        draft_id = draft.id
    before = _snapshot(env, key)

    def fail(stage):
        if stage == fail_at:
            raise OSError(f"disk trouble at {stage}")

    publisher = Publisher(env.sessions, env.corpus_dir, env.index_dir, "use-multilingual-v3", lambda: use_encoder,
                          analyzer=analyzer)  # the session's jieba analyzer: loading it is seconds per publisher
    job = publisher.publish(PublishJob(draft_id), _account(env, names["reviewer2"]), on_stage=fail)
    assert job.stage == "failed" and job.finished and "OSError" in job.error
    after = _snapshot(env, key)
    assert after[:3] == before[:3]  # database rows, the corpus file and the index are exactly as before
    with env.sessions() as session:
        row = session.get(CorpusDraft, draft_id)
        assert row.status == "failed" and row.error
        assert "（失败测试）" not in session.get(Article, article.id).text
    leftovers = [p.name for p in env.index_dir.parent.iterdir() if p.name.startswith(".")]
    leftovers += [p.name for p in (env.corpus_dir / "statutes").iterdir() if p.name.startswith(".")]
    assert leftovers == []
    with env.sessions.begin() as session:  # withdraw, so later tests see a clean queue
        session.get(CorpusDraft, draft_id).status = "withdrawn"


def test_a_failed_publish_can_be_retried(env, names, use_encoder, analyzer):
    key = "statutes/中华人民共和国劳动合同法.md"
    with env.sessions.begin() as session:
        article = session.scalar(select(Article).join(Law).where(Law.source_file == key, Article.label == "第八十六条"))
        draft = new_article_draft(session, _account(env, names["editor"]), env.corpus_dir, article.id,
                                  article.text + "（重试测试）")
        approve_draft(session, _account(env, names["reviewer2"]), draft.id)
        draft_id = draft.id
    publisher = Publisher(env.sessions, env.corpus_dir, env.index_dir, "use-multilingual-v3", lambda: use_encoder,
                          analyzer=analyzer)  # the session's jieba analyzer: loading it is seconds per publisher

    def fail(stage):
        if stage == "commit:file":
            raise OSError("disk full")

    assert publisher.publish(PublishJob(draft_id), _account(env, names["reviewer2"]), on_stage=fail).stage == "failed"
    with env.sessions.begin() as session:
        approve_draft(session, _account(env, names["reviewer"]), draft_id)  # retry from "failed"
    assert publisher.publish(PublishJob(draft_id), _account(env, names["reviewer"])).stage == "done"
    assert "（重试测试）" in (env.corpus_dir / key).read_text(encoding="utf-8")


def test_card_edit_is_published_with_a_new_version_and_the_reviewers_sign_off(env, base, names):
    reviewer, reviewer2 = client_for(base, names["reviewer"]), client_for(base, names["reviewer2"])
    url = "/console/corpus/cards/wages-unpaid-wages"
    page = reviewer.get(url).text
    fields = {name: re.search(rf'<textarea id="{name}" name="{name}"[^>]*>(.*?)</textarea>', page, re.S)[1]
              for name in ("questions", "answer", "next_steps", "where_to_go", "citations")}
    fields = {k: v.replace("&#34;", '"').replace("&amp;", "&") for k, v in fields.items()}
    fields["answer"] = fields["answer"].strip() + "\n拖欠工资的，也可以请村里的法律顾问帮您写投诉材料。"
    title = re.search(r'id="title" type="text" name="title" value="([^"]*)"', page)[1]
    draft = draft_id_of(post_form(reviewer, url, url, {**fields, "title": title, "topic": "wages", "note": "补充"}))
    own = post_form(reviewer, f"/console/drafts/{draft}", f"/console/drafts/{draft}/approve", {})
    assert own.status_code == 409 and "自己起草" in own.text
    post_form(reviewer2, f"/console/drafts/{draft}", f"/console/drafts/{draft}/approve", {})
    assert wait_published(reviewer2, draft)["status"] == "published"
    text = (env.corpus_dir / "cards" / "wages" / "wages-unpaid-wages.yaml").read_text(encoding="utf-8")
    assert "村里的法律顾问帮您写投诉材料" in text and "reviewed: true" in text and "version: 2" in text
    hit = _hit_text(reviewer, "老板拖着工资不发，我该咋办？")
    assert "村里的法律顾问帮您写投诉材料" in hit


def _amendment(env) -> str:
    text = (env.corpus_dir / "statutes" / "中华人民共和国劳动法.md").read_text(encoding="utf-8")
    text = re.sub(r"^effective: .*$", f"effective: {dt.date.today().isoformat()}", text, count=1, flags=re.M)
    return text.replace("第五十条 工资应当以货币形式按月支付给劳动者本人。",
                        "第五十条 工资应当以货币形式按月足额支付给劳动者本人（修正测试）。")


def test_uploading_an_amendment_previews_then_supersedes_the_old_version(env, base, names):
    editor, reviewer = client_for(base, names["editor"]), client_for(base, names["reviewer"])
    amendment = _amendment(env)
    preview = post_form(editor, "/console/corpus/upload", "/console/corpus/upload",
                        {"action": "preview", "text": ""},
                        files={"file": ("劳动法修正.md", amendment.encode("utf-8"), "text/markdown")})
    assert preview.status_code == 200, preview.text[:500]
    assert "共 <b>107</b> 条" in preview.text and "修改 1 条" in preview.text and "第五十条" in preview.text
    target = f"statutes/中华人民共和国劳动法（{dt.date.today().isoformat()}）.md"
    assert target in preview.text
    broken = post_form(editor, "/console/corpus/upload", "/console/corpus/upload",
                       {"action": "preview", "text": amendment.replace("第五十一条", "第五十条", 1)})
    assert broken.status_code == 400 and "无法解析" in broken.text and "第五十条" in broken.text
    draft = draft_id_of(post_form(editor, "/console/corpus/upload", "/console/corpus/upload",
                                  {"action": "submit", "text": amendment, "note": "修正"}))
    unticked = post_form(reviewer, f"/console/drafts/{draft}", f"/console/drafts/{draft}/approve", {})
    assert unticked.status_code == 400 and "还有 1 处改动没有打勾核对：修改第五十条" in unticked.text
    page = reviewer.get(f"/console/drafts/{draft}").text
    ticks = re.findall(r'name="checked" value="([^"]+)" form="approve-form"', page)
    assert ticks == ["changed:第五十条"]
    post_form(reviewer, f"/console/drafts/{draft}", f"/console/drafts/{draft}/approve", {"checked": ticks})
    assert wait_published(reviewer, draft)["status"] == "published"
    assert (env.corpus_dir / target).is_file()
    with env.sessions() as session:
        versions = session.scalars(select(Law).where(Law.title == "中华人民共和国劳动法").order_by(Law.effective)).all()
    assert len(versions) == 2 and versions[0].superseded_on == dt.date.today()
    hit = _hit_text(editor, "工资应当以货币形式按月支付给劳动者本人")
    assert "按月足额支付给劳动者本人（修正测试）" in hit
    assert "按月支付给劳动者本人。不得克扣" not in hit  # the superseded text is not current law


def test_bad_uploads_get_a_calm_message(base, names):
    editor = client_for(base, names["editor"])
    empty = post_form(editor, "/console/corpus/upload", "/console/corpus/upload", {"action": "preview", "text": " "})
    assert empty.status_code == 400 and "请粘贴" in empty.text
    binary = post_form(editor, "/console/corpus/upload", "/console/corpus/upload", {"action": "preview"},
                       files={"file": ("x.md", b"\xff\xfe\x00bad", "text/markdown")})
    assert binary.status_code == 400 and "UTF-8" in binary.text
    page = editor.get("/console/corpus/upload")
    huge = editor.post("/console/corpus/upload", data={"csrf_token": csrf_of(page.text), "text": "x" * 5_000_000})
    assert huge.status_code == 413


# ---- hit test, feedback loop, analytics ------------------------------------------------------------
def test_hit_test_says_plainly_that_rasa_is_down(base, names):
    adviser = client_for(base, names["adviser"])
    page = _hit_text(adviser, "儿子不给养老钱怎么办")
    assert 'id="rasa-down"' in page and "《中华人民共和国民法典》" in page and "置信度" in page


def test_feedback_loop_from_thumbs_down_to_an_exported_pair(env, base, names, tmp_path):
    from bot.benchmarks import load_bench_corpus
    from retrieval.bench import load_queries

    chat = client_for(base)
    question = "老板欠我三个月工资不给，我叫王小明电话13812345678"
    first = chat.post("/api/chat/messages", json={"text": question}).json()
    rated = chat.post("/api/chat/feedback", json={"session": first["session"], "reply": first["replies"][0],
                                                  "rating": "down"})
    assert rated.status_code == 200 and rated.json() == {"ok": True}
    assert chat.post("/api/chat/feedback", json={"session": first["session"], "reply": "不存在的回答",
                                                 "rating": "down"}).status_code == 404
    assert chat.post("/api/chat/feedback", content=b"{bad").status_code == 400
    second = chat.post("/api/chat/messages", json={"text": "儿子不给赡养费怎么办"}).json()
    typed = chat.post("/api/chat/messages", json={"session": second["session"], "text": "👍"}).json()
    assert typed["replies"] == ["谢谢您的反馈！还有别的问题，直接发过来就行。"]
    with env.sessions() as session:
        assert sorted(session.scalars(select(AnswerRating.rating))) == [-1, 1]

    editor = client_for(base, names["editor"])
    queue = editor.get("/console/feedback?reason=thumbs_down").text
    assert "王**" in queue and "138********" in queue
    assert "13812345678" not in queue and "小明" not in queue
    item = re.search(r'href="/console/feedback/(\d+)\?reason=thumbs_down"', queue)[1]
    page = editor.get(f"/console/feedback/{item}?reason=thumbs_down")
    document = re.search(r'name="document" value="([^"]+)"', page.text)[1]
    attached = editor.post(f"/console/feedback/{item}/attach", data={"csrf_token": csrf_of(page.text),
                                                                    "document": document, "reason": "thumbs_down"})
    assert attached.status_code == 303
    again = editor.post(f"/console/feedback/{item}/dismiss", data={"csrf_token": csrf_of(page.text)})
    assert again.status_code == 409
    assert f"/console/feedback/{item}?" not in editor.get("/console/feedback").text
    queries = tmp_path / "q.jsonl"
    corpus = tmp_path / "c.jsonl"
    queries.write_text(editor.get("/console/feedback/export.jsonl").text, encoding="utf-8")
    corpus.write_text(editor.get("/console/feedback/corpus.jsonl").text, encoding="utf-8")
    loaded = load_queries(queries)
    articles = {d.id for d in load_bench_corpus(corpus)}
    assert len(loaded) == 1 and "13812345678" not in loaded[0].text and loaded[0].relevant <= articles
    with env.sessions() as session:
        judgement = session.scalar(select(RetrievalJudgement))
    assert judgement.status == "attached" and judgement.document_id == document


def test_analytics_csv_and_weekly_summary_carry_no_personal_data(base, names):
    admin = client_for(base, names["admin"])
    page = admin.get("/console/analytics")
    questions = int(re.search(r'id="kpi-questions">(\d+)<', page.text)[1])
    assert questions >= 2 and "<svg" in page.text and "工资报酬" in page.text
    csv_text = admin.get("/console/analytics.csv").text
    header = csv_text.lstrip("\ufeff").splitlines()[0]
    assert header.startswith("周（周一，北京时间）,咨询数,来问居民") and len(csv_text.splitlines()) == 13
    weekly = admin.get("/console/analytics/weekly").text
    assert "服务概况" in weekly
    for text in (page.text, csv_text, weekly):
        assert "13812345678" not in text and "王小明" not in text
    adviser = client_for(base, names["adviser"]).get("/console/analytics").text
    assert "白土坝村" in adviser and 'id="kpi-questions"' not in adviser


def test_admin_manages_accounts_and_reads_the_audit_log(env, base, names):
    admin = client_for(base, names["admin"])
    typed = post_form(admin, "/console/accounts", "/console/accounts",  # places come from the directory only
                      {"action": "create", "username": "gu.wen", "name": "顾问甲", "role": "adviser",
                       "villages": "白土坝村", "password": "adviser password 1"})
    assert typed.status_code == 400 and "服务目录里没有：白土坝村" in typed.text
    assert "服务目录里还没有乡镇和村（社区）" in typed.text  # the shipped county is not configured
    created = post_form(admin, "/console/accounts", "/console/accounts",
                        {"action": "create", "username": "gu.wen", "name": "顾问甲", "role": "adviser",
                         "password": "adviser password 1"})
    assert created.status_code == 200 and "已开设账号 gu.wen" in created.text
    weak = post_form(admin, "/console/accounts", "/console/accounts",
                     {"action": "create", "username": "weak", "role": "editor", "password": "123"})
    assert weak.status_code == 400 and "至少需要 10 位" in weak.text
    adviser = client_for(base, "gu.wen", "adviser password 1")
    assert adviser.get("/console/").status_code == 200
    post_form(admin, "/console/accounts", "/console/accounts",
              {"action": "update", "username": "gu.wen", "role": "adviser", "name": "顾问甲"})
    assert adviser.get("/console/").status_code == 303  # disabled (the box was not ticked): signed out
    audit = admin.get("/console/audit").text
    assert "新建账号" in audit and "修改账号" in audit and "登录失败" in audit and "账号 gu.wen" in audit
    table = audit.split('id="audit"')[1]
    assert "account.create" not in table and "login.failed" not in table and "时间（北京时间）" in table
    with env.sessions() as session:
        assert session.scalar(select(ConsoleAccount.active).where(ConsoleAccount.username == "gu.wen")) is False


def test_repealing_a_law_takes_it_out_of_answers(env, base, names):
    editor, reviewer = client_for(base, names["editor"]), client_for(base, names["reviewer"])
    with env.sessions() as session:
        law = session.scalar(select(Law).where(Law.title == "中华人民共和国反家庭暴力法"))
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    draft = draft_id_of(post_form(editor, f"/console/corpus/laws/{law.id}", f"/console/corpus/laws/{law.id}/dates",
                                  {"effective": law.effective.isoformat(), "repealed": yesterday, "note": "测试废止"}))
    assert "废止日期：" in editor.get(f"/console/drafts/{draft}").text
    post_form(reviewer, f"/console/drafts/{draft}", f"/console/drafts/{draft}/approve", {})
    assert wait_published(reviewer, draft)["status"] == "published"
    assert "已废止" in editor.get(f"/console/corpus/laws/{law.id}").text
    hit = _hit_text(editor, "家庭暴力 人身安全保护令 申请")
    assert "《中华人民共和国反家庭暴力法》" not in hit.split('id="hits"')[1]
    assert f"repealed: {yesterday}" in (env.corpus_dir / law.source_file).read_text(encoding="utf-8")


def test_audit_details_never_hold_raw_question_text(env):
    with env.sessions() as session:
        details = [json.dumps(d, ensure_ascii=False) for d in session.scalars(select(AuditEntry.detail))]
    assert details and not any("13812345678" in d for d in details)


def test_eligibility_standards_and_the_directory_are_edited_with_review(env, base, names):
    editor, reviewer = client_for(base, names["editor"]), client_for(base, names["reviewer"])
    url = "/console/data/eligibility/provinces/chongqing.yaml"
    path = env.corpus_dir / "eligibility" / "provinces" / "chongqing.yaml"
    original = path.read_text(encoding="utf-8")
    broken = post_form(editor, url, url, {"text": original.replace("status: not_configured", "status: [oops")})
    assert broken.status_code == 400 and "检查没有通过" in broken.text
    changed = original.replace("order: 1 ", "order: 1  # 控制台测试 ")
    draft = draft_id_of(post_form(editor, url, url, {"text": changed, "note": "测试"}))
    assert path.read_text(encoding="utf-8") == original  # nothing changes before review
    post_form(reviewer, f"/console/drafts/{draft}", f"/console/drafts/{draft}/approve", {})
    assert wait_published(reviewer, draft)["status"] == "published"
    assert "控制台测试" in path.read_text(encoding="utf-8")
    directory = editor.get("/console/data/directory/county.yaml")
    assert directory.status_code == 200 and "黔江" in directory.text
    assert editor.get("/console/data/eligibility/../../secret").status_code == 404
