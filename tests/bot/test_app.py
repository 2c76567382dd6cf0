"""The app in-process (httpx ASGI transport) on the real corpus index and SQLite; Rasa down here.

Conversation tests against a real Rasa server are in ``tests/bot/test_dialogue.py``.
"""

import json
import re

import httpx
import pytest
from sqlalchemy import select

from bot.app import create_app
from bot.models import Message
from bot.services import build_services
from tests.conftest import ACTION_SECRET, app_settings, free_port

pytestmark = [pytest.mark.slow, pytest.mark.anyio]


@pytest.fixture
def settings(corpus_index, tmp_path):
    # Nothing listens at LAWLINE_RASA_URL: Rasa is "down" for these tests.
    return app_settings(corpus_index, tmp_path, LAWLINE_RASA_URL=f"http://127.0.0.1:{free_port()}",
                        LAWLINE_ENGINE_TIMEOUT="1.0")


RASA = {"Authorization": f"Bearer {ACTION_SECRET}"}  # what the Rasa server shows /webhook (endpoints.yml)


@pytest.fixture
async def client(settings):
    app = create_app(lambda: build_services(settings), action_secret=ACTION_SECRET)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://lawline.test") as http:
            yield http


async def test_web_chat_answers_from_retrieval_when_rasa_is_down(client, corpus_index):
    response = await client.post("/api/chat/messages", json={"text": "我在工地干了半年，包工头跑了，工钱找谁要"})
    assert response.status_code == 200
    body = response.json()
    assert len(body["session"]) == 32
    reply = body["replies"][0]
    assert "智能助手现在有点忙" in reply
    assert "《保障农民工工资支付条例》第三十六条" in reply and "12348" in reply
    with corpus_index[1]() as session:
        rows = session.scalars(select(Message).order_by(Message.id.desc()).limit(2)).all()
    assert [r.direction for r in rows] == ["out", "in"]
    assert rows[0].engine == "retrieval" and "《保障农民工工资支付条例》第三十六条" in rows[0].meta["citations"]


async def test_same_session_keeps_one_conversation(client):
    first = (await client.post("/api/chat/messages", json={"text": "你好"})).json()
    second = (await client.post("/api/chat/messages", json={"session": first["session"], "text": "儿子不给养老钱"})).json()
    assert second["session"] == first["session"]


async def test_with_rasa_down_an_article_cited_alone_is_of_the_law_the_last_answer_cited(client):
    first = (await client.post("/api/chat/messages", json={"text": "劳动合同法第三十条是怎么规定的"})).json()
    assert "《中华人民共和国劳动合同法》第三十条" in first["replies"][0]
    then = (await client.post("/api/chat/messages", json={"session": first["session"], "text": "那第三十八条呢"})).json()
    assert "《中华人民共和国劳动合同法》第三十八条" in then["replies"][0]


@pytest.mark.parametrize("text", ["", "   ", "😀😀😀"])
async def test_empty_or_emoji_only_gets_a_calm_prompt(client, text):
    body = (await client.post("/api/chat/messages", json={"text": text})).json()
    assert "请用文字或语音说说遇到了什么事" in body["replies"][0]


async def test_a_very_long_message_gets_a_sensible_reply(client):
    text = "老板一直拖欠工资不给，" * 500  # 5,500 characters
    body = (await client.post("/api/chat/messages", json={"text": text})).json()
    assert body["replies"] and re.search(r"《[^》]+》第", body["replies"][0]), "answered, with the article named"


@pytest.mark.parametrize("payload", [b"{not json", b"[1, 2]", b'{"text": 5}', b"x" * 70000])
async def test_bad_requests_get_a_calm_error_and_never_echo(client, payload):
    response = await client.post("/api/chat/messages", content=payload, headers={"content-type": "application/json"})
    assert response.status_code in (400, 413)
    assert "error" in response.json()
    assert "not json" not in response.text


async def _at_the_start_of_a_minute() -> None:
    """The limits count in one-minute windows: start well inside one."""
    import asyncio
    import time

    left = 60 - time.time() % 60
    if left < 30:
        await asyncio.sleep(left + 0.1)


async def test_a_flood_on_the_web_chat_gets_a_calm_429_per_session_and_per_address(settings):
    from bot.app import WEB_CHAT_PER_ADDRESS, WEB_CHAT_PER_SESSION

    app = create_app(lambda: build_services(settings), action_secret=ACTION_SECRET)
    async with app.router.lifespan_context(app):
        await _at_the_start_of_a_minute()
        # A resident's phone on a public address (never contacted: the transport is in-process).
        transport = httpx.ASGITransport(app=app, client=("58.20.61.7", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://lawline.test") as client:
            await _flood(client, WEB_CHAT_PER_SESSION, WEB_CHAT_PER_ADDRESS)

        # From a private address (a proxy that does not forward addresses) only the session limit holds.
        transport = httpx.ASGITransport(app=app, client=("10.0.0.2", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://lawline.test") as client:
            statuses = [(await client.post("/api/chat/messages", json={"text": "你好"})).status_code
                        for _ in range(WEB_CHAT_PER_ADDRESS + 1)]
            assert statuses == [200] * (WEB_CHAT_PER_ADDRESS + 1)


async def _flood(client, per_session: int, per_address: int) -> None:
    session = (await client.post("/api/chat/messages", json={"text": "你好"})).json()["session"]
    statuses = [(await client.post("/api/chat/messages", json={"session": session, "text": "你好"})).status_code
                for _ in range(per_session)]
    assert statuses == [200] * (per_session - 1) + [429]
    refused = await client.post("/api/chat/messages", json={"session": session, "text": "还在吗"})
    assert refused.status_code == 429 and "12348" in refused.json()["error"]

    # New sessions from the same address get through until the address's own limit.
    sent = 1 + per_session + 1  # all so far count for the address, the two refused ones too
    others = []
    for _ in range(per_address - sent + 1):
        others.append((await client.post("/api/chat/messages", json={"text": "你好"})).status_code)
    assert others == [200] * (per_address - sent) + [429]


async def test_chat_page_and_health(client):
    page = await client.get("/chat")
    assert page.status_code == 200 and "api/chat/messages" in page.text and "12348" in page.text
    assert "maximum-scale" not in page.text and "user-scalable=no" not in page.text, "elderly residents pinch to zoom"
    health = (await client.get("/healthz")).json()
    assert health["documents"] > 4000 and health["dialogue_engine"].startswith("down")
    assert not health["official_account"]


def _action_call(action, text, intent):
    return {
        "next_action": action,
        "sender_id": "s1",
        "version": "3.6.21",
        "domain": {"slots": {"topic": {"type": "categorical"}}, "responses": {}, "intents": [], "entities": [],
                   "actions": [], "forms": {}},
        "tracker": {
            "sender_id": "s1", "slots": {"topic": None}, "latest_message": {"text": text, "intent": {"name": intent},
                                                                            "entities": []},
            "events": [], "paused": False, "followup_action": None, "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }


async def test_action_webhook_answers_with_citations(client):
    response = await client.post("/webhook", json=_action_call("action_answer_legal_question", "儿子不给养老钱", "support"), headers=RASA)
    assert response.status_code == 200
    body = response.json()
    assert "《中华人民共和国民法典》第一千零六十七条" in body["responses"][0]["text"]
    assert body["responses"][0]["custom"]["lawline"]["confident"] is True
    slots = {e["name"]: e["value"] for e in body["events"] if e.get("event") == "slot"}
    assert slots["topic"] == "support" and slots["last_question"], "the topic and the question answered are kept"
    legal_aid = (await client.post("/webhook", json=_action_call("action_offer_legal_aid", "", "legal_aid"), headers=RASA)).json()
    assert "《中华人民共和国法律援助法》第三十一条" in legal_aid["responses"][0]["text"]  # the self-check begins


async def test_other_legal_offers_a_matching_card_question_or_says_kindly_where_to_go(client):
    # A wage question the NLU filed as other_legal: asked whether the wages card's question is meant.
    offered = (await client.post("/webhook", json=_action_call(
        "action_answer_other_legal", "老板拖欠我三个月工资不给怎么办", "other_legal"), headers=RASA)).json()["responses"]
    assert len(offered) == 1 and offered[0]["response"] == "utter_offer_card_question"
    [button] = offered[0]["buttons"]
    assert button["title"] == "是" and offered[0]["question"] == button["payload"]
    assert "工资" in button["payload"]  # a card's own question, sent as the next message when chosen
    # Outside our topics and matching no card: the kind decline, no button.
    declined = (await client.post("/webhook", json=_action_call(
        "action_answer_other_legal", "公司注册商标需要准备哪些材料", "other_legal"), headers=RASA)).json()["responses"]
    assert [(r["response"], r.get("buttons")) for r in declined] == [("utter_other_legal", [])]
    # A criminal question that retrieval loosely links to a card (below OFFER_CONFIDENCE): declined, not offered.
    loose = (await client.post("/webhook", json=_action_call(
        "action_answer_other_legal", "我儿子偷东西被公安抓了会判几年", "other_legal"), headers=RASA)).json()["responses"]
    assert [r["response"] for r in loose] == ["utter_other_legal"]


async def test_action_webhook_refuses_unknown_actions_and_bad_bodies(client):
    missing = await client.post("/webhook", json=_action_call("action_nope", "x", "greet"), headers=RASA)
    assert missing.status_code == 404
    bad = await client.post("/webhook", content=b"{oops", headers=RASA)
    assert bad.status_code == 400 and json.loads(bad.text) == {"error": "not_json", "action_name": None}
    no_domain = {k: v for k, v in _action_call("action_handoff", "x", "human").items() if k != "domain"}
    refused = await client.post("/webhook", json=no_domain, headers=RASA)
    assert refused.status_code == 400 and refused.json() == {"error": "missing:domain", "action_name": None}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": ACTION_SECRET},
                                     {"Authorization": f"bearer  {ACTION_SECRET}x"}])
async def test_the_action_webhook_answers_only_the_rasa_server(client, headers):
    response = await client.post("/webhook", json=_action_call("action_handoff", "我要转人工", "human"), headers=headers)
    assert response.status_code == 403 and response.json() == {"error": "forbidden"}


async def test_without_an_action_secret_the_webhook_refuses_everyone(settings):
    app = create_app(lambda: build_services(settings))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://lawline.test") as http:
            response = await http.post("/webhook", json=_action_call("action_handoff", "x", "human"), headers=RASA)
    assert response.status_code == 403
