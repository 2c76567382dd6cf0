"""Corpus drafts: an editor proposes, a different person with the reviewer role approves and publishes.

States::

    draft ──submit──▶ submitted ──approve──▶ publishing ──▶ published
      │                   │  └──reject──▶ rejected            └──▶ failed ──retry──▶ publishing
      └──withdraw──▶ withdrawn ◀──withdraw──┘

Each kind of draft records ``before`` (what the editor started from) and ``after`` as readable text, so the
review page and the version history show a diff; ``payload`` carries what publishing needs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.console.amendments import amended_version
from bot.console.auth import Account, audit, utcnow
from bot.console.corpus_files import EditError, corpus_file, parse_statute_text, statute_file_name
from bot.console.datafiles import DataSet, validate_data_file
from bot.console.models import CorpusDraft
from corpus.cases import TOPICS
from corpus.models import AnswerCard, Article, Law
from corpus.statutes import ParsedStatute

__all__ = [
    "KIND_NAMES",
    "DraftError",
    "EditError",
    "OPEN_STATES",
    "STATUS_NAMES",
    "approve_draft",
    "card_fields",
    "card_text",
    "dates_text",
    "new_article_draft",
    "new_card_draft",
    "new_data_draft",
    "new_dates_draft",
    "new_statute_draft",
    "parse_citations",
    "reject_draft",
    "statute_target",
    "submit_draft",
    "withdraw_draft",
]

STATUS_NAMES = {"draft": "草稿", "submitted": "待审核", "publishing": "发布中", "published": "已发布",
                "rejected": "已退回", "withdrawn": "已撤回", "failed": "发布失败"}
KIND_NAMES = {"article": "条文", "law_dates": "施行/废止日期", "card": "答问卡片", "statute_file": "新法规/修正",
              "data_file": "援助条件/服务目录"}
OPEN_STATES = ("draft", "submitted", "publishing", "failed")
MAX_ARTICLE_CHARS = 20000
_CITATION_RE = re.compile(r"^(.+?)\s*(第[零〇一二三四五六七八九十百千]+条(?:之[一二三四五六七八九十]+)?)$")


class DraftError(ValueError):
    """A draft action was refused; the message is Chinese, for the page."""


def _sha(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def _new(session: Session, account: Account, kind: str, target: str, title: str, before: str, after: str,
         payload: dict[str, Any], base_sha: str, note: str, submit: bool) -> CorpusDraft:
    if before == after:
        raise DraftError("内容没有变化，不需要起草。")
    now = utcnow()
    draft = CorpusDraft(kind=kind, target=target, title=title[:300], status="submitted" if submit else "draft",
                        before=before, after=after, payload=payload, base_sha256=base_sha, note=note[:2000],
                        author_id=account.id, created_at=now, updated_at=now)
    session.add(draft)
    session.flush()
    audit(session, account, "draft.submit" if submit else "draft.create", f"draft:{draft.id}",
          {"kind": kind, "target": target})
    return draft


def new_article_draft(session: Session, account: Account, corpus_dir: Path, article_id: int, text: str,
                      note: str = "", submit: bool = True) -> CorpusDraft:
    """Propose a new text for one article; the file keeps everything else as it is."""
    article = session.get(Article, article_id, options=[selectinload(Article.law)])
    if article is None:
        raise DraftError("找不到这一条。")
    text = "\n".join(line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip())
    if not text:
        raise DraftError("条文不能为空。")
    if len(text) > MAX_ARTICLE_CHARS:
        raise DraftError(f"条文太长了（上限 {MAX_ARTICLE_CHARS} 字）。")
    law = article.law
    path = corpus_file(corpus_dir, law.source_file)
    return _new(session, account, "article", f"{law.source_file}#{article.label}", f"{article.citation}",
                article.text, text, {"source_file": law.source_file, "label": article.label, "law_id": law.id},
                _sha(path), note, submit)


def dates_text(effective: dt.date | None, repealed: dt.date | None) -> str:
    """A law's dates as editors read them, for the diff."""
    return (f"施行日期：{effective.isoformat() if effective else '（未写明）'}\n"
            f"废止日期：{repealed.isoformat() if repealed else '（未废止）'}")


def _day(value: str, name: str) -> dt.date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise DraftError(f"{name}要写成 2026-01-01 这样的日期。") from None


def new_dates_draft(session: Session, account: Account, corpus_dir: Path, law_id: int, effective: str,
                    repealed: str, note: str = "", submit: bool = True) -> CorpusDraft:
    """Propose new effective / repeal dates for one law version (front matter ``effective``/``repealed``)."""
    law = session.get(Law, law_id)
    if law is None:
        raise DraftError("找不到这部法规。")
    new_effective, new_repealed = _day(effective, "施行日期"), _day(repealed, "废止日期")
    if new_effective is None and law.effective is not None:
        raise DraftError("请填写施行日期。")
    if new_effective and new_repealed and new_repealed < new_effective:
        raise DraftError("废止日期不能早于施行日期。")
    path = corpus_file(corpus_dir, law.source_file)
    payload = {"source_file": law.source_file, "law_id": law.id,
               "effective": new_effective.isoformat() if new_effective else None,
               "repealed": new_repealed.isoformat() if new_repealed else None}
    return _new(session, account, "law_dates", law.source_file, f"《{law.title}》（{law.source_file}）",
                dates_text(law.effective, law.repealed), dates_text(new_effective, new_repealed), payload,
                _sha(path), note, submit)


def card_text(card: dict[str, Any]) -> str:
    """A card as editors read it, for the diff."""
    lines = [f"标题：{card['title']}", f"主题：{card['topic']}", "常见问法："]
    lines += [f"- {q}" for q in card["questions"]]
    lines += ["不答这些问题：", *(f"- {q}" for q in card.get("not_for", ()))]
    lines += ["回答：", *str(card["answer"]).strip().split("\n"), "怎么办："]
    lines += [f"{i}. {s}" for i, s in enumerate(card["next_steps"], 1)]
    lines += ["去哪里：", *(f"- {w}" for w in card["where_to_go"]), "法律依据："]
    lines += [f"- {c['law']} {c['article']}" for c in card["citations"]]
    return "\n".join(lines)


def card_fields(card: AnswerCard) -> dict[str, Any]:
    """A card row as the fields of its file."""
    return {"id": card.slug, "topic": card.topic, "title": card.title, "questions": list(card.questions),
            "not_for": list(card.not_for or []), "answer": card.answer, "next_steps": list(card.next_steps),
            "where_to_go": list(card.where_to_go),
            "citations": [{"law": c.law_title, "article": c.article_label} for c in card.citations],
            "version": card.version}


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.replace("\r\n", "\n").split("\n") if line.strip()]


def parse_citations(value: str) -> list[dict[str, str]]:
    """``中华人民共和国劳动法 第五十条`` per line → citations."""
    citations = []
    for line in _lines(value):
        match = _CITATION_RE.match(line.replace("《", "").replace("》", ""))
        if not match:
            raise DraftError(f"法律依据要写成“法律全称 第X条”：{line[:40]}")
        citations.append({"law": match[1].strip(), "article": match[2]})
    if not citations:
        raise DraftError("卡片至少要引用一条法律依据。")
    return citations


def new_card_draft(session: Session, account: Account, corpus_dir: Path, slug: str, form: dict[str, str],
                   note: str = "", submit: bool = True) -> CorpusDraft:
    """Propose a new version of an answer card from the edit form's fields."""
    card = session.scalar(select(AnswerCard).where(AnswerCard.slug == slug)
                          .options(selectinload(AnswerCard.citations)))
    if card is None:
        raise DraftError("找不到这张卡片。")
    current = card_fields(card)
    proposed = dict(current)
    proposed["title"] = form.get("title", "").strip()
    proposed["topic"] = form.get("topic", card.topic)
    proposed["questions"] = _lines(form.get("questions", ""))
    # The card's scope (corpus/data/cards/README.md); a form without the field keeps the current one.
    proposed["not_for"] = _lines(form.get("not_for", "")) or current["not_for"]
    proposed["answer"] = form.get("answer", "").replace("\r\n", "\n").strip()
    proposed["next_steps"] = _lines(form.get("next_steps", ""))
    proposed["where_to_go"] = _lines(form.get("where_to_go", ""))
    proposed["citations"] = parse_citations(form.get("citations", ""))
    if proposed["topic"] not in TOPICS:
        raise DraftError("主题不对。")
    for key, name in (("title", "标题"), ("answer", "回答"), ("next_steps", "怎么办"), ("where_to_go", "去哪里")):
        if not proposed[key]:
            raise DraftError(f"“{name}”不能为空。")
    if len(proposed["answer"]) > 5000 or len(proposed["title"]) > 200:
        raise DraftError("标题或回答太长了。")
    path = corpus_file(corpus_dir, card.source_file)
    return _new(session, account, "card", card.source_file, f"答问卡片：{card.title}", card_text(current),
                card_text(proposed), {"source_file": card.source_file, "slug": slug, "card": proposed},
                _sha(path), note, submit)


def statute_target(session: Session, parsed: ParsedStatute) -> tuple[str, Law | None]:
    """Where an uploaded statute goes, and the version it replaces (if any).

    The same file for a corrected version (same title and effective date), else a new file (a new law, or
    an amendment that supersedes the older version from its date).
    """
    same = session.scalars(select(Law).where(Law.title == parsed.meta.title)).all()
    for law in same:
        if law.effective == parsed.meta.effective:
            return law.source_file, law
    taken = list(session.scalars(select(Law.source_file)))
    return statute_file_name(parsed.meta.title, parsed.meta.effective, taken), None


def new_statute_draft(session: Session, account: Account, corpus_dir: Path, text: str, note: str = "",
                      submit: bool = True) -> CorpusDraft:
    """Propose a new law or amendment uploaded as Markdown (parsed again here: never trust the preview)."""
    parsed = parse_statute_text(text, "upload.md")
    target, existing = statute_target(session, parsed)
    path = corpus_file(corpus_dir, target)
    before = path.read_text(encoding="utf-8") if existing is not None and path.is_file() else ""
    if existing is None and path.exists():
        raise DraftError(f"知识库目录里已经有文件 {target}，但没有导入；请先让管理员处理。")
    meta = parsed.meta
    title = f"《{meta.title}》{'（修正版本，' + meta.effective.isoformat() + ' 起施行）' if meta.effective else ''}"
    # The version it amends, so the review compares with that one even after later versions (amendments).
    base = None if existing is not None else amended_version(session, meta.title, meta.effective, target)
    return _new(session, account, "statute_file", target, title, before, text.replace("\r\n", "\n"),
                {"source_file": target, "replaces": existing.id if existing else None,
                 "base": base.source_file if base is not None else None,
                 "articles": len(parsed.articles)}, _sha(path), note, submit)


def new_data_draft(session: Session, account: Account, data_set: DataSet, relative: str, text: str,
                   note: str = "", submit: bool = True) -> CorpusDraft:
    """Propose a new text for an eligibility-rules or service-directory file (checked by its loader)."""
    path = data_set.path(relative)
    text = text.replace("\r\n", "\n")
    text = text if text.endswith("\n") else text + "\n"
    validate_data_file(data_set, relative, text)
    return _new(session, account, "data_file", f"data:{data_set.key}/{relative}", f"{data_set.title}：{relative}",
                path.read_text(encoding="utf-8"), text, {"set": data_set.key, "path": relative}, _sha(path), note,
                submit)


def _load(session: Session, draft_id: int) -> CorpusDraft:
    draft = session.get(CorpusDraft, draft_id, with_for_update=True)
    if draft is None:
        raise DraftError("找不到这份草稿。")
    return draft


def _move(session: Session, draft: CorpusDraft, account: Account, to: str, allowed: Sequence[str],
          action: str, note: str = "", extra: dict[str, Any] | None = None) -> CorpusDraft:
    if draft.status not in allowed:
        raise DraftError(f"这份草稿现在是“{STATUS_NAMES.get(draft.status, draft.status)}”，不能这样操作。")
    draft.status = to
    draft.updated_at = utcnow()
    if note:
        draft.review_note = note[:2000]
    audit(session, account, action, f"draft:{draft.id}", {"kind": draft.kind, "target": draft.target, **(extra or {})})
    return draft


def submit_draft(session: Session, account: Account, draft_id: int) -> CorpusDraft:
    """The author sends a saved draft for review."""
    draft = _load(session, draft_id)
    if draft.author_id != account.id:
        raise DraftError("只有起草人可以提交自己的草稿。")
    return _move(session, draft, account, "submitted", ("draft",), "draft.submit")


def withdraw_draft(session: Session, account: Account, draft_id: int) -> CorpusDraft:
    """The author takes a draft back."""
    draft = _load(session, draft_id)
    if draft.author_id != account.id:
        raise DraftError("只有起草人可以撤回草稿。")
    return _move(session, draft, account, "withdrawn", ("draft", "submitted", "failed"), "draft.withdraw")


def _check_reviewer(draft: CorpusDraft, account: Account) -> None:
    if account.role != "reviewer":
        raise DraftError("只有审核员可以审核。")
    if draft.author_id == account.id:
        raise DraftError("不能审核自己起草的内容，请让另一位审核员审核。")


def reject_draft(session: Session, account: Account, draft_id: int, note: str) -> CorpusDraft:
    """A reviewer (not the author) sends it back with a reason."""
    draft = _load(session, draft_id)
    _check_reviewer(draft, account)
    if not note.strip():
        raise DraftError("退回时请写明原因，方便起草人修改。")
    return _move(session, draft, account, "rejected", ("submitted", "failed"), "draft.reject", note)


def approve_draft(session: Session, account: Account, draft_id: int, note: str = "", *,
                  checked: int | None = None) -> CorpusDraft:
    """Approve for publishing: the draft moves to ``publishing``; the publisher does the rest.

    ``checked``: how many changes of an amendment the reviewer ticked one by one (kept in the audit log).
    """
    draft = _load(session, draft_id)
    _check_reviewer(draft, account)
    draft.reviewer_id = account.id
    draft.error = ""
    extra = {"checked": checked} if checked is not None else None
    return _move(session, draft, account, "publishing", ("submitted", "failed"), "draft.approve", note, extra)

