"""The audit log in Chinese: what each action, target and detail means, for the administrators' page.

Entries keep their codes (``draft.approve``, ``draft:12``, ``{"kind": "article"}``) so that filters and exports
stay stable; this module says them in words (审核通过 · 草稿 #12 · 类型：条文). A code not named here is shown
as ``（未知：code）`` (``bot.console.names.unknown``), never bare, so a new action is visible but not hidden.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.console.auth import ROLE_NAMES
from bot.console.drafts import KIND_NAMES
from bot.console.feedback import REASON_NAMES
from bot.console.names import unknown
from handoff.tickets import OUTCOMES

__all__ = ["ACTION_NAMES", "AuditLine", "action_name", "describe"]

ACTION_NAMES: Mapping[str, str] = {
    "login": "登录", "logout": "退出登录", "login.failed": "登录失败", "login.alert": "登录失败次数异常",
    "account.create": "新建账号", "account.update": "修改账号", "account.password": "重设密码",
    "account.unlock": "解除登录限制",
    "draft.create": "保存草稿", "draft.submit": "提交审核", "draft.withdraw": "撤回草稿",
    "draft.reject": "退回修改", "draft.approve": "审核通过", "draft.publish": "发布",
    "draft.publish_failed": "发布失败",
    "hit_test": "命中测试", "feedback.attached": "反馈：找到了对应条文或卡片",
    "feedback.dismissed": "反馈：不是法律问题，忽略",
    "feedback.export": "导出评估问题", "analytics.export": "导出统计表",
    "case.claim": "认领案件", "case.reply": "回复居民", "case.transfer": "转办案件", "case.close": "办结案件",
    "case.reveal": "查看完整号码", "case.report_danger": "报告漏判的危险",
    "privacy.export": "导出居民个人信息", "privacy.delete": "删除居民个人信息", "privacy.purge": "清除过期记录",
}

_TARGETS = {"draft": "草稿 #{}", "account": "账号 {}", "ticket": "案件 #{}", "message": "居民问题 #{}",
            "address": "某一地址（{}）", "before": "{} 以前的记录", "conversations": "对话 {}"}

_LOGIN_REASONS = {"wrong name or password": "用户名或密码不对", "disabled": "账号已停用",
                  "throttled": "失败太多次，还在等待时间内"}
_TARGET_KINDS = {"adviser": "村（居）法律顾问", "hotline": "12348 热线", "legal_aid": "法律援助中心",
                 "mediation": "人民调解"}
_PRIVACY_BY = {"openid": "微信号", "phone": "电话号码", "key": "对话编号"}
_COUNTS = {"messages": "条消息", "cases": "个案件", "legal_aid_checks": "次法律援助自测",
           "rasa_events": "条对话引擎记录",
           "closed tickets": "个已办结案件", "conversations": "段对话", "profiles": "份居民资料",
           "deliveries": "条待发消息", "robot messages": "条群机器人消息"}


def _yes(value: Any) -> str:
    return "是" if value else "否"


def _role_change(value: Any) -> str:
    if isinstance(value, list) and len(value) == 2:
        return f"{ROLE_NAMES.get(value[0], value[0])} → {ROLE_NAMES.get(value[1], value[1])}"
    return ROLE_NAMES.get(str(value), str(value))


# detail key → (label, how to say the value)
_DETAILS: Mapping[str, tuple[str, Any]] = {
    "kind": ("类型", lambda v: KIND_NAMES.get(v, v)),
    "target": ("内容", lambda v: _target_file(str(v))),
    "role": ("角色", _role_change),
    "active": ("启用", _yes),
    "villages": ("负责的村（社区）", lambda v: "、".join(v) if v else "无"),
    "display_name": ("显示名", str),
    "reason": ("原因", lambda v: _LOGIN_REASONS.get(v) or REASON_NAMES.get(v) or v),
    "address": ("来源地址（已隐去）", str),
    "failures": ("失败次数", str),
    "addresses": ("来自几个地址", str),
    "names": ("试了几个用户名", str),
    "minutes": ("统计时段（分钟）", str),
    "error": ("出错原因", str),
    "encoded": ("重新编码的文档", lambda v: f"{v} 篇"),
    "document": ("对应文档", lambda v: _target_file(str(v)) if v else "无"),
    "rows": ("行数", str),
    "weeks": ("周数", str),
    "q": ("测试的问题（已隐去个人信息）", str),
    "chars": ("回复字数", str),
    "to": ("转给", lambda v: v or "（按目录分派）"),
    "outcome": ("办理结果", lambda v: OUTCOMES.get(v, v)),
    "draft": ("草稿", lambda v: f"#{v}"),
    "callback_phone": ("含回电号码", _yes),
    "legal_aid_contact": ("含法律援助联系方式", _yes),
    "by": ("按什么找到居民", lambda v: _PRIVACY_BY.get(v, v)),
    "days": ("保留天数", str),
    "checked": ("逐条核对的条文", lambda v: f"{v} 条"),
}


def _target_file(value: str) -> str:
    """``statutes/x.md#第三十条`` → ``x 第三十条``; ``data:eligibility/rules.yaml`` → ``援助条件 rules.yaml``."""
    if value.startswith("data:"):
        return "数据文件 " + value[5:]
    path, _, label = value.partition("#")
    name = path.rsplit("/", 1)[-1].removesuffix(".md").removesuffix(".yaml")
    return f"{name} {label}".strip()


def action_name(code: str) -> str:
    """The action in words (``draft.approve`` → 审核通过)."""
    return ACTION_NAMES.get(code) or unknown(code)


def _target(action: str, value: str) -> str:
    kind, sep, rest = value.partition(":")
    if action.startswith("case.") and kind == "ticket" and rest.isdigit():
        return f"案件 #{rest}"
    if sep and kind in _TARGETS:
        return _TARGETS[kind].format(rest)
    if action == "feedback.export" or action == "analytics.export":
        return "导出文件"
    return value or "—"


def _detail(action: str, key: str, value: Any) -> str:
    if key == "target" and value == "":
        return ""
    if key == "target" and action == "case.transfer":
        return f"转到：{_TARGET_KINDS.get(value, value)}"
    if key in _COUNTS:
        return f"{value} {_COUNTS[key]}"
    if key == "changes" and isinstance(value, dict):
        return "；".join(d for k, v in value.items() if (d := _detail(action, k, v)))
    label, say = _DETAILS.get(key, (None, None))
    if label is None or say is None:
        return f"{unknown(key)}：{value}"
    return f"{label}：{say(value)}"


@dataclass(frozen=True, slots=True)
class AuditLine:
    """One entry as the page shows it."""

    action: str
    target: str
    details: tuple[str, ...]


def describe(action: str, target: str, detail: Mapping[str, Any] | None) -> AuditLine:
    """An entry's action, target and details in words."""
    details = tuple(text for key, value in (detail or {}).items() if (text := _detail(action, key, value)))
    return AuditLine(action_name(action), _target(action, target), details)
