"""Drafts: the list, one draft with its diff, review actions, publishing progress and version history."""

from __future__ import annotations

from sqlalchemy import or_, select
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.console.amendments import ArticleChange, missing_checks, review_draft
from bot.console.auth import STAFF, Account, console_state, current_account, form_data, form_text, require_role
from bot.console.context import context
from bot.console.diffing import diff_lines, diff_summary
from bot.console.drafts import (
    DraftError,
    approve_draft,
    reject_draft,
    submit_draft,
    withdraw_draft,
)
from bot.console.models import ConsoleAccount, CorpusDraft
from bot.console.publishing import STAGES, PublishJob
from bot.console.templating import error_page, render

__all__ = ["draft_routes"]


@require_role(*STAFF)
def draft_list(request: Request) -> Response:
    account = current_account(request)
    status = request.query_params.get("status", "")
    mine = request.query_params.get("mine") == "1"
    with console_state(request).sessions() as session:
        query = select(CorpusDraft).order_by(CorpusDraft.id.desc()).limit(200)
        if status:
            query = query.where(CorpusDraft.status == status)
        if mine:
            query = query.where(CorpusDraft.author_id == account.id)
        drafts = list(session.scalars(query))
        names = {i: n for i, n in session.execute(select(ConsoleAccount.id, ConsoleAccount.display_name))}
    rows = [(d, names.get(d.author_id or 0, "—"), diff_summary(d.before, d.after)) for d in drafts]
    return render(request, "console/drafts.html", {"title": "草稿与审核", "rows": rows, "status": status,
                                                   "mine": mine})


@require_role(*STAFF)
def history(request: Request) -> Response:
    """Published changes, newest first (the corpus's version history)."""
    target = request.query_params.get("target", "")[:400]
    with console_state(request).sessions() as session:
        query = select(CorpusDraft).where(CorpusDraft.status == "published").order_by(
            CorpusDraft.published_at.desc()).limit(200)
        if target:
            query = query.where(or_(CorpusDraft.target == target, CorpusDraft.target.startswith(target + "#"),
                                    CorpusDraft.target.startswith(target + "/")))
        drafts = list(session.scalars(query))
        names = {i: n for i, n in session.execute(select(ConsoleAccount.id, ConsoleAccount.display_name))}
    rows = [(d, names.get(d.author_id or 0, "—"), diff_summary(d.before, d.after)) for d in drafts]
    return render(request, "console/drafts.html", {"title": "版本历史", "rows": rows, "status": "published",
                                                   "mine": False, "history_view": True})


def _unchecked(missing: list[ArticleChange]) -> str:
    names = dict.fromkeys("条号变化" if c.kind == "renumbered" else f"{c.kind_word}{c.label}" for c in missing)
    listed = "、".join(list(names)[:20]) + ("……" if len(names) > 20 else "")
    return f"还有 {len(names)} 处改动没有打勾核对：{listed}。请回到草稿页逐条核对后再审核通过。"


def _can(account: Account, draft: CorpusDraft) -> dict[str, bool]:
    own = draft.author_id == account.id
    review = account.role == "reviewer" and not own
    return {
        "submit": own and draft.status == "draft",
        "withdraw": own and draft.status in ("draft", "submitted", "failed"),
        "approve": review and draft.status in ("submitted", "failed"),
        "reject": review and draft.status in ("submitted", "failed"),
        "own_review_blocked": own and account.role == "reviewer" and draft.status == "submitted",
    }


@require_role(*STAFF)
def draft_page(request: Request) -> Response:
    account = current_account(request)
    with console_state(request).sessions() as session:
        draft = session.get(CorpusDraft, int(request.path_params["draft_id"]))
        if draft is None:
            return error_page(request, 404, "找不到这份草稿。")
        names = {i: n for i, n in session.execute(select(ConsoleAccount.id, ConsoleAccount.display_name))}
        large = draft.kind == "statute_file" and len(draft.before) + len(draft.after) > 400_000
        diff = [] if large else diff_lines(draft.before, draft.after)
        review = review_draft(session, draft)
        return render(request, "console/draft.html", {
            "review": review,
            "title": f"草稿 #{draft.id}", "draft": draft, "diff": diff, "large": large, "can": _can(account, draft),
            "author": names.get(draft.author_id or 0, "—"), "reviewer": names.get(draft.reviewer_id or 0, ""),
            "summary": diff_summary(draft.before, draft.after), "flash": request.query_params.get("flash", "")[:200],
            "job": context(request).publisher.jobs.get(draft.id)})


@require_role(*STAFF)
def draft_action(request: Request) -> Response:
    account = current_account(request)
    draft_id = int(request.path_params["draft_id"])
    action = request.path_params["action"]
    note = form_text(request, "note", limit=2000)
    try:
        with console_state(request).sessions.begin() as session:
            if action == "submit":
                submit_draft(session, account, draft_id)
            elif action == "withdraw":
                withdraw_draft(session, account, draft_id)
            elif action == "reject":
                reject_draft(session, account, draft_id, note)
            elif action == "approve":
                draft = session.get(CorpusDraft, draft_id)
                review = review_draft(session, draft) if draft is not None else None
                missing = missing_checks(review, form_data(request).get("checked[]", []))
                if missing:  # an amendment is approved article by article (bot.console.amendments)
                    return error_page(request, 400, _unchecked(missing))
                approve_draft(session, account, draft_id, note,
                              checked=len(review.keys) if review is not None else None)
            else:
                return error_page(request, 404, "没有这个操作。")
    except DraftError as exc:
        return error_page(request, 409, str(exc))
    if action == "approve":
        context(request).publisher.start(draft_id, account)
        return RedirectResponse(f"/console/drafts/{draft_id}/progress", status_code=303)
    return RedirectResponse(f"/console/drafts/{draft_id}", status_code=303)


def _job(request: Request) -> tuple[int, PublishJob | None, str]:
    draft_id = int(request.path_params["draft_id"])
    job = context(request).publisher.jobs.get(draft_id)
    with console_state(request).sessions() as session:
        draft = session.get(CorpusDraft, draft_id)
        status = draft.status if draft is not None else ""
    return draft_id, job, status


@require_role(*STAFF)
def progress_page(request: Request) -> Response:
    draft_id, job, status = _job(request)
    if not status:
        return error_page(request, 404, "找不到这份草稿。")
    return render(request, "console/progress.html", {"title": "发布进度", "draft_id": draft_id,
                                                     "job": job.to_json() if job else None, "status": status,
                                                     "STAGES": STAGES})


@require_role(*STAFF)
def progress_json(request: Request) -> Response:
    draft_id, job, status = _job(request)
    if not status:
        return JSONResponse({"error": "not found"}, status_code=404)
    body = job.to_json() if job else {"draft": draft_id, "stage": status, "finished": status != "publishing"}
    # "published" only once the running app answers from the new index (the reload step is done).
    body["status"] = "publishing" if job is not None and not job.finished and status == "published" else status
    return JSONResponse(body, headers={"Cache-Control": "no-store"})



def draft_routes() -> list[BaseRoute]:
    """Routes relative to the console's mount (``/console``)."""
    return [
        Route("/drafts", draft_list, name="console_drafts"),
        Route("/history", history, name="console_history"),
        Route("/drafts/{draft_id:int}", draft_page, name="console_draft"),
        Route("/drafts/{draft_id:int}/progress", progress_page, name="console_progress"),
        Route("/drafts/{draft_id:int}/progress.json", progress_json, name="console_progress_json"),
        Route("/drafts/{draft_id:int}/{action}", draft_action, methods=["POST"], name="console_draft_action"),
    ]
