"""Kill -9 the real server (``lawline serve``) in the middle of an escalation and start it again: nothing is
lost. The card that could not reach WeChat Work, the adviser's reply that could not reach WeChat and the
resident's message to the adviser are all in the database when the process dies, and the new process
delivers them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.console.accounts import create_account
from handoff.models import Delivery, OutboxMessage, Ticket, TicketEvent
from tests.conftest import free_port
from tests.console.conftest import PASSWORD, client_for, post_form
from tests.handoff.test_end_to_end import Resident, pushed, stack_env, wait_for

pytestmark = pytest.mark.slow


def _serve(env, port: int, log: Path, wait: bool = True, **extra: str) -> subprocess.Popen[bytes]:
    s = env.settings
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LAWLINE_")},
        "LAWLINE_VAR_DIR": str(s.var_dir), "LAWLINE_DATABASE_URL": s.database_url,
        "LAWLINE_INDEX_DIR": str(s.index_dir), "LAWLINE_CORPUS_DIR": str(s.corpus_dir),
        "LAWLINE_DANGER_MODEL": str(s.danger_model), "LAWLINE_RASA_URL": s.rasa_url, "LAWLINE_ENGINE_TIMEOUT": "1.0", "LAWLINE_CONSOLE_SECRET": s.console_secret,
        "LAWLINE_PORT": str(port), "LAWLINE_DIRECTORY": str(s.directory), "LAWLINE_WECOM_API_BASE": s.wecom_api_base,
        "LAWLINE_PUBLIC_URL": s.public_url, "LAWLINE_WECHAT_TOKEN": s.wechat_token,
        "LAWLINE_WECHAT_APPID": s.wechat_appid, "LAWLINE_WECHAT_APPSECRET": s.wechat_appsecret,
        "LAWLINE_WECHAT_AES_KEY": s.wechat_aes_key, "LAWLINE_WECHAT_API_BASE": s.wechat_api_base,
        **extra,
    }
    lawline = Path(sys.executable).with_name("lawline")
    with log.open("ab") as out:
        process = subprocess.Popen([str(lawline), "serve", "--no-rasa"], env=environ, stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    if not wait:
        return process
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")[-2000:]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError("lawline serve did not start")


def _tried(env) -> bool:
    """The card's send failed once, and the adviser's reply is taken by the delivery worker (or was tried)."""
    with env.sessions() as session:
        card = session.scalar(select(OutboxMessage.attempts))
        reply = session.execute(select(Delivery.lease_until, Delivery.attempts)
                                .where(Delivery.kind == "reply")).first()
    return bool(card) and reply is not None and (reply.lease_until is not None or reply.attempts >= 1)


def _kill(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


def test_nothing_is_lost_when_the_server_is_killed(corpus_index, tmp_path, wechat, wecom):
    port = free_port()
    env = stack_env(corpus_index, tmp_path, wechat, wecom, port)
    with env.sessions.begin() as session:
        create_account(session, "p-adviser-1", PASSWORD, "adviser")
    log = tmp_path / "serve.log"
    # WeChat Work and WeChat's customer-service API are down while the first process runs.
    wecom.fail_next(*[502] * 100000)
    wechat.fail_next("/cgi-bin/message/custom/send", *[-1] * 100000)
    first = _serve(env, port, log)
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=30) as http:
            resident = Resident(http)
            resident.says("转人工")
            resident.says("示例村")
            adviser = client_for(base, "p-adviser-1")
            try:
                with env.sessions() as session:
                    ticket_id = session.scalar(select(Ticket.id))
                page = f"/console/cases/{ticket_id}"
                assert post_form(adviser, page, f"{page}/claim", {}).status_code == 303
                # To the adviser; the bot stays out. (Said before the reply: a reply already queued would be
                # handed over with this message, passively, whenever the worker is not sending it just then.)
                assert resident.says("合同在柜子里，我去找") is None
                sends = wechat.calls("/cgi-bin/message/custom/send")
                assert post_form(adviser, page, f"{page}/reply", {"text": "请把合同拍照发来。"}).status_code == 303
            finally:
                adviser.close()
            # Let the workers try (and fail) once: the card met a 502; the reply is taken and met WeChat's -1.
            wait_for(lambda: _tried(env) and wechat.calls("/cgi-bin/message/custom/send") > sends, timeout=30)
    finally:
        _kill(first)

    with env.sessions() as session:
        assert session.scalar(select(Ticket.state)) == "claimed"
        assert [m.state for m in session.scalars(select(OutboxMessage))] == ["pending"]
        assert [d.state for d in session.scalars(select(Delivery).where(Delivery.kind == "reply"))] == ["pending"]
        events = list(session.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket_id)))
    assert {"opened", "claimed", "staff_reply", "resident_message"} <= set(events)
    assert wecom.messages == [] and pushed(wechat, "合同拍照") == []

    wecom.reset()
    wechat.reset()  # both services are back
    second = _serve(env, port, log)
    try:
        card = wait_for(lambda: wecom.for_key("sample-key-t1"), timeout=60)
        assert len(card) == 1 and f"#{ticket_id}" in card[0].content
        reply = wait_for(lambda: pushed(wechat, "合同拍照"), timeout=60)
        assert len(reply) == 1
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            assert Resident(http).says("找到了") is None  # still the adviser's case after the restart
    finally:
        _kill(second)
    with env.sessions() as session:
        assert [m.state for m in session.scalars(select(OutboxMessage))] == ["sent"]
        assert session.scalar(select(Delivery.state).where(Delivery.kind == "reply")) == "sent"


def test_a_message_sent_while_the_server_loads_waits_for_it_and_is_answered(corpus_index, tmp_path, wechat, wecom):
    """``lawline serve`` listens before it loads (the index, the encoders, the danger model take seconds, more on
    a busy machine): WeChat's delivery during a restart is queued, not refused until its retries run out."""
    port = free_port()
    env = stack_env(corpus_index, tmp_path, wechat, wecom, port)
    log = tmp_path / "serve.log"
    process = _serve(env, port, log, wait=False)
    try:
        deadline = time.monotonic() + 120
        while True:  # the first moment a connection is taken
            assert process.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-2000:]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        assert "Application startup complete" not in log.read_text(errors="replace"), "listened only once loaded"
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:
            reply = Resident(http, "o-while-loading").says("老板拖欠工资三个月了怎么办")
        assert "Application startup complete" in log.read_text(errors="replace")
        # The passive reply, or (a busy machine missed WeChat's window) the same answer pushed.
        answer = reply or "".join(wait_for(lambda: [s.content for s in wechat.sent if s.openid == "o-while-loading"],
                                           timeout=60))
        assert "劳动" in answer, answer
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
