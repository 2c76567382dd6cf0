"""A readable diff for legal text: line by line, and character by character inside a changed line.

Chinese has no spaces, so a word diff would mark whole sentences; characters show exactly which words an
amendment changed (``十五日`` → ``三十日``).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = ["DiffLine", "diff_lines", "diff_summary"]


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One line of the diff: ``kind`` is ``same``, ``removed``, ``added`` or ``changed``; ``html`` is safe."""

    kind: str
    html: Markup


def _merged_opcodes(old: str, new: str) -> list[tuple[str, int, int, int, int]]:
    """Opcodes with short equal runs (≤ 2 characters) between changes folded into one change.

    ``十五日`` → ``三十日`` then reads ``<del>十五</del><ins>三十</ins>`` instead of a confetti of single
    characters around the shared ``十``.
    """
    merged: list[tuple[str, int, int, int, int]] = []
    codes = difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    for index, (op, a1, a2, b1, b2) in enumerate(codes):
        short_gap = op == "equal" and a2 - a1 <= 2 and 0 < index < len(codes) - 1
        if merged and merged[-1][0] == "replace" and (op != "equal" or short_gap):
            _, p1, _, q1, _ = merged[-1]
            merged[-1] = ("replace", p1, a2, q1, b2)
        elif op != "equal":
            merged.append(("replace", a1, a2, b1, b2))
        else:
            merged.append((op, a1, a2, b1, b2))
    return merged


def _inline(old: str, new: str) -> Markup:
    parts: list[str] = []
    for op, a1, a2, b1, b2 in _merged_opcodes(old, new):
        if op == "equal":
            parts.append(str(escape(old[a1:a2])))
            continue
        if a2 > a1:
            parts.append(f"<del>{escape(old[a1:a2])}</del>")
        if b2 > b1:
            parts.append(f"<ins>{escape(new[b1:b2])}</ins>")
    return Markup("".join(parts))


def diff_lines(before: str, after: str) -> list[DiffLine]:
    """The diff of two texts as lines to show; unchanged lines are kept for context."""
    old, new = before.splitlines(), after.splitlines()
    lines: list[DiffLine] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            lines.extend(DiffLine("same", Markup(escape(line))) for line in old[a1:a2])
        elif op == "replace":
            pairs = min(a2 - a1, b2 - b1)
            for i in range(pairs):
                lines.append(DiffLine("changed", _inline(old[a1 + i], new[b1 + i])))
            lines.extend(DiffLine("removed", Markup(f"<del>{escape(x)}</del>")) for x in old[a1 + pairs:a2])
            lines.extend(DiffLine("added", Markup(f"<ins>{escape(x)}</ins>")) for x in new[b1 + pairs:b2])
        elif op == "delete":
            lines.extend(DiffLine("removed", Markup(f"<del>{escape(x)}</del>")) for x in old[a1:a2])
        else:
            lines.extend(DiffLine("added", Markup(f"<ins>{escape(x)}</ins>")) for x in new[b1:b2])
    return lines


def diff_summary(before: str, after: str) -> str:
    """``+12 −3 字`` — how much changed, for lists."""
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    added = removed = 0
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op != "equal":
            removed += a2 - a1
            added += b2 - b1
    return f"+{added} −{removed} 字"
