"""Mask personal data in residents' free text before anyone in the console reads or exports it (issue #16).

``mask_personal_data(text, level)`` is the one function every console page, export and sample goes
through; *how much* a given account sees is decided by ``bot.console.access.disclosure`` (the rule, by role
and by who handles the case), so that PIPL's "minimum necessary" (个人信息保护法 第六条) is applied in one place:

- ``"all"`` (the default): contact numbers, ID and card numbers, e-mail, WeChat ids **and** names — for
  editors, reviewers, the feedback queue, exports and analytics samples, which never need them.
- ``"numbers"``: the numbers, e-mail and WeChat ids masked, names kept — a case page for whoever may open it.
- ``"whole"``: nothing masked — only the person handling the case, after the audited "显示完整号码".

Masks mainland mobile numbers, landlines with an area code (``0571-88886666``, ``（0571）88886666``),
resident ID numbers (18 digits, last may be X), bank card numbers, e-mail addresses, WeChat ids given
after 微信, and personal names where Chinese marks them (我叫…, 姓名…, 名叫…, a surname followed by
先生/女士/师傅/老板…). Names are a heuristic: it errs on the side of masking. Place names (villages,
towns) are kept — they are what the analytics count.
"""

from __future__ import annotations

import re
from typing import Literal

__all__ = ["LEVELS", "Level", "mask_personal_data"]

Level = Literal["all", "numbers", "whole"]
LEVELS: tuple[Level, ...] = ("all", "numbers", "whole")

_ID = re.compile(r"(?<![0-9])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx](?![0-9])")
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?![0-9])")
_LANDLINE = re.compile(r"(?<![0-9])(?P<area>[(（]0\d{2,3}[)）]|0\d{2,3})(?P<local>[- ]?\d{3,4}[- ]?\d{4})(?![0-9])")
_CARD = re.compile(r"(?<![0-9])\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{4}(?:[ -]?\d{1,3})?(?![0-9])")
_LONG_NUMBER = re.compile(r"(?<![0-9])\d{11,}(?![0-9])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_WECHAT = re.compile(r"(微信号?|vx|VX|wx|WX)[:：\s]*[A-Za-z][-_A-Za-z0-9]{5,19}")
_NAME_AFTER = re.compile(r"(我叫|名叫|叫做|姓名是?|名字是?|本人|我是)[:：\s]*([\u4e00-\u9fff]{2,3})")
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔"
    "钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤冉"
)
_TITLES = "先生|女士|师傅|老板|大爷|大娘|大妈|大哥|大姐|老师|医生|律师|经理|书记|主任"
_TITLED = re.compile(rf"([{_SURNAMES}])[\u4e00-\u9fff]{{0,2}}?({_TITLES})")
_FULL_NAME = re.compile(rf"(?<![\u4e00-\u9fff])([{_SURNAMES}])([\u4e00-\u9fff]{{1,2}})(?=[，,。；;、\s]|$)")
# Words that look like "surname + 1-2 characters" but are ordinary words residents use.
_NOT_NAMES = frozenset("""
王法 李子 张口 刘海 陈述 杨树 黄金 赵家 吴江 周末 周一 周二 周三 周四 周五 周六 周日 周围 徐州 孙子
孙女 马上 马路 朱红 胡说 郭外 何时 何处 高兴 高速 高中 林地 罗马 郑州 梁上 谢谢 宋朝 唐朝 许可 韩国
冯某 邓某 曹某 彭某 曾经 肖像 田地 田里 董事 袁某 潘某 于是 蒋某 蔡某 余额 余款 杜绝 叶子 程序 苏州
魏某 吕某 丁某 任何 任务 沈阳 姚某 卢某 姜某 崔某 钟点 钟头 谭某 陆续 汪某 范围 金额 金钱 石头 廖某
贾某 夏天 韦某 付款 付钱 方面 方法 方便 白天 白白 邹某 孟某 熊某 秦某 邱某 江边 尹某 薛某 闫某 段时
雷某 侯某 龙某 史某 陶某 黎明 贺某 顾问 毛钱 郝某 龚某 邵某 万元 万块 钱款 严重 覃某 武汉 戴某 莫名
孔某 向他 向她 向我 汤某 冉某 高利 方式 程度
""".split())


def _mask_name(match: re.Match[str]) -> str:
    word = match.group(0)
    if word in _NOT_NAMES or word.endswith("某"):
        return word
    return match.group(1) + "*" * (len(word) - 1)


def mask_personal_data(text: str | None, level: Level = "all") -> str:
    """``text`` as ``level`` allows: phone, ID and card numbers, e-mail, WeChat ids (and names) become ``*``."""
    if not text or level == "whole":
        return text or ""
    text = _ID.sub(lambda m: m.group(0)[:3] + "*" * 15, text)
    text = _EMAIL.sub("***@***", text)
    text = _WECHAT.sub(lambda m: m.group(1) + "：******", text)
    text = _MOBILE.sub(lambda m: m.group(0)[:3] + "********", text)
    text = _CARD.sub("****", text)
    text = _LANDLINE.sub(lambda m: m.group("area") + re.sub(r"\d", "*", m.group("local")), text)
    text = _LONG_NUMBER.sub(lambda m: m.group(0)[:3] + "*" * (len(m.group(0)) - 3), text)
    if level == "numbers":
        return text
    text = _NAME_AFTER.sub(lambda m: m.group(1) + m.group(2)[0] + "*" * (len(m.group(2)) - 1), text)
    text = _TITLED.sub(lambda m: m.group(1) + "*" * (len(m.group(0)) - 1 - len(m.group(2))) + m.group(2), text)
    return _FULL_NAME.sub(_mask_name, text)
