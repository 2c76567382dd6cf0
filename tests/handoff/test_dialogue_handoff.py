"""Escalation through the real dialogue engine: Rasa's ``action_handoff`` (served by the app) signals the
handoff and the conversation service opens the ticket; the two-stage fallback's last step offers a person."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from rasa_sdk.executor import ActionExecutor
from sqlalchemy import select

from bot.actions import OfferPerson
from bot.services import build_services
from channels.ports import ChannelUser
from handoff.models import Ticket
from tests.conftest import app_with_rasa
from tests.handoff.conftest import always_on_duty_directory

pytestmark = pytest.mark.anyio


@pytest.mark.slow
async def test_a_paraphrased_request_for_a_person_opens_a_ticket(corpus_index, shared_rasa, tmp_path):
    with app_with_rasa(corpus_index, shared_rasa, tmp_path, LAWLINE_DIRECTORY=always_on_duty_directory(tmp_path),
                       LAWLINE_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}") as settings:
            built = build_services(settings)
            try:
                user = ChannelUser(channel="web", openid="h" * 32)
                ask = await built.conversation.respond(user, "我要转人工")
                assert "哪个乡镇、哪个村" in ask[0]
                done = await built.conversation.respond(user, "演示乡演示村")
                assert "乙顾问（示例）" in "\n".join(done)
                await _where_to_go(built)
            finally:
                await built.close()
    from bot.db import make_engine, make_sessions

    sessions = make_sessions(make_engine(settings.database_url))
    with sessions() as session:
        ticket = session.scalar(select(Ticket))
    assert ticket.group_id == "g-t2" and ticket.reason == "requested"


MISSING = "未录入，请拨打12348询问"
COUNTY_POINTS = [
    "· 示例县公共法律服务中心（公共法律服务中心）：示例县示例路1号（虚构）；电话 000-0000-0001；"
    "办公时间 工作日 9:00-12:00，14:00-17:30（示例）",
    f"  地图：https://uri.amap.com/marker?position=108.000000,30.000000&name={quote('示例县公共法律服务中心')}"
    "&coordinate=wgs84&callnative=0",
    "· 示例县法律援助中心（法律援助中心）：示例县示例路1号一楼（虚构）；电话 000-0000-0002；"
    "办公时间 工作日 9:00-12:00，14:00-17:30（示例）",
    f"· 示例县妇联（妇联）：{MISSING}；电话 000-0000-0003；办公时间 {MISSING}",
]
HOTLINE = "也可以拨打12348公共法律服务热线（7×24小时）。"


async def _where_to_go(built) -> None:
    """去哪里办事: the county's points and the towns to choose from; a typed number picks the town."""
    user = ChannelUser(channel="web", openid="w" * 32)
    county = await built.conversation.respond(user, "去哪里办事")
    assert county == ["\n".join(["【演示数据，不是真实信息】县里的办事地点：", *COUNTY_POINTS, HOTLINE,
                                 "您在哪个乡镇？回复数字或乡镇的名字，我把那里的办事地点发给您：1. 示例镇 / 2. 演示乡"])]
    town = await built.conversation.respond(user, "1")
    assert town == ["\n".join([
        "【演示数据，不是真实信息】离您近的办事地点（示例镇）：",
        "· 示例镇公共法律服务工作站（公共法律服务工作站）：示例镇政府院内（虚构）；电话 000-0000-0011；"
        "办公时间 工作日 9:00-17:00（示例）",
        f"· 示例镇司法所（司法所）：示例镇政府院内（虚构）；电话 000-0000-0012；办公时间 {MISSING}",
        *COUNTY_POINTS, HOTLINE])]


async def test_the_fallbacks_last_step_offers_a_person():
    executor = ActionExecutor()
    executor.register_action(OfferPerson())
    call = {
        "next_action": "action_default_fallback", "sender_id": "s1", "version": "3.6.21",
        "tracker": {"sender_id": "s1", "slots": {}, "latest_message": {"text": "嗯嗯", "intent": {}}, "events": [],
                    "paused": False, "followup_action": None, "active_loop": {}, "latest_action_name": None},
        "domain": {"responses": {"utter_default": [{"text": "抱歉，这个问题我怕答错耽误您。"}]}},
    }
    result = (await executor.run(call)).model_dump(by_alias=True)
    [message] = result["responses"]
    assert message["text"] == "抱歉，这个问题我怕答错耽误您。"
    assert [b["title"] for b in message["buttons"]] == ["转人工", "不用了"]
    assert message["custom"] == {"lawline": {"offer_handoff": "not_understood"}}
    assert [e["event"] for e in result["events"]] == ["rewind"]
