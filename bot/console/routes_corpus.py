"""Browse and search the corpus; open an article, a law, a card or a case; start drafts; upload a statute."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.console.amendments import review_upload
from bot.console.auth import EDITORS, STAFF, console_state, current_account, form_file, form_text, require_role
from bot.console.context import context
from bot.console.corpus_files import EditError, parse_statute_text
from bot.console.drafts import (
    DraftError,
    card_fields,
    new_article_draft,
    new_card_draft,
    new_dates_draft,
    new_statute_draft,
    statute_target,
)
from bot.console.links import find_article, find_law
from bot.console.models import CorpusDraft
from bot.console.names import TOPIC_NAMES
from bot.console.templating import error_page, render
from bot.indexing import article_source
from corpus.cases import TOPICS
from corpus.errors import CorpusError
from corpus.models import AnswerCard, Article, Case, Law
from corpus.numerals import int_to_cn
from retrieval.citations import Resolution

__all__ = ["corpus_routes"]

MAX_UPLOAD_CHARS = 3_000_000
LEVEL_NAMES = {"law": "法律", "administrative_regulation": "行政法规", "judicial_interpretation": "司法解释",
               "local_regulation": "地方性法规", "local_rule": "地方政府规章", "departmental_rule": "部门规章",
               "normative_document": "规范性文件"}


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def law_status(law: Law, today: dt.date | None = None) -> str:
    """现行 / 尚未施行 / 已被新版本取代 / 已废止 — what a reader must know before quoting it."""
    today = today or dt.date.today()
    if law.repealed is not None and law.repealed <= today:
        return f"已废止（{law.repealed.isoformat()}）"
    if law.superseded_on is not None and law.superseded_on <= today:
        return f"已被新版本取代（{law.superseded_on.isoformat()} 起）"
    if law.effective is not None and law.effective > today:
        return f"尚未施行（{law.effective.isoformat()} 起施行）"
    return "现行有效"


def _history(session: Session, target: str) -> list[CorpusDraft]:
    """Drafts of ``target`` (a file, and for a file also its articles ``file#第X条``), newest first."""
    prefix = _like(target + "#")[1:]
    return list(session.scalars(
        select(CorpusDraft).where(or_(CorpusDraft.target == target, CorpusDraft.target.like(prefix, escape="\\")))
        .order_by(CorpusDraft.id.desc()).limit(100)
    ))


def _cited_articles(session: Session, cited: list[Resolution]) -> list[Article]:
    """The articles a search cites (劳动合同法第30条), found by the same resolver as residents' questions."""
    articles = []
    for resolution in cited:
        if resolution.document is not None:
            source_file, label = article_source(resolution.document)
            article = session.scalar(select(Article).join(Law).where(Law.source_file == source_file,
                                                                    Article.label == label)
                                     .options(selectinload(Article.law)))
            if article is not None:
                articles.append(article)
    return articles


@require_role(*STAFF)
def browse(request: Request) -> Response:
    query = request.query_params.get("q", "").strip()[:100]
    kind = request.query_params.get("kind", "")
    found: dict[str, Any] = {}
    cited = context(request).composer.retriever.citations.resolve(query) if query else []
    first: list[Article] = []
    with console_state(request).sessions() as session:
        counts = {name: session.scalar(select(func.count()).select_from(model)) or 0
                  for name, model in (("laws", Law), ("articles", Article), ("cases", Case), ("cards", AnswerCard))}
        if query:
            pattern = _like(query)
            first = _cited_articles(session, cited)
            if kind in ("", "law"):
                laws = session.scalars(select(Law).where(
                    or_(Law.title.like(pattern, escape="\\"), Law.short_name.like(pattern, escape="\\")))
                    .order_by(Law.title, Law.effective).limit(50))
                found["laws"] = list({law.id: law for law in [*(a.law for a in first), *laws]}.values())
            if kind in ("", "article"):
                matching = session.scalars(select(Article).join(Law).where(
                    or_(Article.text.like(pattern, escape="\\"), Article.label == query))
                    .options(selectinload(Article.law)).order_by(Law.title, Article.ordinal).limit(100))
                found["articles"] = first + [a for a in matching if a.id not in {f.id for f in first}][:100]
            if kind in ("", "case"):
                found["cases"] = list(session.scalars(select(Case).where(
                    or_(Case.title.like(pattern, escape="\\"), Case.facts.like(pattern, escape="\\"),
                        Case.holding.like(pattern, escape="\\"))).order_by(Case.slug).limit(50)))
            if kind in ("", "card"):  # few cards; JSON columns are not searchable alike on both databases
                found["cards"] = [c for c in session.scalars(select(AnswerCard).order_by(AnswerCard.slug))
                                  if query in c.title or query in c.answer or any(query in q for q in c.questions)
                                  or query == c.slug]
        else:
            found["laws"] = list(session.scalars(select(Law).order_by(Law.level, Law.title, Law.effective)))
            found["cards"] = list(session.scalars(select(AnswerCard).order_by(AnswerCard.topic, AnswerCard.slug)))
            found["cases"] = list(session.scalars(select(Case).order_by(Case.topic, Case.slug)))
    return render(request, "console/corpus.html", {
        "title": "知识库", "q": query, "kind": kind, "found": found, "counts": counts, "law_status": law_status,
        "LEVEL_NAMES": LEVEL_NAMES, "TOPIC_NAMES": TOPIC_NAMES, "notices": [n for r in cited if (n := r.notice())],
        "cited_ids": {a.id for a in first}})


@require_role(*STAFF)
def law_page(request: Request) -> Response:
    with console_state(request).sessions() as session:
        if "law_id" in request.path_params:  # an old numeric link
            law = session.get(Law, int(request.path_params["law_id"]), options=[selectinload(Law.articles)])
        else:
            law = find_law(session, request.path_params["title"], request.query_params.get("version", "")[:20])
        if law is None:
            return error_page(request, 404, "找不到这部法规（或这个版本）。请从知识库搜索法规名称。")
        versions = list(session.scalars(select(Law).where(Law.title == law.title).order_by(Law.effective)))
        history = _history(session, law.source_file)
        return render(request, "console/law.html", {
            "title": law.title, "law": law, "versions": versions, "history": history, "status": law_status(law),
            "LEVEL_NAMES": LEVEL_NAMES, "law_status": law_status})


def _article(session: Session, request: Request) -> Article | None:
    """The article a numeric (old) or a stable address names (``bot.console.links``)."""
    if "article_id" in request.path_params:
        return session.get(Article, int(request.path_params["article_id"]), options=[selectinload(Article.law)])
    version = request.query_params.get("version", "") or form_text(request, "version", limit=20)
    law = find_law(session, request.path_params["title"], version[:20])
    return find_article(law, request.path_params["label"]) if law is not None else None


@require_role(*STAFF)
def article_page(request: Request) -> Response:
    with console_state(request).sessions() as session:
        article = _article(session, request)
        if article is None:
            return error_page(request, 404, "找不到这一条（或这个版本里没有这一条）。"
                                            "请在知识库里按条文搜索，例如“劳动合同法第30条”。")
        history = _history(session, f"{article.law.source_file}#{article.label}")
        return render(request, "console/article.html", {
            "title": article.citation, "article": article, "law": article.law, "history": history,
            "status": law_status(article.law), "error": request.query_params.get("error", ""),
            "today": dt.date.today()})


def _draft_redirect(draft: CorpusDraft) -> Response:
    return RedirectResponse(f"/console/drafts/{draft.id}", status_code=303)


@require_role(*EDITORS)
def article_edit(request: Request) -> Response:
    ctx = context(request)
    with console_state(request).sessions() as session:
        found = _article(session, request)
        if found is None:
            return error_page(request, 404, "找不到这一条。")
        article_id = found.id
    try:
        with console_state(request).sessions.begin() as session:
            draft = new_article_draft(session, current_account(request), ctx.corpus_dir, article_id,
                                      form_text(request, "text", limit=20000), form_text(request, "note", limit=2000),
                                      submit=form_text(request, "submit", limit=10) != "save")
    except (DraftError, EditError) as exc:
        return error_page(request, 400, str(exc))
    return _draft_redirect(draft)


@require_role(*EDITORS)
def law_dates(request: Request) -> Response:
    ctx = context(request)
    try:
        with console_state(request).sessions.begin() as session:
            draft = new_dates_draft(session, current_account(request), ctx.corpus_dir,
                                    int(request.path_params["law_id"]), form_text(request, "effective", limit=20),
                                    form_text(request, "repealed", limit=20), form_text(request, "note", limit=2000),
                                    submit=form_text(request, "submit", limit=10) != "save")
    except (DraftError, EditError) as exc:
        return error_page(request, 400, str(exc))
    return _draft_redirect(draft)


@require_role(*STAFF)
def card_page(request: Request) -> Response:
    slug = request.path_params["slug"]
    ctx = context(request)
    if request.method == "POST":
        if current_account(request).role not in EDITORS:
            return error_page(request, 403, "您的账号没有权限修改卡片。")
        fields = {k: form_text(request, k, limit=6000) for k in
                  ("title", "topic", "questions", "not_for", "answer", "next_steps", "where_to_go", "citations")}
        try:
            with console_state(request).sessions.begin() as session:
                draft = new_card_draft(session, current_account(request), ctx.corpus_dir, slug, fields,
                                       form_text(request, "note", limit=2000),
                                       submit=form_text(request, "submit", limit=10) != "save")
        except (DraftError, EditError) as exc:
            return error_page(request, 400, str(exc))
        return _draft_redirect(draft)
    with console_state(request).sessions() as session:
        card = session.scalar(select(AnswerCard).where(AnswerCard.slug == slug)
                              .options(selectinload(AnswerCard.citations)))
        if card is None:
            return error_page(request, 404, "找不到这张卡片。")
        history = _history(session, card.source_file)
        return render(request, "console/card.html", {"title": card.title, "card": card, "fields": card_fields(card),
                                                     "topics": TOPICS, "history": history})


@require_role(*STAFF)
def case_page(request: Request) -> Response:
    with console_state(request).sessions() as session:
        case = session.scalar(select(Case).where(Case.slug == request.path_params["slug"]))
        if case is None:
            return error_page(request, 404, "找不到这个案例。")
        return render(request, "console/case.html", {"title": case.title, "case": case})


_JUMP = re.compile(r"^numbering jumps after article (\d+)$")


def warning_text(warning: str) -> str:
    """The parser's warnings (``corpus.statutes``, in English for the command line) in Chinese."""
    if jump := _JUMP.match(warning):
        return f"第{int_to_cn(int(jump[1]))}条之后条号不连续，请核对是否漏了条文（删去条文的修正属正常）。"
    if warning == "no effective date could be determined":
        return "看不出施行日期：请在开头写明 effective。"
    return warning


@require_role(*EDITORS)
async def upload(request: Request) -> Response:
    if request.method == "GET":
        return render(request, "console/upload.html", {"title": "上传法规", "text": "", "preview": None, "error": ""})
    file = form_file(request, "file")
    text = form_text(request, "text", limit=MAX_UPLOAD_CHARS)
    if file is not None:
        raw = await file.read(MAX_UPLOAD_CHARS * 4 + 1)
        try:
            text = raw.decode("utf-8-sig").replace("\r\n", "\n")
        except UnicodeDecodeError:
            return render(request, "console/upload.html", {"title": "上传法规", "text": "", "preview": None,
                                                           "error": "文件不是 UTF-8 编码的文本。"}, status_code=400)
    if len(text) > MAX_UPLOAD_CHARS:
        return error_page(request, 413, "文件太大了。")
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_upload_step, request, text)


def _upload_step(request: Request, text: str) -> Response:
    ctx = context(request)
    action = form_text(request, "action", limit=10)
    page: dict[str, Any] = {"title": "上传法规", "text": text, "preview": None, "error": "", "LEVEL_NAMES": LEVEL_NAMES}
    if not text.strip():
        page["error"] = "请粘贴法规的 Markdown 全文，或选择文件。"
        return render(request, "console/upload.html", page, status_code=400)
    try:
        if action == "submit":
            with console_state(request).sessions.begin() as session:
                draft = new_statute_draft(session, current_account(request), ctx.corpus_dir, text,
                                          form_text(request, "note", limit=2000))
            return _draft_redirect(draft)
        parsed = parse_statute_text(text, "upload.md")
        with console_state(request).sessions() as session:
            target, existing = statute_target(session, parsed)
            page["preview"] = {"parsed": parsed, "target": target, "existing": existing,
                               "warnings": [warning_text(w) for w in parsed.warnings],
                               "review": review_upload(session, text, target, existing)}
            return render(request, "console/upload.html", page)
    except CorpusError as exc:
        page["error"] = f"无法解析：{exc}"
    except (DraftError, EditError) as exc:
        page["error"] = str(exc)
    return render(request, "console/upload.html", page, status_code=400)


def corpus_routes() -> list[BaseRoute]:
    """Routes relative to the console's mount (``/console``)."""
    return [
        Route("/corpus", browse, name="console_corpus"),
        Route("/corpus/upload", upload, methods=["GET", "POST"], name="console_upload"),
        Route("/corpus/laws/{law_id:int}", law_page, name="console_law"),
        Route("/corpus/laws/{law_id:int}/dates", law_dates, methods=["POST"], name="console_law_dates"),
        Route("/corpus/articles/{article_id:int}", article_page, name="console_article"),
        Route("/corpus/articles/{article_id:int}/edit", article_edit, methods=["POST"], name="console_article_edit"),
        # Stable addresses (bot.console.links), after the numeric ones so that /laws/5/dates stays the law's.
        Route("/corpus/laws/{title}", law_page, name="console_law_stable"),
        Route("/corpus/laws/{title}/{label}", article_page, name="console_article_stable"),
        Route("/corpus/laws/{title}/{label}/edit", article_edit, methods=["POST"], name="console_article_stable_edit"),
        Route("/corpus/cards/{slug}", card_page, methods=["GET", "POST"], name="console_card"),
        Route("/corpus/cases/{slug}", case_page, name="console_case"),
    ]
