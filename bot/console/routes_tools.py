"""The hit test, the feedback queue, analytics (page, CSV, weekly summary) and the web chat's 👍/👎 API."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.answers import TOPICS
from bot.console.access import case_scope
from bot.console.analytics import Report, Scope, build_report, pct, report_csv
from bot.console.analytics_sources import DEFAULT_SOURCES, places_of, service_directory
from bot.console.auth import (
    EDITORS,
    EVERYONE,
    STAFF,
    Account,
    audit,
    console_state,
    current_account,
    form_text,
    require_role,
    transaction,
)
from bot.console.charts import bar_chart, stacked_weeks
from bot.console.context import context
from bot.console.feedback import (
    REASON_NAMES,
    attach_document,
    dismiss_question,
    export_queries,
    feedback_queue,
    jsonl,
    judgements,
    rate_web_reply,
)
from bot.console.masking import mask_personal_data
from bot.console.names import TOPIC_NAMES
from bot.console.plain import DOCUMENT_KINDS, ENGINE_TROUBLE, certainty, intent_name, relevance
from bot.console.templating import error_page, render
from bot.http_input import BAD_FORMAT, resident_refusal
from bot.models import Message
from channels.json_body import BodyRejected, read_json_object, required
from nlu.errors import NluError
from retrieval.documents import Document

__all__ = ["chat_feedback_routes", "tool_routes"]

MAX_QUESTION = 500


# ---- hit test ------------------------------------------------------------------------------------
async def _intent(request: Request, question: str) -> dict[str, Any]:
    rasa = context(request).rasa
    if rasa is None:
        return {"up": False, "reason": "没有配置 Rasa"}
    try:
        parse = await asyncio.wait_for(rasa.parse(question), 5.0)
    except (NluError, TimeoutError) as exc:
        return {"up": False, "reason": type(exc).__name__}
    return {"up": True, "intent": parse.intent, "confidence": parse.confidence, "ranking": parse.ranking[:5],
            "entities": [(e.entity, e.value) for e in parse.entities]}


@require_role(*EVERYONE)
async def hit_test(request: Request) -> Response:
    question = request.query_params.get("q", "").strip()[:MAX_QUESTION]
    page: dict[str, Any] = {"title": "命中测试", "q": question, "hits": [], "answer": None, "intent": None}
    if question:
        ctx = context(request)
        intent = await _intent(request, question)
        topic = intent.get("intent") if intent.get("up") and intent.get("intent") in TOPICS else None
        composer = ctx.composer
        answer, hits = await run_in_threadpool(
            lambda: (composer.answer(question, topic=topic), composer.retriever.search(question, k=10)))
        cards = {d.id: d.title for d in composer.retriever.documents if d.kind == "card"}
        page.update(intent=intent, answer=answer, hits=hits, topic=topic, index=composer.retriever.index.manifest,
                    threshold=composer.min_confidence, card_title=cards.get(f"card:{answer.card}", answer.card),
                    intent_name=intent_name, certainty=certainty, relevance=relevance, KINDS=DOCUMENT_KINDS,
                    TROUBLE=ENGINE_TROUBLE, TOPIC_NAMES=TOPIC_NAMES)
        account = current_account(request)

        def record() -> None:
            with transaction(request) as session:
                audit(session, account, "hit_test", "", {"q": mask_personal_data(question)[:120]})

        await run_in_threadpool(record)
    return render(request, "console/hit.html", page)


# ---- feedback queue -----------------------------------------------------------------------------
def _find_document(request: Request, document_id: str) -> Document | None:
    for doc in context(request).composer.retriever.documents:
        if doc.id == document_id:
            return doc
    return None


@require_role(*EDITORS)
def feedback_page(request: Request) -> Response:
    reason = request.query_params.get("reason") or None
    handoff = context(request).composer.texts.handoff
    with console_state(request).sessions() as session:
        items = feedback_queue(session, handoff_text=handoff, reason=reason if reason in REASON_NAMES else None)
        done = list(judgements(session, 50))
    return render(request, "console/feedback.html", {"title": "反馈队列", "items": items, "done": done,
                                                     "reason": reason or "", "REASON_NAMES": REASON_NAMES})


@require_role(*EDITORS)
async def feedback_item(request: Request) -> Response:
    message_id = int(request.path_params["message_id"])
    ctx = context(request)

    def load() -> tuple[str, str] | None:
        with console_state(request).sessions() as session:
            message = session.get(Message, message_id)
            if message is None or message.direction != "in":
                return None
            reason = request.query_params.get("reason", "manual")
            return mask_personal_data(message.text[:MAX_QUESTION]), reason if reason in REASON_NAMES else "manual"

    loaded = await run_in_threadpool(load)
    if loaded is None:
        return error_page(request, 404, "找不到这条问题。")
    question, reason = loaded
    query = request.query_params.get("q", "").strip()[:MAX_QUESTION] or question
    hits = await run_in_threadpool(ctx.composer.retriever.search, query, 10)
    return render(request, "console/feedback_item.html", {"title": "处理反馈", "message_id": message_id,
                                                          "question": question, "query": query, "hits": hits,
                                                          "reason": reason, "REASON_NAMES": REASON_NAMES,
                                                          "KINDS": DOCUMENT_KINDS, "relevance": relevance,
                                                          "threshold": ctx.composer.min_confidence})


@require_role(*EDITORS)
def feedback_judge(request: Request) -> Response:
    message_id = int(request.path_params["message_id"])
    account = current_account(request)
    reason = form_text(request, "reason", limit=20)
    reason = reason if reason in REASON_NAMES else "manual"
    action = request.path_params["action"]
    try:
        with transaction(request) as session:
            if action == "attach":
                document = _find_document(request, form_text(request, "document", limit=400))
                if document is None:
                    return error_page(request, 400, "索引里没有这篇文档，请从搜索结果里选。")
                attach_document(session, account, message_id, reason, document)
            elif action == "dismiss":
                dismiss_question(session, account, message_id, reason)
            else:
                return error_page(request, 404, "没有这个操作。")
    except ValueError as exc:
        return error_page(request, 409, str(exc))
    from starlette.responses import RedirectResponse

    return RedirectResponse("/console/feedback", status_code=303)


@require_role(*EDITORS)
def feedback_export(request: Request) -> Response:
    """The kept pairs as ``lawline bench retrieval --queries`` lines (JSONL, questions masked)."""
    documents = context(request).composer.retriever.documents
    with transaction(request) as session:
        rows = export_queries(session, documents)
        audit(session, current_account(request), "feedback.export", "queries", {"rows": len(rows)})
    return Response(jsonl(rows), media_type="application/x-ndjson; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="feedback-queries.jsonl"'})


@require_role(*EDITORS)
def bench_corpus_export(request: Request) -> Response:
    """Current articles as ``lawline bench retrieval --corpus`` lines, with the ids the pairs use."""
    rows = [{"id": d.id, "law": d.law or d.title, "article_no": d.label, "text": d.text}
            for d in context(request).composer.retriever.documents if d.kind == "article" and d.ends is None]
    return Response(jsonl(rows), media_type="application/x-ndjson; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="feedback-corpus.jsonl"'})


# ---- analytics ----------------------------------------------------------------------------------
def _scope(request: Request, account: Account) -> Scope:
    """Staff see county-wide counts; an adviser the figures of the cases they may open (``bot.console.access``)."""
    directory = service_directory(context(request).settings.directory)
    places = places_of(directory) if directory is not None else {}
    if account.role in STAFF:
        return Scope(None, places)
    return case_scope(account, directory) if directory is not None else Scope((), places)


def _report(request: Request, session: Session) -> Report:
    from bot.console.names import load_names
    from bot.eligibility.rules import rules_folder

    weeks = request.query_params.get("weeks", "12")
    count = int(weeks) if weeks.isdigit() and 2 <= int(weeks) <= 104 else 12
    settings = context(request).settings
    report = build_report(session, weeks=count, scope=_scope(request, current_account(request)),
                          names=load_names(rules_folder(settings.corpus_dir)), sources=DEFAULT_SOURCES)
    if report.scope.county and current_account(request).role in EDITORS:
        handoff = context(request).composer.texts.handoff
        report.open_feedback = len(feedback_queue(session, handoff_text=handoff, limit=1000))
    return report


@require_role(*EVERYONE)
def analytics_page(request: Request) -> Response:
    with console_state(request).sessions() as session:
        report = _report(request, session)
    names = report.names
    weeks = [w.period.label for w in report.weeks]
    topic_series = [(names.topic(t), [w.topics.get(t, 0) for w in report.weeks]) for t in names.topics
                    if any(w.topics.get(t, 0) for w in report.weeks)]
    charts = {
        "weekly": stacked_weeks(weeks, topic_series, title="每周咨询（按话题）"),
        "topics": bar_chart([(names.topic(t), n) for t, n in report.total.topics.most_common()], unit=" 次",
                            title="话题"),
        "channels": bar_chart([(names.channel(c), n) for c, n in report.total.channels.most_common()], unit=" 次",
                              title="渠道"),
        "outcomes": stacked_weeks(weeks, [("没把握", [w.unsure for w in report.weeks]),
                                          ("转人工居民", [w.handed for w in report.weeks]),
                                          ("👎", [w.thumbs_down for w in report.weeks])], title="需要关注"),
    }
    sections = [(s, bar_chart(list(s.bars), title=s.title) if s.bars else None) for s in report.sections]
    return render(request, "console/analytics.html", {"title": "数据分析", "report": report, "charts": charts,
                                                      "sections": sections, "pct": pct})


@require_role(*EVERYONE)
def analytics_csv(request: Request) -> Response:
    with transaction(request) as session:
        report = _report(request, session)
        audit(session, current_account(request), "analytics.export", "csv", {"weeks": len(report.weeks)})
    return Response(report_csv(report), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="lawline-{report.start}-{report.end}.csv"'})


@require_role(*EVERYONE)
def analytics_weekly(request: Request) -> Response:
    with console_state(request).sessions() as session:
        report = _report(request, session)
    return render(request, "console/weekly.html", {"title": "周报", "lines": report.summary})


# ---- web chat 👍/👎 (public, no sign-in) ----------------------------------------------------------
_SESSION_RE = re.compile(r"^[A-Za-z0-9]{32}$")


def chat_feedback_routes(sessions: sessionmaker[Session]) -> list[BaseRoute]:
    """``POST /api/chat/feedback`` ``{"session", "reply", "rating": "up"|"down"}`` rates one web answer."""

    async def chat_feedback(request: Request) -> Response:
        try:
            payload = await read_json_object(request, max_bytes=64 * 1024)
            session_id = required(payload, "session", str)
            reply = required(payload, "reply", str)
            rating = required(payload, "rating", str)
        except BodyRejected as rejected:
            return resident_refusal(rejected)
        if not (_SESSION_RE.match(session_id) and reply and rating in ("up", "down")):
            return JSONResponse({"error": BAD_FORMAT}, status_code=400)
        found = await run_in_threadpool(rate_web_reply, sessions, session_id, reply, 1 if rating == "up" else -1)
        if not found:
            return JSONResponse({"error": "没有找到这条回答。"}, status_code=404)
        return JSONResponse({"ok": True})

    return [Route("/api/chat/feedback", chat_feedback, methods=["POST"])]


def tool_routes() -> list[BaseRoute]:
    """Routes relative to the console's mount (``/console``)."""
    return [
        Route("/hit", hit_test, name="console_hit"),
        Route("/feedback", feedback_page, name="console_feedback"),
        Route("/feedback/export.jsonl", feedback_export, name="console_feedback_export"),
        Route("/feedback/corpus.jsonl", bench_corpus_export, name="console_feedback_corpus"),
        Route("/feedback/{message_id:int}", feedback_item, name="console_feedback_item"),
        Route("/feedback/{message_id:int}/{action}", feedback_judge, methods=["POST"], name="console_feedback_judge"),
        Route("/analytics", analytics_page, name="console_analytics"),
        Route("/analytics.csv", analytics_csv, name="console_analytics_csv"),
        Route("/analytics/weekly", analytics_weekly, name="console_weekly"),
    ]
