"""The optional template message (模板消息) to advisers who follow the official account, through the
outbox and the WeChat API stand-in: configured as directory data, nothing a resident wrote in it."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from bot.handoff_adapters import AdviserTemplates
from channels.storage import MemoryStore
from channels.wechat_api import WeChatClient
from handoff.directory import SAMPLE_DIRECTORY, load_directory
from handoff.errors import DirectoryError
from handoff.models import OutboxMessage
from handoff.robot import RobotClient, RobotSender
from handoff.texts import load_texts
from handoff.tickets import TicketService
from tests.channels.conftest import OA_APPID, OA_SECRET

pytestmark = pytest.mark.anyio

TEMPLATE = """
adviser_template:
  template_id: tmpl-new-case
  fields: {thing1: topic, thing2: village, phrase3: urgency, time4: opened, character_string5: ticket}
"""


def _directory(tmp_path, template: str = TEMPLATE, openids: dict[str, str] | None = None):
    text = SAMPLE_DIRECTORY.read_text(encoding="utf-8")
    for person, openid in (openids if openids is not None else {"p-adviser-1": "o-adviser-1"}).items():
        text = text.replace(f"  - id: {person}\n", f"  - id: {person}\n    wechat_openid: {openid}\n", 1)
    path = tmp_path / "county.yaml"
    path.write_text(text + template, encoding="utf-8")
    return load_directory(path)


def _outbox(sessions, kind: str = "template"):
    with sessions() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)
                                    .order_by(OutboxMessage.id)))


@pytest.fixture
async def http():
    async with httpx.AsyncClient() as client:
        yield client


def _sender(sessions, directory, clock, wecom, wechat, http) -> RobotSender:
    client = WeChatClient(OA_APPID, OA_SECRET, MemoryStore(), api_base=wechat.base_url, http=http,
                          backoff_seconds=0.01)
    return RobotSender(sessions, directory, RobotClient(http, wecom.base_url), clock=clock,
                       notifier=AdviserTemplates({"official_account": client}))


async def test_the_village_adviser_gets_a_template_message_beside_the_group_card(
        tmp_path, sessions, clock, wecom, wechat, http):
    directory = _directory(tmp_path)
    tickets = TicketService(sessions, directory, load_texts(), clock=clock,
                            link=lambda i: f"https://lawline.example/console/cases/{i}")
    ticket = tickets.open("web:r1", reason="requested", topic="land", village="sx-t1-v1",
                          summary="村里要收回俺家的地，我电话13812345678").ticket
    [queued] = _outbox(sessions)
    assert queued.group_id == "wechat:p-adviser-1" and queued.ticket_id == ticket.id
    await _sender(sessions, directory, clock, wecom, wechat, http).run_once()
    [sent] = wechat.templates
    assert sent["touser"] == "o-adviser-1" and sent["template_id"] == "tmpl-new-case"
    assert sent["url"] == f"https://lawline.example/console/cases/{ticket.id}"
    values = {name: field["value"] for name, field in sent["data"].items()}
    assert values == {"thing1": "【演示】土地承包", "thing2": "示例镇示例村", "phrase3": "一般",
                      "time4": "2026-03-09 10:00", "character_string5": f"#{ticket.id}"}
    assert "13812345678" not in str(sent) and "收回" not in str(sent)  # nothing the resident wrote
    assert [m.content for m in wecom.for_key("sample-key-t1")][0].startswith("###")  # the card still goes
    assert [row.state for row in _outbox(sessions)] == ["sent"]


async def test_the_suggested_lawyer_is_told_or_else_the_groups_followers(tmp_path, sessions, clock):
    both = _directory(tmp_path, openids={"p-lawyer-labour": "o-l1", "p-lawyer-family": "o-l2"})
    TicketService(sessions, both, load_texts(), clock=clock).open("web:r2", reason="requested", topic="wages")
    assert [row.group_id for row in _outbox(sessions)] == ["wechat:p-lawyer-labour"]  # the labour specialist
    only_family = _directory(tmp_path, openids={"p-lawyer-family": "o-l2"})
    TicketService(sessions, only_family, load_texts(), clock=clock).open("web:r2b", reason="requested",
                                                                         topic="wages")
    assert [row.group_id for row in _outbox(sessions)][1:] == ["wechat:p-lawyer-family"]


async def test_no_template_configured_means_no_template_messages(tmp_path, sessions, clock):
    directory = _directory(tmp_path, template="\nadviser_template: {template_id: null}\n")
    assert directory.adviser_template is None
    TicketService(sessions, directory, load_texts(), clock=clock).open("web:r3", reason="requested",
                                                                       village="sx-t1-v1")
    assert _outbox(sessions) == [] and len(_outbox(sessions, "card")) == 1


async def test_an_adviser_who_unfollowed_is_not_retried_forever(tmp_path, sessions, clock, wecom, wechat, http):
    directory = _directory(tmp_path)
    wechat.set_followers("someone-else")
    TicketService(sessions, directory, load_texts(), clock=clock).open("web:r4", reason="requested",
                                                                       village="sx-t1-v1")
    sender = _sender(sessions, directory, clock, wecom, wechat, http)
    await sender.run_once()
    [row] = _outbox(sessions)
    assert row.state == "failed" and row.last_error.startswith("43004")
    clock.advance(minutes=30)
    await sender.run_once()
    assert wechat.calls("/cgi-bin/message/template/send") == 1 and wechat.templates == []


async def test_a_passing_refusal_is_retried_and_then_sent(tmp_path, sessions, clock, wecom, wechat, http):
    directory = _directory(tmp_path)
    wechat.fail_next("/cgi-bin/message/template/send", 48001)  # api unauthorised: fixed in the back office
    TicketService(sessions, directory, load_texts(), clock=clock).open("web:r5", reason="requested",
                                                                       village="sx-t1-v1")
    sender = _sender(sessions, directory, clock, wecom, wechat, http)
    await sender.run_once()
    assert [row.state for row in _outbox(sessions)] == ["pending"] and wechat.templates == []
    clock.advance(minutes=5)
    await sender.run_once()
    assert [row.state for row in _outbox(sessions)] == ["sent"] and len(wechat.templates) == 1


def test_a_template_field_must_say_what_fills_it(tmp_path):
    with pytest.raises(DirectoryError) as raised:
        _directory(tmp_path, template="\nadviser_template:\n  template_id: t\n  fields: {thing1: summary}\n")
    assert "adviser_template.fields.thing1: must be one of" in str(raised.value)
