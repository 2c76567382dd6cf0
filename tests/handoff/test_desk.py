"""The resident's side: danger first, asking the village once, out-of-hours callbacks, 结束人工, ratings,
complaints, and the bot staying out while a person handles the case."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from handoff.desk import HandoffDesk, Resident
from handoff.directory import load_directory
from handoff.models import Feedback, OutboxMessage, ResidentProfile, Ticket, TicketEvent
from handoff.residents import village_of
from handoff.signals import load_signals
from handoff.texts import load_texts
from handoff.tickets import TicketService
from tests.handoff.conftest import Clock, local

WHO = Resident("official_account:o-desk", "official_account", "o-desk")


def make_desk(sessions, directory, clock):
    texts = load_texts()
    tickets = TicketService(sessions, directory, texts, clock=clock)
    return HandoffDesk(sessions, tickets, directory, texts, load_signals(), None, clock=clock)


@pytest.fixture
def desk(sessions, directory, clock):
    return make_desk(sessions, directory, clock)


def _tickets(sessions) -> list[Ticket]:
    with sessions() as session:
        return list(session.scalars(select(Ticket).order_by(Ticket.id)))


def test_danger_comes_first_with_the_emergency_numbers_and_an_urgent_ticket(desk, sessions):
    reply = desk.before_bot(WHO, "我老公喝了酒又打我，我现在躲在邻居家")
    assert reply.handled
    text = reply.replies[0]
    for number in ("110", "120", "12338", "12348"):
        assert number in text
    assert "示例县妇联：000-0000-0003" in text and "【演示数据" in text  # sample data is marked
    [ticket] = _tickets(sessions)
    assert ticket.urgent and ticket.reason == "danger" and ticket.danger == "家庭暴力"
    assert "保护令" in text and text.index("110") < text.index("12338")
    assert reply.meta["danger"] == {"kinds": ["domestic_violence"], "rule": "domestic_violence#2", "score": None,
                                    "threshold": None, "by": "pattern", "check": False}
    with sessions() as session:
        [opened] = [e for e in session.scalars(select(TicketEvent)) if e.kind == "opened"]
    assert opened.data["triage"]["rule"] == "domestic_violence#2"  # which rule fired stays on the ticket


def _first_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("·")]


def test_self_harm_gets_120_and_the_mental_health_line_with_a_calm_sentence(desk):
    text = desk.before_bot(WHO, "活不下去了，不想再撑了").replies[0]
    assert "12356" in text and "120" in text and "不是一个人" in text
    assert "12338" not in text and "保护令" not in text  # not the domestic-violence lines
    assert text.index("不是一个人") < text.index("120") < text.index("12356")


def test_a_child_at_risk_gets_110_and_12355(desk):
    text = desk.before_bot(WHO, "孩子被人带走了，找不到了").replies[0]
    lines = _first_lines(text)
    assert "110" in lines[0] and any("12355" in line for line in lines)


def test_an_injury_gets_120_first(desk):
    text = desk.before_bot(WHO, "工友刚才从架子上摔下来，叫不醒").replies[0]
    assert "120" in _first_lines(text)[0]


def test_a_threat_gets_110_first_and_no_lines_for_other_kinds(desk):
    text = desk.before_bot(WHO, "他扬言要烧了我家房子").replies[0]
    lines = _first_lines(text)
    assert "110" in lines[0] and "12356" not in text and "12355" not in text


def test_inside_a_form_the_reply_says_the_question_waits(desk):
    text = desk.before_bot(WHO, "他扬言要烧了我家房子", in_form=True).replies[0]
    assert text.endswith(load_texts().emergency.resume)
    assert load_texts().emergency.resume not in desk.before_bot(WHO, "他扬言要烧了我家房子").replies[0]


def test_danger_during_a_claimed_case_alerts_its_group_at_once(desk, sessions):
    desk.before_bot(WHO, "转人工")
    desk.before_bot(WHO, "示例镇示例村")
    [ticket] = _tickets(sessions)
    desk.tickets.claim(ticket.id, "p-adviser-1")
    reply = desk.before_bot(WHO, "他又拿着斧头来了")
    assert "110" in reply.replies[0]
    [ticket] = _tickets(sessions)
    assert ticket.urgent and ticket.state == "claimed"  # still the adviser's case, now urgent
    with sessions() as session:
        cards = [m for m in session.scalars(select(OutboxMessage)) if "紧急" in m.payload["markdown"]["content"]]
    assert {m.group_id for m in cards} >= {ticket.group_id}
    desk.before_bot(WHO, "他说要弄死我")
    with sessions() as session:
        notes = [m for m in session.scalars(select(OutboxMessage))
                 if "居民又发来危险信息" in m.payload["markdown"]["content"]]
        kinds = [e.kind for e in session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))]
    assert notes and notes[0].group_id == ticket.group_id and "danger_again" in kinds


def test_the_village_is_asked_once_and_remembered(desk, sessions):
    ask = desk.before_bot(WHO, "转人工")
    assert ask.handled and "哪个乡镇、哪个村" in ask.replies[0]
    assert _tickets(sessions) == []
    wrong = desk.before_bot(WHO, "火星村")
    assert "没找到这个地方" in wrong.replies[0]
    done = desk.before_bot(WHO, "示例镇示例村")
    assert "记住了：示例镇示例村" in done.replies[0]
    assert "甲顾问（示例）" in done.replies[1] and "结束人工" in done.replies[1]
    [ticket] = _tickets(sessions)
    assert (ticket.village, ticket.group_id, ticket.state) == ("sx-t1-v1", "g-t1", "open")
    # While a person has the case, the bot stays out and the message goes to the ticket.
    forwarded = desk.before_bot(WHO, "合同找不到了怎么办")
    assert forwarded.handled and forwarded.replies == [load_texts()["waiting_ack"]]
    desk.tickets.claim(ticket.id, "p-adviser-1")
    quiet = desk.before_bot(WHO, "还在吗")
    assert quiet.handled and quiet.replies == []
    assert [e.kind for e in desk.tickets.get(ticket.id).events].count("resident_message") == 2
    # 结束人工 closes it and asks for a rating; the rating and a comment are stored.
    end = desk.before_bot(WHO, "结束人工")
    assert "人工服务已经结束" in end.replies[0] and "1 到 5" in end.replies[1]
    assert desk.before_bot(WHO, "5").replies == [load_texts()["rating_thanks"]]
    assert desk.before_bot(WHO, "顾问很耐心").replies == [load_texts()["rating_comment_thanks"]]
    with sessions() as session:
        feedback = [(f.kind, f.score, f.comment) for f in session.scalars(select(Feedback).order_by(Feedback.id))]
        assert village_of(session, WHO.key) == "sx-t1-v1"  # what 去哪里办事 and the mini-program read
        assert village_of(session, "official_account:o-never-said") is None
    assert feedback == [("rating", 5, None), ("rating_comment", None, "顾问很耐心")]
    assert _tickets(sessions)[0].rating == 5
    # Next time the village is not asked again.
    again = desk.before_bot(WHO, "转人工")
    assert "示例镇示例村的法律顾问" in again.replies[0] and len(_tickets(sessions)) == 2


def test_not_knowing_the_village_goes_to_the_hotline(desk, sessions):
    desk.before_bot(WHO, "找律师")
    reply = desk.before_bot(WHO, "不知道")
    assert "12348 值班律师" in reply.replies[0]
    assert _tickets(sessions)[0].target == "hotline"


def test_out_of_hours_offers_a_callback_with_consent(sessions, directory):
    clock = Clock(local(2026, 3, 9, 22, 0))
    desk = make_desk(sessions, directory, clock)
    desk.before_bot(WHO, "转人工")
    reply = desk.before_bot(WHO, "演示乡演示村")
    assert "不在班" in reply.replies[1] and "03月10日08:30" in reply.replies[1]
    assert "12348 热线 7×24" in reply.replies[1]
    booked = desk.before_bot(WHO, "我的电话是138 0013 8000")
    assert "138****8000" in booked.replies[0]
    [ticket] = _tickets(sessions)
    assert ticket.state == "callback" and ticket.callback_phone == "13800138000"
    # Out of hours the bot keeps answering (self-help) while the callback waits.
    assert not desk.before_bot(WHO, "工资怎么算").handled


def test_declining_the_callback(sessions, directory):
    desk = make_desk(sessions, directory, Clock(local(2026, 3, 7, 20, 0)))
    desk.before_bot(WHO, "转人工")
    desk.before_bot(WHO, "示例村")
    assert desk.before_bot(WHO, "不用了").replies == [load_texts()["callback_declined"]]
    assert _tickets(sessions)[0].callback_phone is None


def test_the_dialogues_handoff_signal_and_the_fallback_offer(desk, sessions):
    with sessions.begin() as session:
        session.add(ResidentProfile(conversation_key=WHO.key, village="sx-t2-v1", sent_since_inbound=0,
                                    pending_data={}, updated_at=local(2026, 3, 9, 9, 0)))
    offered = desk.after_bot(WHO, "嗯嗯嗯", ["抱歉……回复“转人工”"], {"offer_handoff": "not_understood"})
    assert offered == ["抱歉……回复“转人工”"]
    replies = desk.after_bot(WHO, "/human", ["正在帮您转人工"], {"handoff": {"reason": "requested", "topic": "wages"}})
    assert "乙顾问（示例）" in replies[0]
    [ticket] = _tickets(sessions)
    assert (ticket.reason, ticket.topic, ticket.group_id) == ("not_understood", "wages", "g-t2")


def test_a_case_beyond_self_help_is_offered_a_person(desk, sessions):
    replies = desk.after_bot(WHO, "法院下周开庭，我们十几个工友一起告老板", ["答案"], {})
    assert replies[0] == "答案" and "开庭" in replies[1] and "转人工" in replies[1]
    desk.before_bot(WHO, "转人工")
    desk.before_bot(WHO, "示例村")
    assert _tickets(sessions)[0].reason == "beyond_self_help"


def test_complaints_and_suggestions_at_any_time_reach_the_supervisor(desk, sessions):
    ask = desk.before_bot(WHO, "投诉")
    assert "投诉" in ask.replies[0]
    thanks = desk.before_bot(WHO, "上周打电话没人接，我的号码13800138000")
    assert thanks.replies == [load_texts()["feedback_thanks"]]
    with sessions() as session:
        [feedback] = session.scalars(select(Feedback)).all()
        [note] = session.scalars(select(OutboxMessage)).all()
    assert feedback.kind == "complaint"
    assert note.group_id == "g-supervisor" and "138****8000" in note.payload["markdown"]["content"]


def test_the_real_county_says_honestly_to_call_12348(sessions, clock):
    desk = make_desk(sessions, load_directory(), clock)
    reply = desk.before_bot(WHO, "转人工")
    assert "还没有开通在线转接" in reply.replies[0] and "12348" in reply.replies[0]
    assert "演示" not in reply.replies[0]
    # Nobody watches an unconfigured queue: the bot keeps answering.
    assert not desk.before_bot(WHO, "工资怎么算").handled


def _unsure_desk(sessions, directory, clock, tmp_path) -> HandoffDesk:
    """A desk whose model is unsure of every message: above the check-in level, below the alarm."""
    from handoff.danger import Triage, load_examples, train_model

    (tmp_path / "ex.jsonl").write_text("\n".join(
        [json.dumps({"text": f"他又动手了{i}", "danger": True, "kind": "domestic_violence"}) for i in range(6)]
        + [json.dumps({"text": f"工资怎么算{i}", "danger": False}) for i in range(6)]) + "\n", encoding="utf-8")
    model = train_model(load_examples(tmp_path), folds=2)
    model.check_threshold, model.threshold = 0.0, 1.01
    desk = make_desk(sessions, directory, clock)
    desk.triage = Triage(load_signals(), model)
    return desk


def test_when_the_model_is_unsure_the_numbers_come_first_and_danger_turns_it_into_the_emergency_reply(
        sessions, directory, clock, tmp_path):
    desk = _unsure_desk(sessions, directory, clock, tmp_path)
    first = desk.before_bot(WHO, "最近家里不太平")
    assert not first.handled and first.replies == [] and first.preface == load_texts()["safety_check"]
    assert first.meta["safety_check"]["check"] is True
    assert _tickets(sessions) == []  # no urgent ticket for a check
    again = desk.before_bot(WHO, "家里最近还是不太平")
    assert again.preface is None and not again.handled  # asked at most once a day
    emergency = desk.before_bot(WHO, "危险")
    assert emergency.handled and "110" in emergency.replies[0]
    [ticket] = _tickets(sessions)
    assert ticket.urgent and emergency.meta["danger"]["rule"] == "check_in"


def test_the_safety_check_is_shown_while_another_question_waits_and_the_question_still_waits(
        sessions, directory, clock, tmp_path):
    desk = _unsure_desk(sessions, directory, clock, tmp_path)
    texts = load_texts()
    ask = desk.before_bot(WHO, "转人工")  # commands never get the check
    assert ask.handled and "safety_check" not in ask.meta and texts["safety_check"] not in ask.replies[0]
    # An unsure message in place of the village: the numbers first, the bot answers, the question waits.
    side = desk.before_bot(WHO, "顺便问一下，家里最近不太平该怎么办")
    assert not side.handled and side.preface == texts["safety_check"] and "哪个乡镇、哪个村" in side.postscript
    # 危险 still answers the check although the village question was the one pending.
    emergency = desk.before_bot(WHO, "危险")
    assert emergency.handled and emergency.meta["handoff"] == "danger" and "110" in emergency.replies[0]
    assert any(t.urgent for t in _tickets(sessions))


def test_an_unsure_answer_to_a_pending_question_gets_the_numbers_before_the_reply(
        sessions, directory, clock, tmp_path):
    desk = _unsure_desk(sessions, directory, clock, tmp_path)
    desk.before_bot(WHO, "转人工")
    done = desk.before_bot(WHO, "示例镇示例村")  # answers the village question, and the model is unsure of it
    assert done.handled and done.replies[0].startswith(load_texts()["safety_check"])
    assert "记住了：示例镇示例村" in done.replies[0] and done.meta["handoff"] == "ask_village"
    assert [t.village for t in _tickets(sessions)] == ["sx-t1-v1"]  # the answer still counted


def test_an_unsure_message_during_a_persons_case_reaches_the_person_without_the_check(
        sessions, directory, clock, tmp_path):
    desk = _unsure_desk(sessions, directory, clock, tmp_path)
    with sessions.begin() as session:  # the village is known, so 转人工 opens the case at once
        from handoff.residents import profile
        profile(session, WHO.key, clock()).village = "sx-t1-v1"
    desk.before_bot(WHO, "转人工")
    [ticket] = _tickets(sessions)
    desk.tickets.claim(ticket.id, "p-adviser-1")
    worried = desk.before_bot(WHO, "他刚才在门口转了好几圈")
    assert worried.handled and worried.replies == [] and "safety_check" not in worried.meta
    events = [(e.kind, e.text) for e in desk.tickets.get(ticket.id).events]
    assert ("resident_message", "他刚才在门口转了好几圈") in events  # the person reads it and judges


def test_giving_up_on_the_village_question_ends_it_kindly(desk, sessions):
    desk.before_bot(WHO, "转人工")
    reply = desk.before_bot(WHO, "哎算了，不找人了")
    assert reply.handled and reply.replies == [load_texts()["handoff_dropped"]]
    assert "没找到这个地方" not in reply.replies[0] and _tickets(sessions) == []
    assert not desk.before_bot(WHO, "示例镇示例村").handled  # the question no longer waits


def test_a_legal_question_in_place_of_the_village_is_answered_and_the_question_waits(desk, sessions):
    desk.before_bot(WHO, "转人工")
    side = desk.before_bot(WHO, "顺便问一下，工伤认定要多久")
    assert not side.handled  # the bot answers it
    assert "哪个乡镇、哪个村" in side.postscript and "算了" in side.postscript
    done = desk.before_bot(WHO, "示例镇示例村")
    assert "记住了：示例镇示例村" in done.replies[0] and len(_tickets(sessions)) == 1


def test_ending_a_case_no_person_took_part_in_asks_for_no_rating(desk, sessions):
    desk.before_bot(WHO, "转人工")
    desk.before_bot(WHO, "示例镇示例村")
    end = desk.before_bot(WHO, "结束人工")
    assert end.replies == [load_texts()["ended_unattended"]] and "满意" not in end.replies[0]
    assert not desk.before_bot(WHO, "5").handled  # a 5 now is no rating of a person
    with sessions() as session:
        assert session.scalars(select(Feedback)).all() == []
    assert _tickets(sessions)[0].state == "closed" and _tickets(sessions)[0].rating is None


def test_a_rating_is_taken_only_after_its_question_reached_the_resident(desk, sessions):
    web = Resident("web:r-rating", "web", None)  # the web chat is never pushed to: replies wait for a message
    desk.before_bot(web, "转人工")
    desk.before_bot(web, "示例镇示例村")
    [ticket] = _tickets(sessions)
    desk.tickets.claim(ticket.id, "p-adviser-1")
    desk.tickets.close(ticket.id, "p-adviser-1", "resolved")
    early = desk.before_bot(web, "5")  # typed before the rating question: it comes with this reply
    assert not early.handled and "满意吗" in early.replies[-1]
    with sessions() as session:
        assert session.scalars(select(Feedback)).all() == []
    late = desk.before_bot(web, "4")
    assert late.replies == [load_texts()["rating_thanks"]] and _tickets(sessions)[0].rating == 4


def test_the_rating_can_be_given_up_in_the_residents_words(desk, sessions):
    desk.before_bot(WHO, "转人工")
    desk.before_bot(WHO, "示例镇示例村")
    [ticket] = _tickets(sessions)
    desk.tickets.claim(ticket.id, "p-adviser-1")
    assert "1 到 5" in desk.before_bot(WHO, "结束人工").replies[1]
    assert desk.before_bot(WHO, "不想打分").replies == [load_texts()["rating_skipped"]]
    assert not desk.before_bot(WHO, "5").handled
