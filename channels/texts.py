"""What the channels themselves say to a resident, and how they judge a message before answering it.

Every sentence a resident can see from this package lives in ``ChannelTexts``; the app may inject its own
(e.g. a county's own hotline hours). Answers to legal questions come from the ``Conversation`` port, not
from here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = [
    "MENU_ADVISER",
    "MENU_CONSULT",
    "MENU_HOTLINE",
    "MENU_LEGAL_AID",
    "ChannelTexts",
    "is_blank",
]

# Keys of the official account's custom menu ("自定义菜单 / 创建接口", button type ``click``).
MENU_CONSULT = "LAWLINE_CONSULT"
MENU_LEGAL_AID = "LAWLINE_LEGAL_AID"
MENU_ADVISER = "LAWLINE_ADVISER"
MENU_HOTLINE = "LAWLINE_HOTLINE"

_WELCOME = (
    "您好，欢迎关注12348公共法律服务！我是法律咨询智能助手，可以用文字或语音问我这些方面的问题：\n"
    "· 工资：拖欠工资、加班费、工伤\n"
    "· 赡养费、抚养费\n"
    "· 农村土地承包\n"
    "· 邻里纠纷、借钱欠债、婚姻家庭纠纷\n"
    "我会告诉您相关的法律规定（注明第几条）和可以去哪里办。\n"
    "点菜单“法律援助自测”看看能不能申请免费的法律援助；点“找法律顾问”联系您村（社区）的法律顾问；"
    "着急的事请直接拨打12348热线（7×24小时）。"
)

_MENU_REPLIES: Mapping[str, str] = MappingProxyType(
    {
        MENU_CONSULT: (
            "请直接用文字或语音说说您遇到的问题，比如：“老板欠了我三个月工资不给，怎么办？”\n"
            "说得越具体（什么时候、多少钱、对方是谁），回答越准确。"
        ),
        MENU_LEGAL_AID: (
            "法律援助是国家提供的免费法律服务，经济困难或者属于法律规定情形的，可以申请（《法律援助法》）。"
            "请发送“法律援助自测”，我问您几个简单的问题，帮您看看能不能申请；也可以拨打12348热线咨询。"
        ),
        MENU_ADVISER: (
            "每个村（社区）都有法律顾问，可以免费帮您出主意、调解纠纷。"
            "请告诉我您所在的乡镇和村（社区），我帮您找到对应的法律顾问；也可以拨打12348热线查询。"
        ),
        MENU_HOTLINE: (
            "12348公共法律服务热线7×24小时有人接听，用手机或座机直接拨打12348即可。"
            "如果人身安全正受到威胁，请立即拨打110。"
        ),
    }
)

# What the web chat page (/chat, bot.web_chat) says around the conversation: its buttons, the indicator while
# an answer is coming, its errors.
_WEB_CHAT: Mapping[str, str] = MappingProxyType(
    {
        "thinking": "正在查…",
        "rate_question": "这个回答有用吗？",
        "rate_up": "👍 有用",
        "rate_down": "👎 没用",
        "thanks_up": "谢谢您的反馈！",
        "thanks_down": "谢谢，我们会改进这个回答。",
        "options_hint": "点一下就能回复，也可以直接打数字：",
        "staff": "工作人员",
        "large_on": "大字",
        "large_off": "标准字",
        "error": "出了点问题，请稍后再试，或直接拨打 12348。",
        "offline": "网络不太好，消息没有发出去。请稍后再试，或直接拨打 12348。",
        "not_found": "没有找到这段对话（可能已经过了保存期限）。请直接发消息重新开始；着急的话请拨打 12348。",
    }
)


@dataclass(frozen=True, slots=True)
class ChannelTexts:
    """Chinese texts the channels send on their own.

    ``menu_replies`` maps a menu key to the text sent when it is clicked. ``menu_prompts`` maps a menu key
    to a text handed to the ``Conversation`` as if the resident had typed it (it wins over
    ``menu_replies``), e.g. ``{MENU_LEGAL_AID: "法律援助自测"}`` to start the legal-aid form. ``too_long``
    may contain ``{limit}`` (the number of characters accepted). ``web_chat``: the web chat page's own words.
    """

    welcome: str = _WELCOME
    unsupported_media: str = (
        "我现在只能看懂文字和语音，请用文字或语音说说您的问题，比如“老板拖欠工资怎么办”。"
        "如需提交图片、合同等材料，请拨打12348热线问清办理方式。"
    )
    voice_unrecognized: str = "抱歉，这段语音我没听清。请再说一遍，或者直接打字告诉我您的问题。"
    empty_message: str = "您好，请用文字或语音说说您遇到的问题，比如“邻居占了我家的宅基地怎么办”。"
    too_long: str = "您的消息有点长，我一次最多能看{limit}个字。请分几次发送，或者先简单说说最主要的问题。"
    risky_text: str = "抱歉，这条消息里有我不能处理的内容。请换一种说法描述您遇到的问题；着急的话请拨打12348热线。"
    rate_limited: str = "您发得有点快，我还在看前面的消息。请等一分钟再发；着急的话请直接拨打12348热线（7×24小时）。"
    service_error: str = "抱歉，系统暂时出了点问题，请稍后再试，或者直接拨打12348热线（7×24小时）咨询。"
    menu_replies: Mapping[str, str] = field(default_factory=lambda: _MENU_REPLIES)
    menu_prompts: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    web_chat: Mapping[str, str] = field(default_factory=lambda: _WEB_CHAT)

    def too_long_for(self, limit: int) -> str:
        """``too_long`` with the limit filled in."""
        return self.too_long.replace("{limit}", str(limit))


# WeChat's built-in emoticons arrive in text as "[微笑]" / "[Smile]" or as "/::)"-style codes.
_BRACKET_EMOTICON = re.compile(r"\[[^\[\]\s]{1,8}\]")
_SLASH_EMOTICON = re.compile(r"/:[^\s]{1,8}")


def is_blank(text: str) -> bool:
    """True when ``text`` has no letter or digit once WeChat emoticons, emoji and punctuation are removed."""
    stripped = _SLASH_EMOTICON.sub("", _BRACKET_EMOTICON.sub("", text))
    return not any(unicodedata.category(char)[0] in "LN" for char in stripped)
