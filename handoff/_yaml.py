"""YAML with line numbers, so that an editor's mistake is reported as ``file:line: reason``.

Mappings load as ``Mapping`` (a dict that knows the line of each key) and sequences as ``Sequence`` (a
list that knows the line of each item). ``Reader`` walks them collecting problems instead of stopping at
the first, so one run of ``lawline handoff check`` lists every mistake in a file.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, SequenceNode

__all__ = ["Mapping", "Reader", "Sequence", "load_yaml"]

_PHONE = re.compile(r"^[0-9][0-9\- ]{1,30}[0-9]$")


class Mapping(dict[str, Any]):
    """A YAML mapping that remembers where it and each of its keys are."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = 0
        self.key_lines: dict[str, int] = {}


class Sequence(list[Any]):
    """A YAML sequence that remembers where it and each of its items are."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = 0
        self.item_lines: list[int] = []


class _Loader(yaml.SafeLoader):
    """Safe loading; dates stay text so that a wrong one is reported by the reader, not by the parser."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _mapping(loader: _Loader, node: MappingNode) -> Mapping:
    result = Mapping()
    result.line = node.start_mark.line + 1
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        result[str(key)] = loader.construct_object(value_node, deep=True)
        result.key_lines[str(key)] = key_node.start_mark.line + 1
    return result


def _sequence(loader: _Loader, node: SequenceNode) -> Sequence:
    result = Sequence(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def load_yaml(path: Path) -> tuple[Any, list[str]]:
    """The file's content, or ``None`` and the reason (``file:line: …``) when it is not readable YAML."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [f"{path}: cannot read: {type(exc).__name__}"]
    try:
        return yaml.load(text, Loader=_Loader), []  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else 0
        return None, [f"{path}:{line}: not valid YAML: {exc.problem}"]
    except (yaml.YAMLError, ValueError) as exc:
        return None, [f"{path}: not valid YAML: {type(exc).__name__}"]


class Reader:
    """Typed access to one file's values; every problem is collected as ``file:line: reason``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[str] = []

    def problem(self, line: int, reason: str) -> None:
        self.problems.append(f"{self.path}:{line}: {reason}")

    @staticmethod
    def line_of(container: Any, key: str | int | None = None) -> int:
        if isinstance(container, Mapping):
            return container.key_lines.get(str(key), container.line) if key is not None else container.line
        if isinstance(container, Sequence):
            if isinstance(key, int) and 0 <= key < len(container.item_lines):
                return container.item_lines[key]
            return container.line
        return 0

    def mapping(self, parent: Any, key: str, *, required: bool = True, allowed: set[str] | None = None) -> Mapping:
        value = parent.get(key) if isinstance(parent, dict) else None
        empty = Mapping()
        empty.line = self.line_of(parent, key) or 1
        if value is None:
            if required:
                self.problem(empty.line, f"'{key}' is required")
            return empty
        if not isinstance(value, Mapping):
            self.problem(empty.line, f"'{key}' must be a mapping (key: value lines)")
            return empty
        if allowed is not None:
            self.check_keys(value, allowed, key)
        return value

    def check_keys(self, mapping: Mapping, allowed: set[str], where: str) -> None:
        for unknown in sorted(set(mapping) - allowed):
            self.problem(self.line_of(mapping, unknown), f"unknown key '{unknown}' in {where} "
                                                         f"(allowed: {', '.join(sorted(allowed))})")

    def sequence(self, parent: Any, key: str, *, required: bool = False) -> Sequence:
        value = parent.get(key) if isinstance(parent, dict) else None
        if value is None:
            if required:
                self.problem(self.line_of(parent, key), f"'{key}' is required")
            return Sequence()
        if not isinstance(value, Sequence):
            self.problem(self.line_of(parent, key), f"'{key}' must be a list (lines starting with '- ')")
            return Sequence()
        return value

    def text(self, parent: Mapping, key: str, *, required: bool = True, max_chars: int = 200) -> str | None:
        """A non-empty string; ``null`` means "not configured" where allowed (``required=False``)."""
        value = parent.get(key)
        line = self.line_of(parent, key)
        if value is None:
            if required:
                self.problem(line, f"'{key}' is required")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.problem(line, f"'{key}' must be text")
            return None
        text = str(value).strip()
        if not text:
            if required:
                self.problem(line, f"'{key}' must not be empty")
            return None
        if len(text) > max_chars:
            self.problem(line, f"'{key}' is longer than {max_chars} characters")
            return None
        return text

    def phone(self, parent: Mapping, key: str) -> str | None:
        text = self.text(parent, key, required=False, max_chars=40)
        if text is not None and not _PHONE.match(text):
            self.problem(self.line_of(parent, key), f"'{key}' must be digits (and dashes), like 023-12345678 "
                                                    "or 12348; write null when not known")
            return None
        return text

    def flag(self, parent: Mapping, key: str, default: bool) -> bool:
        value = parent.get(key, default)
        if not isinstance(value, bool):
            self.problem(self.line_of(parent, key), f"'{key}' must be true or false")
            return default
        return value

    def number(self, parent: Mapping, key: str, default: float, low: float, high: float) -> float:
        value = parent.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            self.problem(self.line_of(parent, key), f"'{key}' must be a number between {low:g} and {high:g}")
            return default
        return float(value)

    def texts(self, parent: Mapping, key: str) -> tuple[str, ...]:
        items = self.sequence(parent, key)
        out = []
        for index, item in enumerate(items):
            if not isinstance(item, str | int) or isinstance(item, bool) or not str(item).strip():
                self.problem(self.line_of(items, index), f"items of '{key}' must be text")
                continue
            out.append(str(item).strip())
        return tuple(out)

    def day(self, value: Any, line: int) -> dt.date | None:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
        self.problem(line, f"{value!r} is not a date (write YYYY-MM-DD)")
        return None
