"""What the resident reads: the result as plain Chinese from ``data/flow.yaml``, the articles and the directory."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.eligibility.flow import Flow
from bot.eligibility.model import Decision
from bot.eligibility.ports import LegalAidPoint

__all__ = ["compose_result", "point_line", "result_text"]


def point_line(flow: Flow, point: LegalAidPoint) -> str:
    """"名称：地址；电话 …；办公时间 …", with what the directory does not know said as "call 12348"."""
    missing = str(flow.result["where"]["missing_field"])
    return str(flow.result["where"]["point"]).format(
        name=point.name, address=point.address or missing, phone=point.phone or missing, hours=point.hours or missing,
    )


def _materials(flow: Flow, decision: Decision) -> list[str]:
    texts = flow.result["materials"]
    items = [str(line) for line in texts["always"]]
    if decision.means_test == "exempt":
        items.append(str(texts["exemption"]))
    elif decision.means_test == "not_required" and decision.decision == "eligible":
        items.append(str(texts["no_means_test"]))
    elif decision.means_test in ("passed", "unknown"):
        items.append(str(texts["declaration"]))
    if decision.urgent:
        items.append(str(texts["urgent"]))
    return items


def compose_result(flow: Flow, decision: Decision, points: Sequence[LegalAidPoint], *, matter_label: str,
                   province_name: str) -> dict[str, Any]:
    """The result as data (kept with the pre-application, so its page shows exactly what the resident saw)."""
    result = flow.result
    where = [point_line(flow, p) for p in points] or [str(result["where"]["no_directory"])]
    next_steps = [str(line) for line in result["next"]]
    if decision.urgent and decision.decision != "not_eligible":
        next_steps.insert(0, str(result["next_urgent"]))
    return {
        "title": str(result["title"]),
        "decision": decision.decision,
        "decision_label": str(result["decision"][decision.decision]),
        "means_test": decision.means_test,
        "means_label": str(result["means_test"][decision.means_test]),
        "basis": list(decision.basis),
        "explanation": decision.explanation,
        "materials": _materials(flow, decision) if decision.decision != "not_eligible" else [],
        "where_intro": str(result["where"]["intro"]),
        "where": where if decision.decision != "not_eligible" else [],
        "next": next_steps if decision.decision != "not_eligible" else [],
        "alternatives": [str(line) for line in result["alternatives"]] if decision.decision != "eligible" else [],
        "rules_version": decision.rules_version,
        "province": province_name,
        "matter": matter_label,
    }


def result_text(flow: Flow, result: dict[str, Any], page_url: str | None) -> str:
    """The chat message for ``result`` (WeChat splits long texts itself)."""
    labels = flow.result["labels"]
    parts = [
        str(result["title"]),
        f"{labels['decision']}：{result['decision_label']}\n{labels['means_test']}：{result['means_label']}\n"
        f"{labels['basis']}：{'、'.join(result['basis'])}",
        f"{labels['reasons']}：{result['explanation']}",
    ]
    if result["materials"]:
        numbered = "\n".join(f"{i}. {m}" for i, m in enumerate(result["materials"], 1))
        parts.append(f"{labels['materials']}：\n{numbered}")
    if result["where"]:
        parts.append(f"{labels['where']}：\n{result['where_intro']}\n" + "\n".join(f"· {w}" for w in result["where"]))
    if result["next"]:
        parts.append(f"{labels['next']}：\n" + "\n".join(f"· {n}" for n in result["next"]))
    if result["alternatives"]:
        parts.append(f"{labels['alternatives']}：\n" + "\n".join(f"· {a}" for a in result["alternatives"]))
    if page_url:
        parts.append(str(result_page_line(flow, page_url)))
    return "\n\n".join(parts)


def result_page_line(flow: Flow, url: str) -> str:
    return str(flow.result["page_link"]).format(url=url)
