"""The forms' unhappy paths through a real Rasa server: giving up in one's own words, a legal question in the
middle, free text that is only a guess, and the handoff's village question and rating.

Messages written by the team for these tests (not from tests/data/eligibility, the measurement set).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.eligibility.models import EligibilityDecision
from bot.services import build_services
from channels.ports import ChannelUser
from handoff.models import Feedback, Ticket
from tests.handoff.conftest import always_on_duty_directory

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

ASKS_MATTER, ASKS_STAGE, ASKS_SPECIAL = "为了什么事", "到哪一步", "您的情况是不是下面这样"


async def _say(built, user: ChannelUser, text: str) -> str:
    return "\n".join(await built.conversation.respond(user, text))


async def _to_special(built, user: ChannelUser) -> None:
    """A support claim in 重庆 without a lawyer: the next question is 第三十二条's special situations."""
    for text, expected in (("法律援助自测", "是不是很急"), ("不急", ASKS_MATTER), ("赡养费抚养费", ASKS_STAGE),
                           ("还没打官司", "哪个省"), ("重庆", "哪个区县"), ("黔江区", "请了律师"), ("没请", ASKS_SPECIAL)):
        assert expected in await _say(built, user, text)


def _decisions(sessions) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(EligibilityDecision)))


@pytest.mark.parametrize(("openid", "giving_up"), [("u1", "太麻烦了"), ("u2", "先这样"), ("u3", "不用了")])
async def test_giving_up_in_ones_own_words_ends_the_check_kindly(chat, openid, giving_up):
    built, _, _ = chat
    user = ChannelUser(channel="web", openid=openid * 16)
    assert "是不是很急" in await _say(built, user, "法律援助自测")
    assert ASKS_MATTER in await _say(built, user, "不急")
    stopped = await _say(built, user, giving_up)  # the NLU's elig_cancel, goodbye and deny
    assert "不测了也没关系" in stopped and "回复“继续自测”接着做" in stopped
    assert "没听明白" not in stopped and ASKS_MATTER not in stopped
    resumed = await _say(built, user, "继续自测")
    assert "接着做您上次没做完的法律援助自测" in resumed and ASKS_MATTER in resumed


async def test_a_legal_question_in_the_middle_is_answered_and_continue_resumes_there(chat):
    built, _, _ = chat
    user = ChannelUser(channel="web", openid="u4" * 16)
    assert "是不是很急" in await _say(built, user, "法律援助自测")
    assert ASKS_MATTER in await _say(built, user, "不急")
    assert ASKS_STAGE in await _say(built, user, "1")
    answered = await _say(built, user, "我问一下，借给亲戚的钱没写欠条，还能要回来吗")
    assert "《" in answered and "没听明白" not in answered  # the answer action's cited answer
    assert "回复「继续」接着测" in answered and ASKS_STAGE not in answered
    resumed = await _say(built, user, "继续")
    assert "接着做您上次没做完的法律援助自测" in resumed and ASKS_STAGE in resumed
    assert "哪个省" in await _say(built, user, "还没打官司")  # the answers before the question were kept


async def test_a_legal_question_at_the_first_question_resumes_without_starting_over(chat):
    built, _, _ = chat
    user = ChannelUser(channel="web", openid="u5" * 16)
    assert "是不是很急" in await _say(built, user, "法律援助自测")
    answered = await _say(built, user, "包工头欠了我们三个月工钱不给，该怎么办")
    assert "《" in answered and "回复「继续」接着测" in answered
    resumed = await _say(built, user, "继续")
    assert "是不是很急" in resumed and "我问您几个简单的问题" not in resumed


async def test_a_hint_at_an_option_that_skips_the_means_test_is_asked_back(chat):
    built, sessions, _ = chat
    user = ChannelUser(channel="web", openid="u6" * 16)
    await _to_special(built, user)
    before = _decisions(sessions)
    asked = await _say(built, user, "闺女也不管我")
    assert "您是说「被虐待、遗弃或者家暴」吗？" in asked and "（请回复：是 / 不是" in asked
    assert "【法律援助自测结果】" not in asked and _decisions(sessions) == before  # nothing stored yet
    again = await _say(built, user, "不是")
    assert ASKS_SPECIAL in again and "【法律援助自测结果】" not in again
    assert "您是说「被虐待、遗弃或者家暴」吗？" in await _say(built, user, "老伴不理我")
    result = await _say(built, user, "对的")
    assert "【法律援助自测结果】" in result and "不看经济困难" in result
    with sessions() as session:
        decision = session.scalars(select(EligibilityDecision).order_by(EligibilityDecision.id.desc())).first()
    assert decision.input["statuses"] == ["abuse_or_domestic_violence_victim"]


async def test_free_text_that_is_no_answer_is_never_stored_as_one(chat):
    built, _, _ = chat
    user = ChannelUser(channel="web", openid="u7" * 16)
    assert "是不是很急" in await _say(built, user, "法律援助自测")
    assert ASKS_MATTER in await _say(built, user, "不急")
    assert ASKS_STAGE in await _say(built, user, "1")
    going_on = await _say(built, user, "好了接着来")  # not 还没打官司 (it once matched 刚 / 没)
    assert ASKS_STAGE in going_on and "哪个省" not in going_on
    asked = await _say(built, user, "还没去法院")  # names two options
    assert "您是说「还没打官司」吗？" in asked
    assert "哪个省" in await _say(built, user, "1")  # 是, by its number


@pytest.fixture
async def desk_chat(services, tmp_path):
    """The same Rasa and app, with the sample county's villages (the handoff asks which village)."""
    settings, sessions, _ = services
    built = build_services(dataclasses.replace(settings, directory=Path(always_on_duty_directory(tmp_path))))
    try:
        yield built, sessions
    finally:
        await built.close()


async def test_the_village_question_can_be_given_up_or_set_aside_for_a_legal_question(desk_chat):
    built, sessions = desk_chat
    user = ChannelUser(channel="web", openid="u8" * 16)
    assert "哪个乡镇、哪个村" in await _say(built, user, "我要转人工")
    dropped = await _say(built, user, "算了，不转了")
    assert "先不转人工了" in dropped and "没找到这个地方" not in dropped
    assert "哪个乡镇、哪个村" in await _say(built, user, "我要转人工")
    answered = await _say(built, user, "顺便问下，邻居占了我家的路怎么办")
    assert "《" in answered and "没找到这个地方" not in answered
    assert answered.rstrip().endswith("不转了就回复「算了」。")  # the village question still waits
    assert "记住了：示例镇示例村" in await _say(built, user, "示例镇示例村")
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Ticket).where(Ticket.channel == "web",
                                                                               Ticket.openid == user.openid)) == 1


async def test_a_rating_only_for_a_case_a_person_took_part_in_and_only_once_asked(desk_chat):
    built, sessions = desk_chat
    user = ChannelUser(channel="web", openid="u9" * 16)
    await _say(built, user, "我要转人工")
    await _say(built, user, "示例镇示例村")
    ended = await _say(built, user, "结束人工")  # nobody took the case
    assert "转人工已经取消了" in ended and "满意" not in ended
    await _say(built, user, "我要转人工")
    with sessions() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.openid == user.openid, Ticket.state == "open"))
    desk = built.conversation.handoff
    desk.tickets.claim(ticket.id, "p-adviser-1")
    desk.tickets.close(ticket.id, "p-adviser-1", "resolved")
    early = await _say(built, user, "5")  # typed before the question (the web chat shows it with this reply)
    assert "满意吗" in early
    with sessions() as session:
        assert session.scalars(select(Feedback).where(Feedback.ticket_id == ticket.id)).all() == []
    assert "谢谢您的打分" in await _say(built, user, "5")
    with sessions() as session:
        assert session.get(Ticket, ticket.id).rating == 5
