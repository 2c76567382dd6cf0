"""Reading the contact a resident leaves when sending a pre-application: consent, a name, a phone number.

Pure functions for the contact form's validation (``bot.eligibility.contact_actions``). The centre calls the
number, so only what can be dialled is stored: a mainland mobile (11 digits, 1[3-9]…, an optional +86 in
front) or a landline with its area code (0 + 2–3 digits, then 7–8 digits: 023-12345678, （023）12345678).
A landline without its area code, or anything else with digits, is a bad number, re-asked calmly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["PhoneReading", "mask_phone", "read_consent", "read_name", "read_phone", "split_name_and_phone"]

_SEPARATORS = re.compile(r"[\s\-－—()（）.·]")
_MOBILE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")
_LANDLINE = re.compile(r"^(0\d{2,3})(\d{7,8})$")
_LOCAL_ONLY = re.compile(r"^\d{7,8}$")
_NUMBER_IN_TEXT = re.compile(r"(?:\+?86[\s-]?)?[(（]?0?\d[\d\s\-－—()（）]{5,18}\d")
_NAME_PREFIX = re.compile(r"^(我叫|我是|名叫|叫|姓名是?|名字是?|本人)[:：\s]*")
_NAME = re.compile(r"^[\u4e00-\u9fff]{2,6}$"  # 张三, 欧阳娜娜
                   r"|^[\u4e00-\u9fff]{1,10}·[\u4e00-\u9fff·]{1,20}$"  # 阿依古丽·买买提
                   r"|^[A-Za-z][A-Za-z .'-]{1,38}$")
_STRIP = "。.!！?？,，、~～… \t\r\n"

Kind = Literal["mobile", "landline", "no_area_code", "invalid"]


@dataclass(frozen=True, slots=True)
class PhoneReading:
    """``digits`` is what is stored (only for ``mobile`` and ``landline``)."""

    kind: Kind
    digits: str = ""

    @property
    def valid(self) -> bool:
        return self.kind in ("mobile", "landline")


def read_phone(text: str) -> PhoneReading:
    """The phone number ``text`` is, or why it is not one the centre can dial."""
    digits = _SEPARATORS.sub("", text.strip(_STRIP).translate(_FULL_WIDTH))
    mobile = _MOBILE.match(digits)
    if mobile:
        return PhoneReading("mobile", mobile.group(1))
    if _LANDLINE.match(digits) and not digits.startswith("00"):
        return PhoneReading("landline", digits)
    if _LOCAL_ONLY.match(digits):
        return PhoneReading("no_area_code")
    return PhoneReading("invalid")


_FULL_WIDTH = str.maketrans("０１２３４５６７８９＋", "0123456789+")


def read_name(text: str) -> str | None:
    """A name as the resident gave it ("我叫张三" → 张三; 阿依古丽·买买提), or None when it is not one."""
    said = _NAME_PREFIX.sub("", text.strip(_STRIP))
    return said if _NAME.match(said) else None


def split_name_and_phone(text: str) -> tuple[str, PhoneReading | None]:
    """"张三 13912345678" given at once: the words without the number, and the number read (None if none)."""
    match = _NUMBER_IN_TEXT.search(text.translate(_FULL_WIDTH))
    if match is None:
        return text, None
    rest = (text[:match.start()] + " " + text[match.end():]).strip(_STRIP)
    return re.sub(r"(电话|手机|号码)(是|号)?[:：]?$", "", rest).strip(_STRIP), read_phone(match.group())


def read_consent(text: str, yes_words: tuple[str, ...], no_words: tuple[str, ...]) -> bool | None:
    """True (leave a name and phone), False (send without them), None when ``text`` says neither plainly.

    No-words are matched first: "不愿意" contains "愿意".
    """
    said = text.strip(_STRIP)
    if any(word in said for word in no_words):
        return False
    if said in yes_words or any(len(word) >= 2 and word in said for word in yes_words):
        return True
    return None


def mask_phone(digits: str) -> str:
    """139****5678 / 023****5678: what the resident is shown back (the whole number stays with the staff)."""
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
