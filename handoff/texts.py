"""The curated texts around an escalation (``handoff/data/texts.yaml``) and the staff's canned replies."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from handoff.errors import DirectoryError

__all__ = ["CANNED_FILE", "TEXTS_FILE", "CannedReply", "EmergencyTexts", "HandoffTexts", "load_canned_replies",
           "load_texts"]

TEXTS_FILE = Path(__file__).resolve().parent / "data" / "texts.yaml"
CANNED_FILE = Path(__file__).resolve().parent / "data" / "canned_replies.yaml"
_REQUIRED = (
    "safety_check", "women_local_unknown", "women_local_known", "ask_village", "village_unknown", "village_ambiguous",
    "village_remembered", "escalated_adviser", "escalated_hotline", "escalated_unconfigured", "out_of_hours",
    "out_of_hours_unknown", "callback_booked", "callback_declined", "phone_invalid", "already_open", "waiting_ack",
    "ended_by_resident", "nothing_to_end", "rating_ask", "rating_thanks", "rating_comment_thanks", "closed_notice",
    "feedback_ask_complaint", "feedback_ask_suggestion", "feedback_thanks", "timeout_apology",
    "timeout_callback_booked", "timeout_ask_phone", "window_notice", "staff_reply", "transferred", "offer_person",
    "ended_unattended", "handoff_dropped", "village_waiting", "rating_skipped",
)
_COMMANDS = ("handoff", "end", "complaint", "suggestion", "decline", "unknown_place", "no_comment", "in_danger")
_PHRASES = ("giving_up", "question_words")  # parts of a message, not whole commands
GIVING_UP_CHARS = 15  # a longer message that contains 算了 … says more than "I give up"
_PUNCTUATION = re.compile(r"[\s，。！？!?,.、~～…「」“”\"']+")


def normalise_command(text: str) -> str:
    """What a typed command is compared on: no spaces or punctuation."""
    return _PUNCTUATION.sub("", text)


@dataclass(frozen=True)
class EmergencyTexts:
    """The first reply to danger, put together from the lines each kind of danger asks for."""

    head: str
    lines: dict[str, str]
    kinds: dict[str, tuple[str, ...]]  # the lines of each kind, in the order they are said
    tail: str
    resume: str

    def compose(self, kinds: list[str], *, in_form: bool = False, **values: Any) -> str:
        """Head, the lines of each of ``kinds`` in turn (each line once), tail: the first kind speaks first."""
        wanted = dict.fromkeys(line for kind in kinds for line in self.kinds.get(kind, ("police",)))
        body = [self.lines[name].format(**values) for name in wanted]
        return "\n".join([self.head, *body, self.tail, *([self.resume] if in_form else [])])


@dataclass(frozen=True)
class HandoffTexts:
    """The texts by name; ``commands`` are the exact phrases residents type (normalised).

    ``phrases`` are parts of a message: giving up on what the desk asked (算了, 太麻烦 …), or asking a question
    of one's own (吗, 怎么办 …) instead of answering it.
    """

    texts: dict[str, str]
    roles: dict[str, str]
    targets: dict[str, str]
    case_states: dict[str, str]  # a ticket's state in the resident's words
    commands: dict[str, frozenset[str]]
    emergency: EmergencyTexts
    phrases: dict[str, tuple[str, ...]]

    def __getitem__(self, name: str) -> str:
        return self.texts[name]

    def format(self, key: str, /, **values: Any) -> str:
        return self.texts[key].format(**values)

    def is_command(self, kind: str, text: str) -> bool:
        return normalise_command(text) in self.commands[kind]

    def gives_up(self, text: str) -> bool:
        """A short message that gives up on the desk's question ("算了不转了", "太麻烦了")."""
        said = normalise_command(text)
        return len(said) <= GIVING_UP_CHARS and any(p in said for p in self.phrases["giving_up"])

    def asks(self, text: str) -> bool:
        """A message that asks something of its own ("借条过了三年还管用吗")."""
        return any(p in text for p in self.phrases["question_words"])


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
    missing += [f"phrases.{k}" for k in _PHRASES if not isinstance((data.get("phrases") or {}).get(k), list)]
    for group in ("roles", "targets", "case_states"):
        if not isinstance(data.get(group), dict):
            missing.append(group)
    emergency, problems = _emergency(data.get("emergency"))
    if missing:
        problems.insert(0, f"missing or not text: {', '.join(missing)}")
    if problems:
        raise DirectoryError([f"{path}: {p}" for p in problems])
    assert emergency is not None
    return HandoffTexts(
        texts={k: str(data[k]).strip() for k in _REQUIRED},
        roles={str(k): str(v) for k, v in data["roles"].items()},
        targets={str(k): str(v) for k, v in data["targets"].items()},
        case_states={str(k): str(v) for k, v in data["case_states"].items()},
        commands={k: frozenset(normalise_command(str(v)) for v in data["commands"][k]) for k in _COMMANDS},
        emergency=emergency,
        phrases={k: tuple(str(v) for v in data["phrases"][k] if str(v)) for k in _PHRASES},
    )


def _emergency(node: Any) -> tuple[EmergencyTexts | None, list[str]]:
    from handoff.signals import DANGER_KINDS

    if not isinstance(node, dict):
        return None, ["emergency: give head, lines, kinds, tail and resume"]
    problems = [f"emergency.{k}: missing or not text" for k in ("head", "tail", "resume")
                if not isinstance(node.get(k), str)]
    lines, kinds = node.get("lines"), node.get("kinds")
    if not isinstance(lines, dict) or not all(isinstance(v, str) for v in lines.values()):
        return None, [*problems, "emergency.lines: a mapping of name: text"]
    if not isinstance(kinds, dict):
        return None, [*problems, "emergency.kinds: a mapping of kind: [line names]"]
    for kind in DANGER_KINDS:
        names = kinds.get(kind)
        if not isinstance(names, list) or not names:
            problems.append(f"emergency.kinds.{kind}: missing (list the lines this kind of danger needs)")
        else:
            problems += [f"emergency.kinds.{kind}: no line named {n!r}" for n in names if n not in lines]
    problems += [f"emergency.kinds.{k}: not a kind of danger" for k in kinds if k not in DANGER_KINDS]
    if problems:
        return None, problems
    return EmergencyTexts(str(node["head"]).strip(), {str(k): str(v).strip() for k, v in lines.items()},
                          {str(k): tuple(str(n) for n in v) for k, v in kinds.items()}, str(node["tail"]).strip(),
                          str(node["resume"]).strip()), []


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
