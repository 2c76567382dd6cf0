"""The self-check through a real Rasa server whose actions (form validation included) the real app serves."""

from __future__ import annotations

import dataclasses
import re

import httpx
import pytest
from sqlalchemy import select

from bot.conversation import conversation_key, sender_id
from bot.eligibility.models import EligibilityDecision, PreApplication
from bot.services import build_services
from channels.ports import ChannelUser
from handoff.models import Ticket
from tests.conftest import free_port

pytestmark = [pytest.mark.slow, pytest.mark.anyio]


async def _say(built, user: ChannelUser, text: str) -> str:
    return "\n".join(await built.conversation.respond(user, text))


async def test_from_the_question_to_a_sent_pre_application(chat):
    built, sessions, base_url = chat
    user = ChannelUser(channel="web", openid="e1" * 16)
    reply = await _say(built, user, "我能申请法律援助吗")
    assert "《中华人民共和国法律援助法》第三十一条" in reply
    assert "是不是很急" in reply and "（请回复：不到7天就到期 / 要马上保全财产或证据 / 不急 / 为什么问这个 / 取消）" in reply
    assert "为了什么事" in await _say(built, user, "不急")  # a typed button title
    assert "到哪一步" in await _say(built, user, "1")  # a button's number: 讨工钱
    assert "哪个省" in await _say(built, user, "还没打官司")
    assert "哪个区县" in await _say(built, user, "重庆")
    assert "请了律师" in await _say(built, user, "黔江区")
    identity = await _say(built, user, "没请")
    assert "是不是下面这些人" in identity and "进城打工的（讨工钱或工伤）" in identity
    result = await _say(built, user, "7")
    for expected in ("【法律援助自测结果】初步判断，以法律援助机构审查为准", "很可能符合法律援助的条件",
                     "免予核查经济困难状况", "法律援助法第三十一条第五项、法律援助法第四十二条第三项",
                     "要带的材料", "请拨打12348查询办理地点", "法律援助法第四十三条", "要不要把这份预申请发给法律援助中心"):
        assert expected in result, expected
    url = re.search(r"预申请表：(\S+)", result).group(1)
    assert url.startswith(base_url + "/eligibility/")
    async with httpx.AsyncClient() as http:
        page = await http.get(url)
    assert page.status_code == 200 and "法律援助预申请表" in page.text and "讨工钱" in page.text
    contact = built.eligibility.flow.contact
    consent = await _say(built, user, "发给法律援助中心")  # consent first, in plain words, before anything is taken
    assert consent == contact["consent"].format(centre="县法律援助中心", days=365) + "\n（请回复：愿意留 / 不留，直接发 / 取消）"
    assert await _say(built, user, "1") == contact["name"] + "\n（请回复：不留了，直接发 / 取消）"
    assert await _say(built, user, "我叫张三") == contact["phone"] + "\n（请回复：不留了，直接发 / 取消）"
    assert await _say(built, user, "12345678") == (contact["phone_no_area_code"] + "\n" + contact["phone"]
                                                   + "\n（请回复：不留了，直接发 / 取消）")  # calm, then asked again
    sent = await _say(built, user, "139 1234 5678")
    with sessions() as session:
        pre = session.scalar(select(PreApplication).where(PreApplication.token == url.rsplit("/", 1)[1]))
        assert pre.submitted_at is not None and pre.forwarded_at is not None
        assert (pre.contact_name, pre.contact_phone) == ("张三", "13912345678") and pre.consented_at is not None
    assert sent == contact["sent_with_contact"].format(centre="县法律援助中心", code=f"{pre.id:06d}", phone="139****5678")
    with sessions() as session:
        pre = session.scalar(select(PreApplication).where(PreApplication.token == url.rsplit("/", 1)[1]))
        assert pre.decision.rules_version == built.eligibility.rules.rules_version
        assert pre.decision.input["statuses"] == ["migrant_worker"]
        # The sent pre-application is a ticket for a person (issue #5), on the resident's own conversation.
        ticket = session.scalar(select(Ticket).where(Ticket.conversation_key == conversation_key(user)))
        assert ticket is not None and ticket.reason == "legal_aid_pre_application"
        assert f"法律援助预申请 {int(pre.id):06d}" in ticket.summary and url in ticket.summary
        assert "13912345678" not in ticket.summary and "张三" not in ticket.summary  # the card goes to a group chat
    async with httpx.AsyncClient() as http:
        assert "13912345678" not in (await http.get(url)).text  # the token's page carries no phone


async def test_declining_still_sends_and_stopping_sends_nothing(chat):
    built, sessions, _ = chat
    user = ChannelUser(channel="web", openid="e5" * 16)
    for text in ("法律援助自测", "不急", "1", "还没打官司", "重庆", "黔江区", "没请"):
        await _say(built, user, text)
    assert "要不要把这份预申请发给法律援助中心" in await _say(built, user, "7")
    contact = built.eligibility.flow.contact
    consent = contact["consent"].format(centre="县法律援助中心", days=365) + "\n（请回复：愿意留 / 不留，直接发 / 取消）"
    assert await _say(built, user, "发给法律援助中心") == consent
    assert contact["name"] in await _say(built, user, "愿意留")
    assert contact["name_invalid"] in await _say(built, user, "老板欠钱怎么办")
    stopped = await _say(built, user, "取消")
    assert stopped == contact["cancelled"].format(reach=contact["reach_unknown"])
    with sessions() as session:
        pre = session.scalars(select(PreApplication).order_by(PreApplication.id.desc())).first()
        assert pre.submitted_at is None and pre.contact_phone is None
    assert await _say(built, user, "发给法律援助中心") == consent
    declined = await _say(built, user, "不愿意")  # ("不想留" alone is heard as danger by the model: reported)
    assert declined == contact["sent_without_contact"].format(centre="县法律援助中心", code=f"{pre.id:06d}",
                                                              reach=contact["reach_unknown"])
    with sessions() as session:
        row = session.get(PreApplication, pre.id)
        assert row.forwarded_at is not None and (row.contact_name, row.contact_phone) == (None, None)
    again = await _say(built, user, "发给法律援助中心")
    assert again == built.eligibility.flow.result["already_sent"].format(code=f"{pre.id:06d}")


async def test_a_step_answered_while_rasa_is_down_is_asked_again_not_lost(chat, services):
    built, _, _ = chat
    settings = services[0]
    user = ChannelUser(channel="web", openid="e4" * 16)
    assert "是不是很急" in await _say(built, user, "法律援助自测")
    down = build_services(dataclasses.replace(settings, rasa_url=f"http://127.0.0.1:{free_port()}",
                                              engine_timeout=1.0))  # nothing listens there: Rasa is down
    try:
        busy = await _say(down, user, "不急")
        assert "这一步的回答还没记上" in busy and "12348" in busy
        assert "《" not in busy  # not a retrieval answer to "不急"
        again = await _say(down, user, "1")  # still the first step's option while Rasa is down
        assert "这一步的回答还没记上" in again
    finally:
        await down.close()
    assert "为了什么事" in await _say(built, user, "不急")  # Rasa is back: the check goes on where it was


async def test_help_back_cancel_and_resume_in_a_new_session(chat):
    built, sessions, _ = chat
    user = ChannelUser(channel="web", openid="e2" * 16)
    assert "是不是很急" in await _say(built, user, "法律援助自测")
    assert "为了什么事" in await _say(built, user, "下个星期就开庭了")  # typed, not a button
    why = await _say(built, user, "为什么问这个")
    assert "法律援助法第三十一条列出了" in why and "为了什么事" in why  # the help, then the question again
    assert "到哪一步" in await _say(built, user, "要赡养费")
    back = await _say(built, user, "上一步")
    assert "为了什么事" in back
    assert "到哪一步" in await _say(built, user, "赡养费抚养费")
    cancelled = await _say(built, user, "取消")
    assert "回复“继续自测”接着做" in cancelled and "到哪一步" not in cancelled
    resumed = await _say(built, user, "继续自测")
    assert "接着做您上次没做完的法律援助自测" in resumed and "到哪一步" in resumed
    # Days later: a new dialogue session (slots carry over in the SQL tracker store, the running form does not).
    await built.conversation.engine.send(sender_id(conversation_key(user)), "/session_start")
    hint = await _say(built, user, "还没打官司")
    assert "上次的法律援助自测还没做完" in hint
    again = await _say(built, user, "继续")
    assert "接着做您上次没做完的法律援助自测" in again and "到哪一步" in again
    assert "哪个省" in await _say(built, user, "还没打官司")
    assert "哪个区县" in await _say(built, user, "3")  # 浙江
    assert "请了律师" in await _say(built, user, "不清楚")
    special = await _say(built, user, "没有")
    assert "被虐待、遗弃或者家暴" in special  # 第三十二条第四项 concerns support claims
    assert "是不是下面这些人" in await _say(built, user, "都不是")
    assert "每个人每月平均收入" in await _say(built, user, "都不是")
    confused = await _say(built, user, "好多好多")
    assert "没听明白是多少钱" in confused and "每个人每月平均收入" in confused
    result = await _say(built, user, "一千五")
    for expected in ("要由法律援助机构进一步审查", "浙江省法律援助条例第八条第二款", "法律援助法第四十四条第一项",
                     "经济困难状况说明表", "以法律援助机构审查为准"):
        assert expected in result, expected
    with sessions() as session:
        decision = session.scalars(select(EligibilityDecision).order_by(EligibilityDecision.id.desc())).first()
    assert decision.input["household_monthly_income_per_capita"] == 1500
    assert decision.input["province"] == "浙江" and decision.decision == "needs_review"
    restarted = await _say(built, user, "法律援助自测")  # a finished check starts afresh
    assert "我问您几个简单的问题" in restarted and "是不是很急" in restarted


async def test_a_person_or_the_hotline_in_the_middle_of_the_check(chat):
    built, _, _ = chat
    user = ChannelUser(channel="web", openid="e3" * 16)
    assert "是不是很急" in await _say(built, user, "法律援助自测")
    assert "为了什么事" in await _say(built, user, "不急")
    hotline = await _say(built, user, "12348热线电话是多少")
    assert "7天都有人接" in hotline and "为了什么事" in hotline  # answered, then the question again
    person = await _say(built, user, "我要转人工")
    assert "没听明白" not in person and "为了什么事" not in person
    resumed = await _say(built, user, "继续自测")
    assert "接着做您上次没做完的法律援助自测" in resumed and "为了什么事" in resumed
