"""The curated texts around an escalation (``handoff/data/texts.yaml``) and the staff's canned replies."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from handoff.errors import DirectoryError

__all__ = ["CANNED_FILE", "TEXTS_FILE", "CannedReply", "HandoffTexts", "load_canned_replies", "load_texts"]

TEXTS_FILE = Path(__file__).resolve().parent / "data" / "texts.yaml"
CANNED_FILE = Path(__file__).resolve().parent / "data" / "canned_replies.yaml"
_REQUIRED = (
    "emergency", "women_local_unknown", "women_local_known", "ask_village", "village_unknown", "village_ambiguous",
    "village_remembered", "escalated_adviser", "escalated_hotline", "escalated_unconfigured", "out_of_hours",
    "out_of_hours_unknown", "callback_booked", "callback_declined", "phone_invalid", "already_open", "waiting_ack",
    "ended_by_resident", "nothing_to_end", "rating_ask", "rating_thanks", "rating_comment_thanks", "closed_notice",
    "feedback_ask_complaint", "feedback_ask_suggestion", "feedback_thanks", "timeout_apology",
    "timeout_callback_booked", "timeout_ask_phone", "window_notice", "staff_reply", "transferred", "offer_person",
)
_COMMANDS = ("handoff", "end", "complaint", "suggestion", "decline", "unknown_place", "no_comment")
_PUNCTUATION = re.compile(r"[\s，。！？!?,.、~～…「」“”\"']+")


def normalise_command(text: str) -> str:
    """What a typed command is compared on: no spaces or punctuation."""
    return _PUNCTUATION.sub("", text)


@dataclass(frozen=True)
class HandoffTexts:
    """The texts by name; ``commands`` are the exact phrases residents type (normalised)."""

    texts: dict[str, str]
    roles: dict[str, str]
    targets: dict[str, str]
    commands: dict[str, frozenset[str]]

    def __getitem__(self, name: str) -> str:
        return self.texts[name]

    def format(self, key: str, /, **values: Any) -> str:
        return self.texts[key].format(**values)

    def is_command(self, kind: str, text: str) -> bool:
        return normalise_command(text) in self.commands[kind]


def load_texts(path: Path = TEXTS_FILE) -> HandoffTexts:
    """Read the texts; a missing key or a malformed file fails at start with the file and the key."""
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DirectoryError([f"{path}: cannot read: {type(exc).__name__}"]) from None
    if not isinstance(data, dict):
        raise DirectoryError([f"{path}: must be a mapping"])
    missing = [k for k in _REQUIRED if not isinstance(data.get(k), str)]
    missing += [f"commands.{k}" for k in _COMMANDS if not isinstance((data.get("commands") or {}).get(k), list)]
    for group in ("roles", "targets"):
        if not isinstance(data.get(group), dict):
            missing.append(group)
    if missing:
        raise DirectoryError([f"{path}: missing or not text: {', '.join(missing)}"])
    return HandoffTexts(
        texts={k: str(data[k]).strip() for k in _REQUIRED},
        roles={str(k): str(v) for k, v in data["roles"].items()},
        targets={str(k): str(v) for k, v in data["targets"].items()},
        commands={k: frozenset(normalise_command(str(v)) for v in data["commands"][k]) for k in _COMMANDS},
    )


@dataclass(frozen=True, slots=True)
class CannedReply:
    """A reply staff can pick and edit before sending."""

    title: str
    text: str


def load_canned_replies(path: Path = CANNED_FILE) -> list[CannedReply]:
    """The canned replies offered in the console."""
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        return [CannedReply(str(r["title"]).strip(), str(r["text"]).strip()) for r in data["replies"]]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise DirectoryError([f"{path}: cannot read canned replies: {type(exc).__name__}"]) from None
