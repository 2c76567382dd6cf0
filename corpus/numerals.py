"""Chinese numerals as used in article numbers (第一千二百六十条 ↔ 1260)."""

from __future__ import annotations

__all__ = ["cn_to_int", "int_to_cn"]

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_DIGITS = "零一二三四五六七八九"


def cn_to_int(text: str) -> int:
    """Convert a Chinese numeral below 10,000 (``一千二百六十`` or ``十五``) to an int.

    Raises ``ValueError`` for anything that is not such a numeral.
    """
    if not text:
        raise ValueError("empty numeral")
    if text.isdigit():
        return int(text)
    total, digit = 0, None
    for char in text:
        if char in _DIGITS:
            digit = _DIGITS[char]
        elif char in _UNITS:
            total += (1 if digit is None else digit) * _UNITS[char]
            digit = None
        else:
            raise ValueError(f"not a Chinese numeral: {text!r}")
    return total + (digit or 0)


def int_to_cn(number: int) -> str:
    """Write ``number`` (1–9999) the way statutes number their articles: 10 → 十, 105 → 一百零五."""
    if not 0 < number < 10000:
        raise ValueError(f"article numbers run from 1 to 9999, got {number}")
    parts: list[str] = []
    pending_zero = False
    for unit_value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = number // unit_value % 10
        if digit == 0:
            pending_zero = bool(parts)
            continue
        if pending_zero:
            parts.append("零")
            pending_zero = False
        if unit == "十" and digit == 1 and not parts:
            parts.append("十")
        else:
            parts.append(_CN_DIGITS[digit] + unit)
    return "".join(parts)
