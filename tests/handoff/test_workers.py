"""``lawline serve`` with two app worker processes (LAWLINE_WORKERS=2) on one database: residents are
answered by both, and an escalation's case card and the adviser's reply go out exactly once although both
workers run the robot outbox and the delivery worker."""

from __future__ import annotations

import time

import httpx
import psutil
import pytest
from sqlalchemy import func, select

from bot.console.accounts import create_account
from handoff.models import OutboxMessage, Ticket
from tests.conftest import free_port
from tests.console.conftest import PASSWORD, client_for, post_form
from tests.handoff.test_end_to_end import Resident, pushed, stack_env, wait_for
from tests.handoff.test_restart import _kill, _serve

pytestmark = pytest.mark.slow


def _workers(pid: int) -> list[psutil.Process]:
    """uvicorn's worker processes (multiprocessing spawn children) under ``lawline serve``."""
    return [p for p in psutil.Process(pid).children(recursive=True)
            if any("spawn_main" in part for part in p.cmdline())]


def test_two_workers_share_the_work_and_send_each_card_once(corpus_index, tmp_path, wechat, wecom):
    port = free_port()
    env = stack_env(corpus_index, tmp_path, wechat, wecom, port)
    with env.sessions.begin() as session:
        create_account(session, "p-adviser-1", PASSWORD, "adviser")
    server = _serve(env, port, tmp_path / "serve.log", LAWLINE_WORKERS="2")
    try:
        assert len(_workers(server.pid)) == 2
        base = f"http://127.0.0.1:{port}"
        # Several residents, each on a new connection (the kernel hands connections to either worker).
        answers = []
        for n in range(6):
            with httpx.Client(base_url=base, timeout=30) as http:
                openid = f"o-worker-{n}"
                passive = Resident(http, openid).says("老板欠了俺三个月工钱不给")
                # Past WeChat's five seconds (a loaded machine) the answer goes out as a push instead.
                answers.append(passive or wait_for(lambda o=openid: next(
                    (m.content for m in wechat.sent if m.openid == o and "劳动" in m.content), None), timeout=60))
        assert all(a and "劳动" in a for a in answers), answers

        with httpx.Client(base_url=base, timeout=30) as http:
            resident = Resident(http)
            resident.says("转人工")
            resident.says("示例村")
            card = wait_for(lambda: wecom.for_key("sample-key-t1"), timeout=60)
            with env.sessions() as session:
                ticket_id = session.scalar(select(Ticket.id))
            assert len(card) == 1 and f"#{ticket_id}" in card[0].content
            adviser = client_for(base, "p-adviser-1")
            try:
                page = f"/console/cases/{ticket_id}"
                assert post_form(adviser, page, f"{page}/claim", {}).status_code == 303
                assert post_form(adviser, page, f"{page}/reply", {"text": "请把合同拍照发来。"}).status_code == 303
            finally:
                adviser.close()
            assert len(wait_for(lambda: pushed(wechat, "合同拍照"), timeout=60)) == 1
            time.sleep(3.0)  # both workers have had several rounds since
        assert len(wecom.for_key("sample-key-t1")) == 1
        assert len(pushed(wechat, "合同拍照")) == 1
        with env.sessions() as session:
            assert session.scalar(select(func.count()).select_from(OutboxMessage)
                                  .where(OutboxMessage.state != "sent")) == 0
        assert len(_workers(server.pid)) == 2
    finally:
        _kill(server)
