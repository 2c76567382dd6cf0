"""End to end through the real app: a resident on the official account asks for a person → ticket → card in
the village adviser's WeChat Work group → the adviser signs in to the console, claims and replies → the
resident receives it through the customer-service API → the adviser closes → the resident rates.

Real uvicorn app, real SQLite, the shared corpus index; WeChat and WeChat Work are local stand-in servers.
Rasa is down on purpose (nothing listens on its port): escalation must not depend on it.
"""

from __future__ import annotations

import time
from xml.etree import ElementTree

import pytest
from sqlalchemy import select

from bot.console.accounts import create_account
from handoff.models import Feedback, ResidentProfile, Ticket, TicketEvent
from tests.channels.conftest import AES_KEY, OA_APPID, OA_SECRET, TOKEN
from tests.channels.wechat_standin import CallbackSigner, text_xml
from tests.conftest import free_port, running_app
from tests.console.conftest import PASSWORD, client_for, copy_corpus_env, post_form
from tests.handoff.conftest import always_on_duty_directory

pytestmark = pytest.mark.slow

OPENID = "o-e2e-handoff"


def stack_env(corpus_index, root, wechat, wecom, port, **extra):
    return copy_corpus_env(
        corpus_index, root, LAWLINE_PORT=str(port), LAWLINE_DIRECTORY=always_on_duty_directory(root),
        LAWLINE_WECOM_API_BASE=wecom.base_url, LAWLINE_PUBLIC_URL="https://lawline.example",
        LAWLINE_WECHAT_TOKEN=TOKEN, LAWLINE_WECHAT_APPID=OA_APPID, LAWLINE_WECHAT_APPSECRET=OA_SECRET,
        LAWLINE_WECHAT_AES_KEY=AES_KEY, LAWLINE_WECHAT_API_BASE=wechat.base_url, **extra)


class Resident:
    """Plays WeChat delivering the resident's messages to /wechat (AES, signed); returns the passive reply."""

    def __init__(self, http, openid: str = OPENID) -> None:
        self.http = http
        self.openid = openid
        self.signer = CallbackSigner(TOKEN, OA_APPID, AES_KEY)
        self.msg_id = int(time.time() * 1000) % 10**12

    def says(self, text: str) -> str | None:
        self.msg_id += 1
        query, body = self.signer.post(text_xml(text, openid=self.openid, msg_id=self.msg_id))
        response = self.http.post("/wechat", params=query, content=body)
        assert response.status_code == 200
        if response.text == "success":
            return None
        return ElementTree.fromstring(self.signer.open_reply(response.text)).findtext("Content")


def wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def pushed(wechat, contains: str) -> list[str]:
    return [s.content for s in wechat.sent if s.openid == OPENID and contains in s.content]


def test_resident_to_adviser_and_back(corpus_index, tmp_path, wechat, wecom):
    port = free_port()
    env = stack_env(corpus_index, tmp_path, wechat, wecom, port)
    with env.sessions.begin() as session:
        create_account(session, "p-adviser-1", PASSWORD, "adviser", display_name="甲顾问")
    with running_app(env.settings, port) as base, client_for(base) as http:
        resident = Resident(http)
        ask = resident.says("转人工")
        assert "哪个乡镇、哪个村" in ask and "【演示数据" in ask
        confirmed = resident.says("我是示例镇示例村的")
        assert "记住了：示例镇示例村" in confirmed
        # The replies of that turn fit one WeChat message: who takes the case and how to end it come with it.
        assert "甲顾问（示例）" in confirmed and "结束人工" in confirmed
        assert pushed(wechat, "甲顾问（示例）") == []
        with env.sessions() as session:
            ticket = session.scalar(select(Ticket))
        assert (ticket.state, ticket.group_id, ticket.village) == ("open", "g-t1", "sx-t1-v1")

        card = wait_for(lambda: wecom.for_key("sample-key-t1"))[0].content
        assert f"https://lawline.example/console/cases/{ticket.id}" in card and "示例镇示例村" in card
        assert "转人工" in card  # what the resident wrote

        adviser = client_for(base, "p-adviser-1")
        try:
            queue = adviser.get("/console/cases")
            assert queue.status_code == 200 and f"#{ticket.id}" in queue.text
            page = f"/console/cases/{ticket.id}"
            assert "我是示例镇示例村的" in adviser.get(page).text  # the transcript
            claimed = post_form(adviser, page, f"{page}/claim", {})
            assert claimed.status_code == 303
            replied = post_form(adviser, page, f"{page}/reply", {"text": "您好，请把承包合同拍照发给我看看。",
                                                                   "canned": ""})
            assert replied.status_code == 303
            reply = wait_for(lambda: pushed(wechat, "承包合同拍照"))[0]
            assert "【法律顾问 甲顾问（示例）回复】" in reply and "演示数据" in reply

            # While the adviser handles the case, the resident's messages go to them; the bot stays out.
            assert resident.says("好的，我晚上拍了发您") is None
            with env.sessions() as session:
                kinds = list(session.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id)))
            assert kinds.count("resident_message") == 1
            assert "好的，我晚上拍了发您" in adviser.get(page).text

            closed = post_form(adviser, page, f"{page}/close", {"outcome": "resolved", "note": "已解答"})
            assert closed.status_code == 303
        finally:
            adviser.close()
        wait_for(lambda: pushed(wechat, "满意吗"))
        assert "谢谢您的打分" in resident.says("5")
        assert "认真看" in resident.says("顾问很耐心")
    with env.sessions() as session:
        ticket = session.get(Ticket, ticket.id)
        feedback = [(f.kind, f.score) for f in session.scalars(select(Feedback).order_by(Feedback.id))]
    assert ticket.state == "closed" and ticket.outcome == "resolved" and ticket.rating == 5
    assert feedback == [("rating", 5), ("rating_comment", None)]
    assert wecom.refused == 0


def test_the_parts_of_an_answer_the_channel_pushed_count_against_the_residents_quota(corpus_index, tmp_path,
                                                                                      wechat, wecom):
    port = free_port()
    # The passive window is cut to 0.01 s: the answer misses it and goes out by push, from the outbox.
    env = stack_env(corpus_index, tmp_path, wechat, wecom, port, LAWLINE_PASSIVE_REPLY_SECONDS="0.01")
    with running_app(env.settings, port) as base, client_for(base) as http:
        resident = Resident(http, "o-e2e-quota")
        # Rasa is down: the answer comes from retrieval with the degraded note.
        assert resident.says("包工头跑了，干了半年的工钱找谁要") is None  # "success": it will be pushed
        parts = wait_for(lambda: [s.content for s in wechat.sent if s.openid == "o-e2e-quota"])
        assert "12348" in "\n".join(parts)

        def counted() -> int:
            with env.sessions() as session:
                row = session.get(ResidentProfile, "official_account:o-e2e-quota")
                return row.sent_since_inbound if row is not None else 0

        assert wait_for(counted) == len(parts) >= 1


def test_danger_gets_the_emergency_numbers_first(corpus_index, tmp_path, wechat, wecom):
    port = free_port()
    env = stack_env(corpus_index, tmp_path, wechat, wecom, port)
    with running_app(env.settings, port) as base, client_for(base) as http:
        reply = Resident(http, "o-e2e-danger").says("他说今晚回来要弄死我")
        assert reply.splitlines()[1].startswith("· 有危险，马上打 110")  # a threat: the police first
        assert "12348" in reply and "12356" not in reply
        card = wait_for(lambda: wecom.for_key("sample-key-hotline"))[0].content
        assert "紧急" in card and "威胁" in card
    with env.sessions() as session:
        assert session.scalar(select(Ticket.urgent)) is True
