"""A real Rasa server (session fixture) parsing residents' messages and running the dialogue rules.

The sentences here are written for these tests, in the way residents write (not taken from any
evaluation set). Custom actions go to the stand-in webhook of conftest.py.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
import yaml

from nlu.client import Parse, RasaClient

pytestmark = pytest.mark.slow

DOMAIN = Path(__file__).resolve().parents[2] / "nlu" / "rasa" / "domain.yml"


def _text(response: str) -> str:
    return str(yaml.safe_load(DOMAIN.read_text(encoding="utf-8"))["responses"][response][0]["text"])


def _parse(url: str, text: str) -> Parse:
    async def go() -> Parse:
        async with RasaClient(url) as client:
            return await client.parse(text)

    return asyncio.run(go())


def _send(url: str, sender: str, *texts: str) -> list[list[dict]]:
    async def go() -> list[list[dict]]:
        async with RasaClient(url) as client:
            return [await client.send(sender, text) for text in texts]

    return asyncio.run(go())


def _sender() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("俺在砖厂干了大半年 老板到现在还欠俺五千块工钱不给咋办", "wages"),
        ("包工头把钱卷跑了我们这些干活的找谁要工资", "wages"),
        ("我家老汉八十多了两个儿子都不出养老钱", "support"),
        ("离婚以后娃跟着我 他爸一分抚养费都不给", "support"),
        ("村里要把俺家的责任田收回去给别人种", "land"),
        ("修路征了俺家两亩地补偿款村里一直不发", "land"),
        ("邻居家盖房子把俺家的排水沟堵死了", "dispute"),
        ("借给同学一万块钱两年了他一直不还", "dispute"),
        ("我儿子偷东西被公安抓了会判几年", "other_legal"),
        ("注册商标要去哪里办", "other_legal"),
        ("家里穷请不起律师能申请法律援助不", "legal_aid"),
        ("我要找人工客服跟我说", "human"),
        ("12348热线电话是多少", "hotline"),
        ("明天会不会下雨啊", "out_of_scope"),
        ("您好", "greet"),
        ("谢谢你们", "thanks"),
    ],
)
def test_resident_messages_get_their_intent(rasa_server, text, intent):
    parse = _parse(rasa_server.url, text)
    assert parse.intent == intent, (parse.intent, parse.ranking[:3])
    assert parse.ranking and parse.ranking[0][0] in (intent, "nlu_fallback")


def test_entities_money_duration_relation_place(rasa_server):
    parse = _parse(rasa_server.url, "俺在工地干了三个月老板欠了俺一千五")
    assert parse.values("money") == ["一千五"]
    assert parse.values("duration") == ["三个月"]
    assert parse.values("place") == ["工地"]
    support = _parse(rasa_server.url, "俺老汉病了 俺哥一个月就给三百块")
    assert support.values("money") == ["三百块"]
    assert "父亲" in support.values("relation"), "老汉 is normalised by the synonym"
    assert _parse(rasa_server.url, "两块责任田被占了").values("money") == [], "块 of land is not money"


def test_rest_channel_greets_with_what_lawline_does(rasa_server):
    [replies] = _send(rasa_server.url, _sender(), "你好")
    assert [r["text"] for r in replies if "text" in r] == [_text("utter_greet")]
    assert "12348" in replies[0]["text"] and "法律援助" in replies[0]["text"]
    [custom] = [r["custom"] for r in replies if "custom" in r]  # the REST channel sends it as a message of its own
    assert len(custom["lawline"]["buttons"]) >= 4, "the numbered items can be chosen by typing 1–4"


def test_topic_question_calls_the_answer_action_with_slots(rasa_server, action_stand_in):
    sender = _sender()
    first, second, third = _send(
        rasa_server.url, sender, "在工地干了三个月老板一直不给工钱", "一共欠了五千块", "转人工"
    )
    calls = action_stand_in.calls_for(sender)
    assert [c["action"] for c in calls] == ["action_answer_legal_question"] * 2 + ["action_handoff"]
    assert calls[0]["slots"]["topic"] == "wages"
    assert calls[0]["slots"]["duration"] == "三个月" and calls[0]["slots"]["place"] == "工地"
    assert calls[1]["slots"]["money"] == "五千块" and calls[1]["slots"]["topic"] == "wages"
    assert first[0]["text"] == "stand-in action_answer_legal_question topic=wages"
    assert third[0]["text"].startswith("stand-in action_handoff")


def test_details_without_a_topic_ask_for_the_topic(rasa_server, action_stand_in):
    sender = _sender()
    [replies] = _send(rasa_server.url, sender, "/inform")
    assert [r["text"] for r in replies if "text" in r] == [_text("utter_ask_topic")]
    assert action_stand_in.calls_for(sender) == []


def test_hotline_and_out_of_scope_answer_from_the_domain_other_legal_from_its_action(rasa_server, action_stand_in):
    sender = _sender()
    replies = _send(rasa_server.url, sender, "/other_legal", "/hotline", "/out_of_scope")
    assert replies[0][0]["text"].startswith("stand-in action_answer_other_legal")
    assert [r[0]["text"] for r in replies[1:]] == [_text(n) for n in ("utter_hotline", "utter_out_of_scope")]
    assert [c["action"] for c in action_stand_in.calls_for(sender)] == ["action_answer_other_legal"]


def _unsure_text(url: str) -> str:
    """A message this model is unsure about (nlu_fallback), from mumbles no intent should claim."""
    for text in ("嗯那个就是说", "啊这个那个", "哦哦那个啥", "就是那个嘛", "呃呃呃"):
        if _parse(url, text).intent == "nlu_fallback":
            return text
    pytest.fail("no mumble fell below the FallbackClassifier threshold")


def test_two_stage_fallback_asks_then_rephrases_then_offers_a_person(rasa_server, action_stand_in):
    sender = _sender()
    unsure = _unsure_text(rasa_server.url)
    ask, rephrase, ask_again, give_up = _send(rasa_server.url, sender, unsure, "/out_of_scope", unsure, "/out_of_scope")
    assert ask[0]["text"].startswith("我没太听明白。您是想问")
    assert [b["title"] for b in ask[0]["buttons"]] == ["是", "不是"]
    assert ask[0]["buttons"][1]["payload"] == "/out_of_scope"
    assert ask[0]["buttons"][0]["payload"].startswith("/") and "{" not in ask[0]["buttons"][0]["payload"]
    assert [r["text"] for r in rephrase] == [_text("utter_ask_rephrase")]
    assert ask_again[0]["text"].startswith("我没太听明白")
    # The last step is the app's action_default_fallback (OfferPerson: utter_default with 转人工 buttons).
    assert [r["text"] for r in give_up] == ["stand-in action_default_fallback topic=None"]
    assert "转人工" in _text("utter_default") and "12348" in _text("utter_default")


def test_affirming_the_clarification_answers_the_question(rasa_server, action_stand_in):
    sender = _sender()
    unsure = _unsure_text(rasa_server.url)
    ask, answer = _send(rasa_server.url, sender, unsure, "/land")
    assert ask[0]["text"].startswith("我没太听明白")
    assert answer[0]["text"] == "stand-in action_answer_legal_question topic=land"


def test_conversations_are_kept_in_the_sql_tracker_store(rasa_server, rasa_layout):
    sender = _sender()
    _send(rasa_server.url, sender, "你好")
    assert rasa_layout.tracker_db.is_file()

    async def go() -> dict:
        async with RasaClient(rasa_server.url) as client:
            return await client.tracker(sender)

    tracker = asyncio.run(go())
    assert tracker["latest_message"]["intent"]["name"] == "greet"
    assert rasa_server.is_alive()
