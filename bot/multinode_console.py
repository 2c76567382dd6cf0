"""The operator's part of ``lawline bench multinode``: an answer-card edit published through the console.

An editor signs in to one node's console, changes a card's title and submits it; a different person with the
reviewer role approves it, which publishes it (``bot.console.publishing``: corpus file, database and index
together); the bench waits until the node reports it published (``progress.json``). Only the forms a person
would fill in are used, with their CSRF tokens.
"""

from __future__ import annotations

import asyncio
import html
import re
import time
from dataclasses import dataclass

import httpx

__all__ = ["Operator", "publish_card_title"]

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_TEXTAREA = re.compile(r'<textarea id="(\w+)" name="\1"[^>]*>(.*?)</textarea>', re.S)
_TITLE = re.compile(r'name="title" value="([^"]*)"')
_TOPIC = re.compile(r"<option selected>([^<]+)</option>")
_DRAFT = re.compile(r"^/console/drafts/(\d+)")


@dataclass(frozen=True, slots=True)
class Operator:
    """The console accounts the bench publishes with (opened in the shared database before the nodes start)."""

    editor: str
    reviewer: str
    password: str


def _csrf(page: str) -> str:
    match = _CSRF.search(page)
    if match is None:
        raise RuntimeError("the console page has no CSRF field")
    return match[1]


async def _signed_in(http: httpx.AsyncClient, username: str, password: str) -> None:
    page = await http.get("/console/login")
    response = await http.post("/console/login", data={"username": username, "password": password,
                                                       "csrf_token": _csrf(page.text), "next": "/console/"})
    if response.status_code != 303:
        raise RuntimeError(f"console sign-in as {username} answered {response.status_code}")


async def publish_card_title(base: str, operator: Operator, slug: str, suffix: str, timeout: float = 180.0) -> int:
    """Append ``suffix`` to card ``slug``'s title on the console at ``base`` and publish it; the draft's id."""
    async with (httpx.AsyncClient(base_url=base, timeout=60.0, trust_env=False) as editor,
                httpx.AsyncClient(base_url=base, timeout=60.0, trust_env=False) as reviewer):
        await _signed_in(editor, operator.editor, operator.password)
        await _signed_in(reviewer, operator.reviewer, operator.password)
        url = f"/console/corpus/cards/{slug}"
        page = (await editor.get(url)).text
        fields = {name: html.unescape(value) for name, value in _TEXTAREA.findall(page)}
        title, topic = _TITLE.search(page), _TOPIC.search(page)
        if title is None or topic is None:
            raise RuntimeError(f"the console shows no editable card {slug}")
        response = await editor.post(url, data={**fields, "csrf_token": _csrf(page), "submit": "submit",
                                                "title": html.unescape(title[1]) + suffix, "topic": topic[1],
                                                "note": "多节点发布核对"})
        draft = _DRAFT.match(response.headers.get("location", ""))
        if draft is None:
            raise RuntimeError(f"the card draft was refused ({response.status_code})")
        draft_id = int(draft[1])
        page = (await reviewer.get(f"/console/drafts/{draft_id}")).text
        await reviewer.post(f"/console/drafts/{draft_id}/approve", data={"csrf_token": _csrf(page)})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = (await reviewer.get(f"/console/drafts/{draft_id}/progress.json")).json()
            if status.get("status") != "publishing":
                if status.get("status") != "published":
                    raise RuntimeError(f"publishing draft {draft_id} ended {status.get('status')}: "
                                       f"{status.get('error', '')}")
                return draft_id
            await asyncio.sleep(0.3)
        raise RuntimeError(f"publishing draft {draft_id} did not finish in {timeout:.0f} s")
