"""The hit test and typed ratings with a real Rasa server (its custom actions served by the real app)."""

import re

import pytest
from sqlalchemy import select

from bot.console.models import AnswerRating
from tests.conftest import running_app
from tests.console.conftest import add_accounts, client_for, copy_corpus_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(corpus_index, shared_rasa, tmp_path_factory):
    env = copy_corpus_env(corpus_index, tmp_path_factory.mktemp("console-rasa"), LAWLINE_PORT=str(shared_rasa.app_port),
                          LAWLINE_RASA_URL=shared_rasa.url, LAWLINE_ENGINE_TIMEOUT="10")
    add_accounts(env.sessions)
    with running_app(env.settings, shared_rasa.app_port) as base:
        yield env, base


def test_hit_test_shows_the_intent_and_its_confidence(served):
    _, base = served
    page = client_for(base, "editor").get("/console/hit", params={"q": "老板拖欠了我三个月的工资不给"})
    assert page.status_code == 200 and 'id="rasa-down"' not in page.text
    intent = page.text.split('id="intent"')[1].split('id="answer"')[0]
    assert re.search(r'居民是在问：<b id="intent-name">工资报酬（欠薪）</b>（(很有把握|比较有把握|拿不准)）', intent)
    assert "优先选“工资报酬”方面的答问卡片" in intent and "wages" not in intent  # words, not codes
    assert re.search(r"意图 wages 置信度 [01]\.\d\d", page.text.split('id="scores"')[1])  # the number, behind 显示评分
    assert "《" in page.text.split('id="answer"')[1]


def test_a_typed_thumbs_down_after_an_answer_is_recorded(served):
    env, base = served
    chat = client_for(base)
    first = chat.post("/api/chat/messages", json={"text": "俺在工地干了半年活，包工头跑了，工钱找谁要啊"}).json()
    assert "《保障农民工工资支付条例》" in "\n".join(first["replies"])
    thanks = chat.post("/api/chat/messages", json={"session": first["session"], "text": "没用"}).json()
    assert "我们会请法律工作人员看一看" in thanks["replies"][0]
    again = chat.post("/api/chat/messages", json={"session": first["session"], "text": "👎"}).json()
    assert "我们会请法律工作人员看一看" not in again["replies"][0]  # nothing new to rate: handled as usual
    with env.sessions() as session:
        assert list(session.scalars(select(AnswerRating.rating))) == [-1]
