"""Follow-ups, repeats and the 1 / 2 / 3 of a short answer, through a real Rasa server and the real app.

The messages are the team's own (not from any held-out set): a resident asks, then leans on the answer.
"""

from __future__ import annotations

import pytest

from bot.answers import SHORT_LIMIT
from bot.services import build_services
from channels.ports import ChannelUser
from tests.conftest import app_settings, app_with_rasa, free_port

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

CLARIFY = ("您是想问", "没太听明白", "没听明白")


@pytest.fixture(scope="module")
def services(corpus_index, shared_rasa, tmp_path_factory):
    with app_with_rasa(corpus_index, shared_rasa, tmp_path_factory.mktemp("var")) as settings:
        yield settings


@pytest.fixture
async def chat(services):
    built = build_services(services)
    counter = [0]

    async def say(text: str, who: str = "f") -> str:
        counter[0] += 1
        replies = await built.conversation.respond(ChannelUser("web", who * 32), text)
        return "\n\n".join(replies)

    try:
        yield say
    finally:
        await built.close()


async def test_a_follow_up_is_answered_in_the_context_of_the_question_before(chat):
    first = await chat("俺在厂里干了四个月，老板一直拖着工资不发", "a")
    assert len(first) <= SHORT_LIMIT and "法律依据" in first and "回复 1 看法条原文" in first
    long = await chat("这个要多久", "a")
    assert not any(phrase in long for phrase in CLARIFY)
    assert "四十五天" in long and "《中华人民共和国劳动争议调解仲裁法》第四十三条" in long
    refuses = await chat("那他要是不认账呢", "a")
    assert "证据" in refuses and "第六条" in refuses
    cost = await chat("要花钱不", "a")
    assert "不收费" in cost


async def test_one_two_three_bring_the_articles_the_steps_and_the_places(chat):
    first = await chat("邻居家的狗把俺家娃咬了，医药费谁出", "b")
    assert "【" in first and len(first) <= SHORT_LIMIT
    law = await chat("1", "b")
    assert "《中华人民共和国民法典》第一千二百四十五条：“" in law  # quoted verbatim
    steps = await chat("2", "b")
    assert steps.startswith("怎么办：") and "1. " in steps
    where = await chat("3", "b")
    assert where.startswith("去哪里：") and "12348" in where


async def test_asking_the_same_again_gets_a_short_pointer_not_the_card_again(chat):
    first = await chat("村里要把俺家的承包地收回去，说要分给别人", "c")
    again = await chat("村里要把俺家的承包地收回去，说要分给别人", "c")
    assert "刚才已经回答过了" in again and len(again) < len(first) / 2
    land_refuses = await chat("要是村里就是不同意呢", "c")
    assert not any(phrase in land_refuses for phrase in CLARIFY)
    assert "仲裁" in land_refuses and "《中华人民共和国农村土地承包法》第五十五条" in land_refuses


async def test_two_problems_in_one_message_are_both_answered_and_each_can_be_opened(chat):
    both = await chat("离婚了孩子的抚养费他不给，另外他还借了我三万块钱不还", "d")
    assert "2 件事" in both and "1. " in both and "2. " in both
    second = await chat("2", "d")
    assert "抚养费" not in second.split("\n")[0] and "法律依据" in second


async def test_a_short_question_with_no_subject_of_its_own_leans_on_the_answer(chat):
    await chat("前夫离婚以后一直不给闺女抚养费", "e")
    how_much = await chat("那他每月得出多少", "e")
    assert not any(phrase in how_much for phrase in CLARIFY)
    assert "抚养费" in how_much and "法律依据" in how_much


async def test_with_rasa_down_the_numbers_still_bring_the_details(corpus_index, tmp_path):
    settings = app_settings(corpus_index, tmp_path, LAWLINE_RASA_URL=f"http://127.0.0.1:{free_port()}",
                            LAWLINE_ENGINE_TIMEOUT="1")
    built = build_services(settings)
    user = ChannelUser("web", "g" * 32)
    try:
        first = "\n\n".join(await built.conversation.respond(user, "包工头跑了，俺们的工钱找谁要"))
        assert first.startswith(built.composer.texts.degraded_note) and "回复 1 看法条原文" in first
        law = "\n\n".join(await built.conversation.respond(user, "1"))
        assert "《保障农民工工资支付条例》第三十六条：“" in law
        where = "\n\n".join(await built.conversation.respond(user, "3"))
        assert where.startswith("去哪里：")
    finally:
        await built.close()


async def test_a_follow_up_with_no_cue_and_no_card_is_answered_in_context_not_asked_back(chat):
    await chat("俺男人天天喝酒打牌不顾家，俺想跟他离婚", "h")
    how = await chat("离婚要走啥程序", "h")
    assert not any(phrase in how for phrase in CLARIFY)
    assert how.startswith("接着您刚才问的「俺男人天天喝酒打牌不顾家") and "《中华人民共和国民法典》第一千零七十六条" in how
    gifts = await chat("结婚时给的彩礼能要回来吗", "h")
    assert not any(phrase in gifts for phrase in CLARIFY) and "法律依据" in gifts


async def test_social_insurance_is_answered_from_its_card_not_declined(chat):
    unpaid = await chat("在砖厂干了三年了，老板一直不给俺上社保", "i")
    assert "不在我能解答的范围" not in unpaid
    assert "【单位不给交社保，咋办？】" in unpaid and "《中华人民共和国社会保险法》第五十八条" in unpaid
    benefit = await chat("俺被厂里裁了，失业金咋领", "j")
    assert "【厂里不要我了，能领失业金吗？】" in benefit and "《中华人民共和国社会保险法》第四十五条" in benefit


async def test_the_same_question_in_other_words_gets_the_pointer_not_the_card_again(chat):
    first = await chat("包工头跑了，俺的工钱找谁要", "r")
    again = await chat("包工头跑路了 工钱该找谁", "r")
    assert "刚才已经回答过了" in again and len(again) < len(first) / 2
    assert "接着您刚才问的" not in again
    same = await chat("包工头跑路了 工钱该找谁", "r")  # word for word, after the pointer: the pointer again
    assert "刚才已经回答过了" in same and "接着您刚才问的" not in same


async def test_a_short_question_sent_twice_in_the_same_words_gets_the_pointer(chat):
    first = await chat("工钱老板一直拖着不给咋整", "s")
    again = await chat("工钱老板一直拖着不给咋整", "s")
    assert "刚才已经回答过了" in again and "接着您刚才问的" not in again and len(again) < len(first) / 2
