"""Conversations through a real Rasa server whose custom actions are served by the real app."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from bot.conversation import _button_payload, _is_answer_menu
from bot.models import Message
from bot.services import build_services
from channels.ports import ChannelUser
from handoff.texts import load_texts
from tests.conftest import app_with_rasa

pytestmark = [pytest.mark.slow, pytest.mark.anyio]


def test_typed_button_titles_and_numbers_become_payloads():
    buttons = [{"title": "是", "payload": "/wages"}, {"title": "不是", "payload": "/out_of_scope"}]
    assert _button_payload("是", buttons) == "/wages"
    assert _button_payload("不是。", buttons) == "/out_of_scope"
    assert _button_payload("2", buttons) == "/out_of_scope"
    assert _button_payload("老板不给钱", buttons) == "老板不给钱"
    assert _button_payload("是", []) == "是"
    # A menu's numbered items (the greeting's 1–4) are chosen the same way, and are no form step.
    topics = [{"title": "拖欠工资、工钱的问题", "payload": '/choose_topic{"topic": "wages"}'},
              {"title": "农村土地承包的问题", "payload": '/choose_topic{"topic": "land"}'}]
    assert _button_payload("2", topics) == '/choose_topic{"topic": "land"}'
    assert _is_answer_menu(topics) and not _is_answer_menu(buttons)


@pytest.fixture(scope="module")
def services(corpus_index, shared_rasa, tmp_path_factory):
    with app_with_rasa(corpus_index, shared_rasa, tmp_path_factory.mktemp("var")) as settings:
        yield settings, corpus_index[1]


async def test_a_conversation_through_rasa(services):
    settings, sessions = services
    built = build_services(settings)
    try:
        await _converse(built, sessions)
    finally:
        await built.close()


def _domain_text(response: str) -> str:
    domain = yaml.safe_load((Path(__file__).resolve().parents[2] / "nlu" / "rasa" / "domain.yml").read_text("utf-8"))
    return str(domain["responses"][response][0]["text"])


async def _converse(built, sessions):
    user = ChannelUser(channel="web", openid="d" * 32)
    greeting = await built.conversation.respond(user, "你好")
    assert greeting[0] == _domain_text("utter_greet")  # every fallback names 12348 too: compare the whole text
    answer = await built.conversation.respond(user, "俺在工地干了半年活，包工头跑了，工钱找谁要啊")
    assert "《保障农民工工资支付条例》" in "\n".join(answer)
    aid = await built.conversation.respond(user, "我能申请法律援助吗")
    assert "《中华人民共和国法律援助法》第三十一条" in "\n".join(aid)
    person = await built.conversation.respond(user, "我要转人工")
    assert person[0] == load_texts()["escalated_unconfigured"]  # the ticket is open; no adviser online here
    other = await built.conversation.respond(user, "公司偷税漏税怎么举报")
    assert other == [_domain_text("utter_other_legal")], "said kindly, with 12348 and a lawyer"
    with sessions() as session:
        engines = [m.engine for m in session.scalars(select(Message).where(Message.direction == "out")
                                                      .order_by(Message.id.desc()).limit(5))]
    assert engines == ["rasa"] * 5


async def test_a_typed_number_selects_the_item_the_greeting_shows_with_that_number(services):
    settings, _ = services
    built = build_services(settings)
    try:
        user = ChannelUser(channel="web", openid="n" * 32)
        greeting = "\n".join(await built.conversation.respond(user, "你好"))
        assert "3. 农村土地承包的问题" in greeting and "（请回复：" not in greeting  # the menu is listed once
        land = "\n".join(await built.conversation.respond(user, "3"))
        assert "农村土地承包的问题" in land and "承包合同" in land
        assert "12348是公共法律服务热线" not in land  # "3" once went to the hotline
        await built.conversation.respond(user, "你好")
        wages = "\n".join(await built.conversation.respond(user, "1"))
        assert "拖欠工资、工钱的问题" in wages and "包工头" in wages
    finally:
        await built.close()
