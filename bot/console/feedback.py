"""The residents' feedback loop: 👍/👎 on answers, the queue of questions to look at, and the judgements.

Residents rate an answer in the web chat (buttons, ``POST /api/chat/feedback``) or on WeChat by replying
👍 / 👎 (or 有用 / 没用 …) right after it (``rate_typed_reply``, called by ``bot.conversation``). Questions
land in the editors' queue when the bot was unsure, the resident asked for a person, or rated 👎. An
editor attaches the article or card that answers the question (or dismisses it); the pair — with the
question masked — is kept and exported as ``lawline bench retrieval`` queries.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.answers import REPLIES_FILE
from bot.console.auth import Account, audit, aware, utcnow
from bot.console.masking import mask_personal_data
from bot.console.models import AnswerRating, RetrievalJudgement
from bot.models import Conversation, Message
from retrieval.documents import Document

__all__ = [
    "QueueItem",
    "REASON_NAMES",
    "attach_document",
    "dismiss_question",
    "export_queries",
    "feedback_queue",
    "is_real_question",
    "rate_typed_reply",
    "rate_web_reply",
    "typed_rating",
]

log = logging.getLogger(__name__)

_UP = {"👍", "👍🏻", "👍🏼", "👍🏽", "有用", "有帮助", "很有用", "满意", "好评", "赞"}
_DOWN = {"👎", "👎🏻", "👎🏼", "👎🏽", "没用", "没有用", "没帮助", "没有帮助", "不满意", "差评", "不好", "没用的"}
REASON_NAMES = {"unsure": "机器人没把握", "thumbs_down": "居民点了 👎", "escalated": "转了人工", "manual": "编辑添加"}
HANDOFF_WORDS = ("转人工", "人工", "找人", "找律师", "找法律顾问")
RATING_WINDOW = dt.timedelta(hours=24)
# What residents send that asks nothing: greetings, thanks, acknowledgements, menu words. Compared after
# ``_core`` (no punctuation, emoji or trailing particles), so "你好！" and "谢谢啦～" are caught too.
CHATTER = frozenset({
    "你好", "您好", "你们好", "在吗", "在不在", "有人吗", "有人在吗", "谢谢", "谢谢你", "谢谢您", "多谢", "感谢",
    "非常感谢", "好", "好的", "好滴", "嗯", "嗯嗯", "哦", "哦哦", "噢", "知道了", "明白了", "懂了", "收到", "再见",
    "拜拜", "行", "可以", "是", "是的", "对", "对的", "不是", "没有", "没事", "没事了", "算了", "不用了", "好吧",
    "早上好", "中午好", "下午好", "晚上好", "测试", "继续", "返回", "取消", "菜单", "hello", "hi", "ok", "okay",
    "test", "yes", "no",
})
_HANDOFF_ONLY = frozenset({"转人工", "人工", "人工客服", "找人工", "我要转人工", "转人工服务", "我要人工", "找律师",
                           "找法律顾问", "客服"})
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)
_PARTICLES = re.compile(r"[啊呀吧呢哦噢嘛啦了哈]+$")
_PLACEHOLDER = re.compile(r"^\s*[\[【][^\]】]{0,30}[\]】]\s*$")  # [表情], 【收到不支持的消息类型…】


def typed_rating(text: str) -> int | None:
    """+1 / -1 when ``text`` is just a rating (👍, 有用, 👎, 没用 …), else ``None``."""
    word = text.strip().strip("。.!！~～ ")
    if len(word) > 8:
        return None
    if word in _UP:
        return 1
    if word in _DOWN:
        return -1
    return None


@lru_cache(maxsize=1)
def _thanks() -> dict[str, str]:
    data = yaml.safe_load(REPLIES_FILE.read_text(encoding="utf-8")) or {}
    texts = data.get("feedback") or {}
    return {"up": str(texts.get("thanks_up", "")).strip(), "down": str(texts.get("thanks_down", "")).strip()}


def is_answer(message: Message) -> bool:
    """Lawline's answer to a question (quoted articles or a card, or an honest "not sure")."""
    meta = message.meta or {}
    return message.direction == "out" and ("confident" in meta or bool(meta.get("citations")))


def _rate(session: Session, message: Message, rating: int, channel: str) -> None:
    row = session.scalar(select(AnswerRating).where(AnswerRating.message_id == message.id))
    if row is None:
        session.add(AnswerRating(message_id=message.id, conversation_id=message.conversation_id, rating=rating,
                                 channel=channel, created_at=utcnow()))
    else:
        row.rating, row.created_at = rating, utcnow()


def rate_typed_reply(sessions: sessionmaker[Session], conversation_id: int, text: str) -> str | None:
    """If ``text`` rates the answer just before it, record the rating and return the thank-you text.

    ``None`` (the message is handled as usual) when it is not a rating or there is no recent answer.
    Costs nothing for ordinary messages: the text is looked at before the database.
    """
    rating = typed_rating(text)
    if rating is None:
        return None
    with sessions.begin() as session:
        answers = session.scalars(
            select(Message).where(Message.conversation_id == conversation_id, Message.direction == "out")
            .order_by(Message.id.desc()).limit(3)
        ).all()
        last = next((m for m in answers if is_answer(m)), None)
        if last is None or answers[0].meta.get("feedback") or utcnow() - aware(last.created_at) > RATING_WINDOW:
            return None
        _rate(session, last, rating, last.channel)
    thanks = _thanks()["up" if rating > 0 else "down"]
    return thanks or None


def rate_web_reply(sessions: sessionmaker[Session], web_session: str, reply: str, rating: int) -> bool:
    """Rate the web chat's answer whose text is ``reply`` in conversation ``web:<web_session>``."""
    with sessions.begin() as session:
        conversation = session.scalar(select(Conversation).where(Conversation.key == f"web:{web_session}"))
        if conversation is None:
            return False
        recent = session.scalars(
            select(Message).where(Message.conversation_id == conversation.id, Message.direction == "out")
            .order_by(Message.id.desc()).limit(50)
        ).all()
        message = next((m for m in recent if m.text == reply and is_answer(m)), None)
        if message is None:
            return False
        _rate(session, message, rating, "web")
        return True


# ---- the queue ------------------------------------------------------------------------------------
def _core(text: str) -> str:
    """The words of ``text``: no spaces, punctuation, emoji or trailing particles; lower case."""
    core = _NOISE.sub("", text).lower()
    stripped = _PARTICLES.sub("", core)
    return stripped or core


def is_real_question(text: str) -> bool:
    """Whether ``text`` asks something an article or card could answer (the queue holds nothing else).

    Not: a rating (👍, 没用), a menu number (1, 2, 3), a greeting, thanks or acknowledgement, a bare request
    for a person, a WeChat placeholder ([表情]), or fewer than two characters of words.
    """
    if typed_rating(text) is not None or _PLACEHOLDER.match(text):
        return False
    core = _core(text)
    if len(core) < 2 or core.isdigit():
        return False
    return core not in CHATTER and core not in _HANDOFF_ONLY


@dataclass(slots=True)
class QueueItem:
    """A question to look at: masked, with what the bot answered and why it is here.

    ``repeats``: how many more times it was asked in the same words (listed once, newest first).
    """

    message_id: int  # the resident's question
    answer_id: int
    question: str
    reason: str
    answered_at: dt.datetime
    citations: tuple[str, ...]
    card: str | None
    confidence: float | None
    repeats: int = 0

    @property
    def reason_name(self) -> str:
        return REASON_NAMES.get(self.reason, self.reason)


def _reason(message: Message, ratings: dict[int, int], handoff_text: str) -> str | None:
    meta = message.meta or {}
    if meta.get("handoff") == "danger":  # a resident in danger: people handle it at once, not the editors' queue
        return None
    if ratings.get(message.id) == -1:
        return "thumbs_down"
    if meta.get("handoff") or meta.get("ticket") or (handoff_text and message.text.strip() == handoff_text):
        return "escalated"
    if meta.get("confident") is False:
        return "unsure"
    return None


def _question_before(session: Session, answer: Message, escalated: bool) -> Message | None:
    rows = session.scalars(
        select(Message).where(Message.conversation_id == answer.conversation_id, Message.direction == "in",
                              Message.id < answer.id).order_by(Message.id.desc()).limit(6)
    ).all()
    for row in rows:
        text = row.text.strip()
        if not text:  # erased (retention or a resident's request): nothing left to judge
            continue
        if escalated and (len(text) < 4 or any(w in text for w in HANDOFF_WORDS) or not is_real_question(text)):
            continue  # "转人工" follows the question it is about
        return row if is_real_question(text) else None
    return None


def feedback_queue(session: Session, *, handoff_text: str = "", reason: str | None = None, days: int = 60,
                   limit: int = 100) -> list[QueueItem]:
    """Open questions (not yet judged), newest first."""
    since = utcnow() - dt.timedelta(days=days)
    answers = session.scalars(
        select(Message).where(Message.direction == "out", Message.created_at >= since)
        .order_by(Message.id.desc()).limit(5000)
    ).all()
    ids = [m.id for m in answers]
    ratings: dict[int, int] = {}
    for chunk in range(0, len(ids), 500):
        rows = session.execute(select(AnswerRating.message_id, AnswerRating.rating)
                               .where(AnswerRating.message_id.in_(ids[chunk:chunk + 500])))
        ratings.update((message_id, rating) for message_id, rating in rows)
    judged = set(session.scalars(select(RetrievalJudgement.message_id).where(
        RetrievalJudgement.message_id.is_not(None))))
    # A question judged once is judged for every resident who asks it in the same words.
    judged_texts = {_core(q) for q in session.scalars(select(RetrievalJudgement.question))}
    items: list[QueueItem] = []
    seen: set[int] = set()
    by_text: dict[tuple[str, str], int] = {}  # the same words for the same reason: one entry, counted
    for answer in answers:
        why = _reason(answer, ratings, handoff_text)
        if why is None or (reason is not None and why != reason):
            continue
        question = _question_before(session, answer, why == "escalated")
        if question is None or question.id in judged or question.id in seen:
            continue
        seen.add(question.id)
        masked = mask_personal_data(question.text[:500])
        words = _core(masked)
        if words in judged_texts:
            continue
        if (why, words) in by_text:  # an unsure answer is not hidden behind an escalation of the same words
            items[by_text[why, words]].repeats += 1
            continue
        by_text[why, words] = len(items)
        meta = answer.meta or {}
        confidence = meta.get("confidence")
        items.append(QueueItem(question.id, answer.id, masked, why, aware(answer.created_at),
                               tuple(meta.get("citations") or ()), meta.get("card"),
                               float(confidence) if isinstance(confidence, int | float) else None))
        if len(items) >= limit:
            break
    return items


def _judge(session: Session, account: Account, message_id: int, reason: str, status: str,
           document: Document | None) -> RetrievalJudgement:
    question = session.get(Message, message_id)
    if question is None or question.direction != "in":
        raise ValueError("找不到这条问题。")
    existing = session.scalar(select(RetrievalJudgement).where(RetrievalJudgement.message_id == message_id))
    if existing is not None:
        raise ValueError("这条问题已经处理过了。")
    judgement = RetrievalJudgement(
        message_id=message_id, question=mask_personal_data(question.text[:1000]), reason=reason[:20],
        status=status, document_id=document.id if document else None,
        citation=document.citation if document else None, account_id=account.id, created_at=utcnow())
    session.add(judgement)
    session.flush()
    audit(session, account, f"feedback.{status}", f"message:{message_id}",
          {"document": judgement.document_id, "reason": reason})
    return judgement


def attach_document(session: Session, account: Account, message_id: int, reason: str,
                    document: Document) -> RetrievalJudgement:
    """Keep the pair (masked question → the article or card that answers it)."""
    return _judge(session, account, message_id, reason, "attached", document)


def dismiss_question(session: Session, account: Account, message_id: int, reason: str) -> RetrievalJudgement:
    """Take a question off the queue without a pair (not a legal question, spam …)."""
    return _judge(session, account, message_id, reason, "dismissed", None)


def judgements(session: Session, limit: int = 200) -> Sequence[RetrievalJudgement]:
    return session.scalars(select(RetrievalJudgement).order_by(RetrievalJudgement.id.desc()).limit(limit)).all()


def export_queries(session: Session, documents: Iterable[Document]) -> list[dict[str, Any]]:
    """Attached pairs as ``lawline bench retrieval`` queries: ``{"id", "query", "relevant"}``.

    A card counts through the articles it cites (the benchmark corpus is articles); ``card`` keeps the
    card id for retrieval evaluations that index cards too.
    """
    by_id = {d.id: d for d in documents}
    current_by_citation = {d.citation: d.id for d in by_id.values() if d.kind == "article" and d.ends is None}
    rows = []
    for judgement in session.scalars(select(RetrievalJudgement).where(RetrievalJudgement.status == "attached")
                                     .order_by(RetrievalJudgement.id)):
        doc_id = judgement.document_id or ""
        doc = by_id.get(doc_id)
        if doc is not None and doc.kind == "card":
            relevant = [current_by_citation[c] for c in doc.cites if c in current_by_citation]
        else:
            relevant = [doc_id]
        if relevant:
            rows.append({"id": f"feedback-{judgement.id}", "query": judgement.question, "relevant": relevant,
                         "document": doc_id, "reason": judgement.reason})
    return rows


def jsonl(rows: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
