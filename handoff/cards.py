"""Case cards and notes for WeChat Work group robots (markdown; "群机器人配置说明": at most 4,096 bytes).

A card carries what the adviser needs to decide: topic, urgency, village, why the bot handed over, a short
extract of what the resident wrote (phone and ID numbers masked), what the bot already answered and
cited, the deadline, and a link to take the case in the console.
"""

from __future__ import annotations

import datetime as dt
import re

from handoff.directory import SPECIALTIES, TOPIC_SPECIALTY, Directory
from handoff.models import Ticket
from handoff.ports import TranscriptLine

__all__ = ["MAX_MARKDOWN_BYTES", "REASONS", "TEMPLATE_VALUE_CHARS", "card_markdown", "mask_personal", "note_markdown",
           "summarise", "template_values"]

MAX_MARKDOWN_BYTES = 4096
TEMPLATE_VALUE_CHARS = 20  # a template's thing.DATA takes at most 20 characters
REASONS = {
    "requested": "居民要求转人工",
    "not_understood": "机器人没听懂，居民同意转人工",
    "beyond_self_help": "超出自助范围",
    "legal_aid_pre_application": "法律援助预申请",
    "danger": "危险信号",
    "timeout_callback": "超时未回复，预约回电",
}
_LONG_DIGITS = re.compile(r"\d[\d\- ]{5,}\d[\dXx]?")


def mask_personal(text: str) -> str:
    """Phone and ID numbers become ``138****5678``-style masks (cards go to group chats)."""
    def mask(match: re.Match[str]) -> str:
        digits = re.sub(r"[\- ]", "", match.group())
        return digits[:3] + "*" * max(len(digits) - 7, 4) + digits[-4:] if len(digits) >= 7 else match.group()
    return _LONG_DIGITS.sub(mask, text)


def summarise(lines: list[TranscriptLine], *, limit: int = 3, chars: int = 80) -> tuple[str, tuple[str, ...]]:
    """The resident's last ``limit`` messages (extracts, masked) and the citations the bot gave."""
    said = [mask_personal(line.text.strip().replace("\n", " ")) for line in lines if line.direction == "in"
            and line.text.strip()][-limit:]
    extract = "\n".join(s if len(s) <= chars else s[:chars] + "……" for s in said)
    cited: list[str] = []
    for line in lines:
        for citation in line.citations:
            if line.direction == "out" and citation not in cited:
                cited.append(citation)
    return extract, tuple(cited[-6:])


def _local(value: dt.datetime | None, directory: Directory) -> str:
    if value is None:
        return "未配置工作时间"
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(directory.calendar.tz).strftime("%m月%d日 %H:%M")


def _fit(text: str) -> str:
    while len(text.encode("utf-8")) > MAX_MARKDOWN_BYTES:
        text = text[: int(len(text) * 0.9)] + "……"
    return text


def card_markdown(ticket: Ticket, directory: Directory, link: str | None) -> str:
    """The case card for ``ticket``."""
    topic = SPECIALTIES.get(TOPIC_SPECIALTY.get(ticket.topic or "", ""), "未分类")
    place = directory.full_name(ticket.village) or "居民未说明"
    urgent = '<font color="warning">紧急</font>' if ticket.urgent else "一般"
    reason = REASONS.get(ticket.reason, ticket.reason)
    if ticket.danger:
        reason += f"（{ticket.danger}）"
    assignee = directory.person(ticket.assignee)
    lines = [
        f"### {'【演示数据】' if directory.sample else ''}新案件 #{ticket.id}（{urgent}）",
        f"> 事项：{topic}",
        f"> 地点：{place}",
        f"> 原因：{reason}",
    ]
    if assignee is not None:
        lines.append(f"> 建议承办：{assignee.name}")
    lines.append(f"> 首次回复期限：{_local(ticket.first_response_due, directory)}")
    if ticket.callback_at is not None:
        lines.append(f"> 预约回电：{_local(ticket.callback_at, directory)}以后")
    if ticket.summary:
        lines += ["", "**居民说：**", *(f"> {s}" for s in ticket.summary.splitlines())]
    if ticket.answered:
        lines += ["", "**机器人已答复并引用：**" + "、".join(str(c) for c in ticket.answered)]
    lines.append("")
    lines.append(f"[认领并处理]({link})" if link else "请登录工作台认领处理。")
    return _fit("\n".join(lines))


def note_markdown(title: str, ticket: Ticket, directory: Directory, link: str | None, detail: str = "") -> str:
    """A reminder or escalation note about ``ticket``."""
    place = directory.full_name(ticket.village) or "居民未说明"
    lines = [f"### {'【演示数据】' if directory.sample else ''}{title} #{ticket.id}", f"> 地点：{place}"]
    if detail:
        lines.append(f"> {detail}")
    lines.append(f"[查看案件]({link})" if link else "请登录工作台查看。")
    return _fit("\n".join(lines))


def template_values(ticket: Ticket, directory: Directory) -> dict[str, str]:
    """What can fill an adviser's template message (``AdviserTemplate.fields``): nothing the resident wrote."""
    opened = ticket.created_at.replace(tzinfo=dt.UTC) if ticket.created_at.tzinfo is None else ticket.created_at
    values = {
        "ticket": f"#{ticket.id}",
        "topic": SPECIALTIES.get(TOPIC_SPECIALTY.get(ticket.topic or "", ""), "未分类"),
        "village": directory.full_name(ticket.village) or "居民未说明",
        "urgency": "紧急" if ticket.urgent else "一般",
        "reason": REASONS.get(ticket.reason, ticket.reason),
        "opened": opened.astimezone(directory.calendar.tz).strftime("%Y-%m-%d %H:%M"),
    }
    if directory.sample:
        values["topic"] = "【演示】" + values["topic"]
    return {k: v[:TEMPLATE_VALUE_CHARS] for k, v in values.items()}
