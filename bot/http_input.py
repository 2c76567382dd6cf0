"""What the app's JSON endpoints accept, on top of ``channels.json_body``, and how a resident is told no.

Bodies are read by ``channels.json_body`` (the one reader, shared with the mini-program). Here: the calm
Chinese replies of the residents' endpoints (web chat, 👍/👎), and the shape of a Rasa action call, which
rasa-sdk's executor does not check (a call without ``domain`` or with a list for ``tracker`` crashed it).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from channels.json_body import BodyRejected, optional, required

__all__ = ["BAD_CHARACTERS", "BAD_FORMAT", "TOO_LONG", "check_action_call", "resident_refusal"]

TOO_LONG = "消息太长了，请分几次发送。"
BAD_FORMAT = "消息格式不对，请刷新页面后再试。如有急事，请直接拨打 12348 公共法律服务热线。"
# A lone surrogate is what is left of an emoji cut in half (a 5,000-character limit can split one).
BAD_CHARACTERS = "消息里有无法识别的字符（可能是不完整的表情符号），请删掉后重新发送。"


def resident_refusal(rejected: BodyRejected) -> JSONResponse:
    """The calm reply to a refused body: what to do, never what was sent."""
    if rejected.status == 413:
        text = TOO_LONG
    elif rejected.reason == "lone_surrogate":
        text = BAD_CHARACTERS
    else:
        text = BAD_FORMAT
    return JSONResponse({"error": text}, status_code=rejected.status)


def check_action_call(call: dict[str, Any]) -> str:
    """The action's name, once the fields rasa-sdk and Lawline's actions read have the types Rasa sends.

    Rasa 3.6 sends ``domain`` with every call unless ``enable_selective_domain`` is set (it is not in
    ``nlu/rasa/endpoints.yml``), so a call without one is refused rather than run on a stale domain.
    """
    name = required(call, "next_action", str)
    domain = required(call, "domain", dict)
    for key in ("responses", "slots", "forms"):
        optional(domain, key, dict)
    tracker = required(call, "tracker", dict)
    required(tracker, "sender_id", str)
    for key, kind in (("slots", dict), ("events", list), ("active_loop", dict), ("paused", bool), ("stack", list)):
        optional(tracker, key, kind, nullable=False)  # rasa-sdk's Tracker keeps a null and then fails on it
    for key in ("followup_action", "latest_action_name", "user_id"):
        optional(tracker, key, str)
    latest = optional(tracker, "latest_message", dict) or {}
    optional(latest, "text", str)
    intent = optional(latest, "intent", dict) or {}
    optional(intent, "name", str)
    entities = optional(latest, "entities", list) or []
    if not all(isinstance(entity, dict) for entity in entities):
        raise BodyRejected(400, "wrong_type:entities")
    return name
