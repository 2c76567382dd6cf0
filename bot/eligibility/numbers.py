"""Money amounts as residents type or dictate them: "一千五" → 1500, "八百多块" → 800, "1.2万" → 12000."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["parse_amount"]

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "俩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
           "九": 9, **{str(d): d for d in range(10)}}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_ZERO_WORDS = ("没有收入", "没收入", "没有任何收入", "一分钱都没有", "一分没有", "没有钱", "没钱", "没有")
# Words around a number that do not change it ("大概一千五百块左右").
_NOISE = re.compile(
    r"(大概|大约|大致|差不多|估计|可能|应该|约|每个人|每人|人均|平均|一家人|全家|家里|家庭|我们|我家|俺家|"
    r"每个月|每月|一个月|一月|月收入|收入|工资|有|只有|就|才|总共|一共|的样子|左右|上下|来块|多块|块钱|块|元|钱|吧|啊|呢|"
    r"人民币|RMB|rmb|[,，。!！?？\s])"
)
_ARABIC = re.compile(r"^(\d+(?:\.\d+)?)(万|千|百|k|K|w|W)?多?$")


def _small(text: str) -> int:
    """A Chinese numeral below 10,000, colloquial included ("一千五" is 1500, "一千零五" is 1005)."""
    total, digit, last_unit = 0, None, 0
    for char in text:
        if char in _DIGITS:
            if digit is not None:
                raise ValueError("two digits in a row")
            digit = _DIGITS[char] or None  # 零 only holds a place
        elif char in _UNITS:
            unit = _UNITS[char]
            if last_unit and unit >= last_unit:
                raise ValueError("units out of order")
            total += (1 if digit is None else digit) * unit
            digit, last_unit = None, unit
        else:
            raise ValueError(f"not a numeral: {char}")
    if digit is not None:
        # "一千五": a digit straight after 百/千 stands for the next lower unit.
        colloquial = len(text) >= 2 and _UNITS.get(text[-2], 0) >= 100
        total += digit * (last_unit // 10) if colloquial else digit
    return total


def _chinese(text: str) -> int:
    if "万" in text:
        high, _, low = text.partition("万")
        value = (_small(high) if high else 1) * 10000
        if low:
            # "一万二" → 12000; "一万零五百" → 10500
            colloquial = len(low) == 1 and low in _DIGITS and low != "零"
            value += _small(low) * 1000 if colloquial else _small(low.lstrip("零"))
        return value
    return _small(text)


def parse_amount(text: str) -> float:
    """Yuan in ``text``; raises ``ValueError`` when it is not one clear amount ("几百", "五六百", "不知道")."""
    cleaned = unicodedata.normalize("NFKC", text).strip()
    if not cleaned or len(cleaned) > 40:
        raise ValueError("no amount")
    for word in _ZERO_WORDS:
        if cleaned.replace(" ", "") in (word, word + "。"):
            return 0.0
    number = re.sub(r"多$", "", _NOISE.sub("", cleaned.replace("。", "")))
    number = re.sub(r"(?<=\d)\.(?=\D|$)", "", number)
    if not number:
        raise ValueError("no amount")
    match = _ARABIC.match(number)
    if match:
        value = float(match.group(1))
        unit = (match.group(2) or "").lower()
        value *= {"万": 10000, "w": 10000, "千": 1000, "k": 1000, "百": 100}.get(unit, 1)
        return value
    if "几" in number or "半" in number:
        raise ValueError("not a clear amount")
    return float(_chinese(number.rstrip("多")))
