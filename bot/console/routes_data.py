"""Eligibility rules, provincial standards and the service directory: view, and propose changes for review."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.console.auth import EDITORS, STAFF, console_state, current_account, form_text, require_role
from bot.console.context import context
from bot.console.datafiles import MAX_DATA_FILE, DataFileError, data_sets
from bot.console.drafts import DraftError, new_data_draft
from bot.console.templating import error_page, render

__all__ = ["data_routes"]


@require_role(*STAFF)
def data_index(request: Request) -> Response:
    sets = data_sets(context(request).settings)
    return render(request, "console/data.html", {"title": "援助条件与服务目录", "sets": list(sets.values())})


@require_role(*STAFF)
def data_file(request: Request) -> Response:
    sets = data_sets(context(request).settings)
    data_set = sets.get(request.path_params["key"])
    relative = request.path_params["path"]
    if data_set is None or relative not in data_set.files():
        return error_page(request, 404, "没有这个数据文件。")
    text = data_set.path(relative).read_text(encoding="utf-8")
    error = ""
    if request.method == "POST":
        if current_account(request).role not in EDITORS:
            return error_page(request, 403, "您的账号没有权限修改这个文件。")
        text = form_text(request, "text", limit=MAX_DATA_FILE)
        try:
            with console_state(request).sessions.begin() as session:
                draft = new_data_draft(session, current_account(request), data_set, relative, text,
                                       form_text(request, "note", limit=2000))
            return RedirectResponse(f"/console/drafts/{draft.id}", status_code=303)
        except (DataFileError, DraftError) as exc:
            error = str(exc)
    return render(request, "console/data_file.html", {"title": relative, "set": data_set, "relative": relative,
                                                      "text": text, "error": error},
                  status_code=400 if error else 200)


def data_routes() -> list[BaseRoute]:
    """Routes relative to the console's mount (``/console``)."""
    return [
        Route("/data", data_index, name="console_data"),
        Route("/data/{key}/{path:path}", data_file, methods=["GET", "POST"], name="console_data_file"),
    ]
