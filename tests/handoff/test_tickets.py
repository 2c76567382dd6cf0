"""Tickets on real SQLite and PostgreSQL: opening and routing, a person's work, deadlines in duty time."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from handoff.errors import TicketConflict, TicketError
from handoff.models import Delivery, OutboxMessage, ResidentProfile, TicketEvent
from handoff.texts import load_texts
from handoff.tickets import TicketService
from tests.handoff.conftest import SHANGHAI, Clock, local


@pytest.fixture
def tickets(sessions, directory, clock):
    return TicketService(sessions, directory, load_texts(), clock=clock,
                         link=lambda i: f"https://lawline.example/console/cases/{i}")


def _outbox(sessions, **where):
    with sessions() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        for name, value in where.items():
            query = query.where(getattr(OutboxMessage, name) == value)
        return list(session.scalars(query))


def _deliveries(sessions, key):
    with sessions() as session:
        return list(session.scalars(select(Delivery).where(Delivery.conversation_key == key).order_by(Delivery.id)))


def test_a_village_case_goes_to_its_adviser_with_a_card(tickets, sessions):
    opened = tickets.open("web:r1", reason="requested", topic="land", village="sx-t1-v1",
                          summary="村里要收回俺家的地", answered=["《中华人民共和国农村土地承包法》第二十七条"])
    ticket = opened.ticket
    assert opened.created and opened.route.on_duty
    assert (ticket.state, ticket.target, ticket.group_id, ticket.assignee) == ("open", "adviser", "g-t1", "p-adviser-1")
    assert ticket.first_response_due.astimezone(SHANGHAI).time() == dt.time(10, 30)  # 30 duty minutes
    [card] = _outbox(sessions)
    content = card.payload["markdown"]["content"]
    assert card.group_id == "g-t1" and card.state == "pending"
    for expected in ("【演示数据】", f"#{ticket.id}", "土地承包", "示例镇示例村", "居民要求转人工", "村里要收回俺家的地",
                     "农村土地承包法》第二十七条", f"https://lawline.example/console/cases/{ticket.id}"):
        assert expected in content
    again = tickets.open("web:r1", reason="requested", summary="还有一个问题")
    assert not again.created and again.ticket.id == ticket.id  # never two open tickets for one resident
    assert len(_outbox(sessions)) == 1


def test_the_public_entry_for_a_legal_aid_pre_application(tickets, sessions):
    opened = tickets.open("union:u-42", reason="legal_aid_pre_application", topic="wages", village="sx-t2-v1",
                          summary="农民工讨薪，申请法律援助", urgent=False)
    assert opened.ticket.reason == "legal_aid_pre_application" and opened.ticket.group_id == "g-t2"
    assert "法律援助预申请" in _outbox(sessions)[0].payload["markdown"]["content"]
    with pytest.raises(ValueError):
        tickets.open("union:u-42", reason="whatever")


def test_no_village_goes_to_the_hotline_lawyer_with_the_right_specialty(tickets):
    ticket = tickets.open("web:r2", reason="requested", topic="support").ticket
    assert (ticket.target, ticket.group_id, ticket.assignee) == ("hotline", "g-hotline", "p-lawyer-family")
    ticket = tickets.open("web:r3", reason="requested", topic="wages").ticket
    assert ticket.assignee == "p-lawyer-labour"


def test_out_of_hours_books_the_next_duty_period(sessions, directory):
    clock = Clock(local(2026, 3, 9, 22, 0))  # Monday night: nobody on duty
    tickets = TicketService(sessions, directory, load_texts(), clock=clock)
    opened = tickets.open("web:night", reason="requested", village="sx-t1-v1")
    assert not opened.route.on_duty
    assert opened.ticket.state == "callback"
    # The hotline starts at 08:30, before the advisers' office at 09:00.
    assert opened.ticket.callback_at.astimezone(SHANGHAI) == dt.datetime(2026, 3, 10, 8, 30, tzinfo=SHANGHAI)
    booked = tickets.book_callback(opened.ticket.id, "13800138000")
    assert booked.callback_phone == "13800138000"
    with pytest.raises(TicketError):
        tickets.book_callback(opened.ticket.id, "12345")


def test_danger_is_urgent_goes_to_whoever_is_on_duty_and_copies_the_village(tickets, sessions):
    ticket = tickets.open("web:r4", reason="danger", urgent=True, danger=["家庭暴力"], village="sx-t1-v1").ticket
    assert ticket.urgent and ticket.danger == "家庭暴力" and ticket.group_id == "g-hotline"
    assert ticket.first_response_due - ticket.created_at == dt.timedelta(minutes=10)
    groups = [m.group_id for m in _outbox(sessions)]
    assert groups == ["g-hotline", "g-t1"]
    assert "紧急" in _outbox(sessions)[0].payload["markdown"]["content"]


def test_claim_reply_transfer_close_with_full_history(tickets, sessions, clock):
    ticket = tickets.open("web:r5", reason="requested", village="sx-t1-v1").ticket
    clock.advance(minutes=3)
    tickets.claim(ticket.id, "p-adviser-1")
    with pytest.raises(TicketConflict):
        tickets.claim(ticket.id, "p-adviser-2")
    with pytest.raises(TicketConflict):
        tickets.reply(ticket.id, "p-adviser-2", "我来回答")
    with pytest.raises(TicketError):
        tickets.reply(ticket.id, "p-adviser-1", "   ")
    with pytest.raises(TicketError):
        tickets.reply(ticket.id, "p-adviser-1", "长" * 601)
    clock.advance(minutes=2)
    tickets.reply(ticket.id, "p-adviser-1", "您好，请把承包合同拍照发来。")
    [reply] = _deliveries(sessions, "web:r5")
    assert reply.state == "pending" and "【法律顾问 甲顾问（示例）回复】" in reply.text and "承包合同" in reply.text
    tickets.resident_message("web:r5", "好的，合同在这里")
    moved = tickets.transfer(ticket.id, "p-adviser-1", "legal_aid", note="符合援助条件")
    assert (moved.state, moved.owner, moved.target, moved.group_id) == ("open", None, "legal_aid", "g-hotline")
    notice = _deliveries(sessions, "web:r5")[-1].text
    assert "法律援助中心" in notice and "000-0000-0002" in notice
    tickets.claim(ticket.id, "p-lawyer-labour")
    closed = tickets.close(ticket.id, "p-lawyer-labour", "legal_aid", "已受理援助申请")
    assert closed.state == "closed" and closed.outcome == "legal_aid"
    with pytest.raises(TicketConflict):
        tickets.close(ticket.id, "p-lawyer-labour", "resolved")
    asked = _deliveries(sessions, "web:r5")[-1]
    assert "满意吗" in asked.text
    with sessions() as session:
        profile = session.get(ResidentProfile, "web:r5")
        # The rating waits for that question to reach the resident (handoff.desk checks the delivery).
        assert profile.pending == "rating" and profile.pending_data == {"ticket": ticket.id, "delivery": asked.id}
    full = tickets.get(ticket.id)
    assert [e.kind for e in full.events] == ["opened", "card_queued", "claimed", "staff_reply", "resident_message",
                                            "transferred", "card_queued", "claimed", "closed"]
    assert full.first_response_at is not None
    assert [e.actor for e in full.events if e.kind == "claimed"] == ["p-adviser-1", "p-lawyer-labour"]


# Row locks are PostgreSQL's (SQLite has one writer at a time), so this runs on PostgreSQL only.
@pytest.mark.parametrize("database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_ticket_another_worker_is_sweeping_is_skipped_not_reminded_twice(tickets, sessions, clock, engine):
    from handoff.models import Ticket

    assert engine.dialect.name == "postgresql"
    ticket = tickets.open("web:r6b", reason="requested", village="sx-t1-v1").ticket
    clock.advance(minutes=21)  # the reminder is due
    with sessions.begin() as other_worker:  # another worker's sweep, in the middle of its transaction
        other_worker.scalars(select(Ticket).with_for_update()).all()
        assert tickets.sweep().reminded == []  # skipped, not waited for, not reminded a second time
    assert tickets.sweep().reminded == [ticket.id]
    assert tickets.sweep().reminded == []
    assert [m.kind for m in _outbox(sessions, ticket_id=ticket.id)].count("reminder") == 1


def test_deadlines_remind_then_escalate_to_the_supervisor(tickets, sessions, clock):
    ticket = tickets.open("web:r6", reason="requested", village="sx-t1-v1").ticket
    assert tickets.sweep().reminded == []
    clock.advance(minutes=21)  # 10 minutes before the 30-minute deadline
    assert tickets.sweep().reminded == [ticket.id]
    assert tickets.sweep().reminded == []  # once
    clock.advance(minutes=10)
    report = tickets.sweep()
    assert report.escalated == [ticket.id]
    kinds = [(m.group_id, m.kind) for m in _outbox(sessions)]
    assert ("g-t1", "reminder") in kinds and ("g-supervisor", "escalation") in kinds


def test_a_resident_waiting_too_long_gets_an_apology_and_a_callback(tickets, sessions, clock):
    ticket = tickets.open("web:r7", reason="requested", village="sx-t1-v1").ticket
    clock.advance(minutes=59)
    assert tickets.sweep().timed_out == []
    clock.advance(minutes=2)
    report = tickets.sweep()
    assert report.timed_out == [ticket.id]
    after = tickets.get(ticket.id)
    assert after.state == "callback" and after.callback_at is not None
    apology = _deliveries(sessions, "web:r7")[-1].text
    assert "很抱歉让您久等了" in apology and "手机号码" in apology
    with sessions() as session:
        assert session.get(ResidentProfile, "web:r7").pending == "ask_phone"
        kinds = [e.kind for e in session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))]
    assert "timed_out" in kinds


def test_the_unconfigured_county_still_records_every_ticket(sessions):
    from handoff.directory import load_directory

    county = load_directory()
    tickets = TicketService(sessions, county, load_texts(), clock=Clock(local(2026, 3, 9, 10, 0)))
    opened = tickets.open("web:r8", reason="requested", topic="wages")
    assert not opened.route.configured
    assert opened.ticket.state == "open" and opened.ticket.group_id is None
    assert opened.ticket.first_response_due is None  # no duty hours configured: no invented deadline
    assert _outbox(sessions) == []
    assert [t.id for t in tickets.queue()] == [opened.ticket.id]


def test_a_reply_is_one_wechat_message_so_a_failed_send_is_never_resent_from_the_middle(tickets, sessions):
    from channels.splitting import WECHAT_TEXT_LIMIT_BYTES, split_text

    ticket = tickets.open("web:r9", reason="requested", village="sx-t1-v1").ticket
    tickets.claim(ticket.id, "p-adviser-1")
    tickets.reply(ticket.id, "p-adviser-1", "长" * 600)  # the longest reply in Chinese characters
    [longest] = _deliveries(sessions, "web:r9")
    assert len(split_text(longest.text)) == 1 and len(longest.text.encode()) <= WECHAT_TEXT_LIMIT_BYTES
    with pytest.raises(TicketError, match="bytes"):  # 600 characters, but emoji of 4 bytes each
        tickets.reply(ticket.id, "p-adviser-1", "👍" * 600)
    assert len(_deliveries(sessions, "web:r9")) == 1

