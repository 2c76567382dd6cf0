"""Analytics over real conversation, rating, ticket and eligibility rows (SQLite and PostgreSQL)."""

import datetime as dt

from bot.console.analytics import Scope, build_report, report_csv, weekly_summary
from bot.console.analytics_sources import DEFAULT_SOURCES
from bot.console.feedback import feedback_queue
from bot.console.models import AnswerRating
from bot.models import Conversation, Message

TODAY = dt.date(2026, 11, 25)  # a Wednesday
HANDOFF = "需要人工帮忙的，请打 12348。"


def _at(days_ago: int, hour: int = 10) -> dt.datetime:
    day = TODAY - dt.timedelta(days=days_ago)
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def _exchange(session, conversation, days_ago, question, meta, text="回答……", engine="rasa"):
    asked = _at(days_ago)
    session.add(Message(conversation_id=conversation.id, direction="in", channel=conversation.channel, text=question,
                        meta={}, created_at=asked))
    answer = Message(conversation_id=conversation.id, direction="out", channel=conversation.channel, text=text,
                     engine=engine, meta=meta, created_at=asked + dt.timedelta(seconds=2))
    session.add(answer)
    session.flush()
    return answer


def _populate(sessions):
    with sessions.begin() as session:
        people = [Conversation(key=f"web:{i:032d}", channel="web", openid=f"{i:032d}") for i in range(8)]
        session.add_all(people)
        session.flush()
        # Two weeks ago and the week before: a little of everything; last week: many land questions.
        for weeks_ago in (3, 2):
            _exchange(session, people[0], 7 * weeks_ago, "工资", {"confident": True, "card": "wages-unpaid-wages",
                                                                  "citations": ["《劳动法》第五十条"]})
            _exchange(session, people[1], 7 * weeks_ago, "土地", {"confident": True, "topic": "land"})
        for i in range(6):
            _exchange(session, people[i], 7, f"村里收回我的地，电话1391234567{i}", {"confident": True, "topic": "land"})
        unsure = _exchange(session, people[6], 7, "我叫张三丰，火星的房子", {"confident": False, "confidence": 0.05},
                           engine="retrieval")
        disliked = _exchange(session, people[7], 6, "儿子不给养老钱", {"confident": True, "topic": "support"})
        _exchange(session, people[7], 6, "转人工", {"handoff": "requested"}, text=HANDOFF)
        session.add(AnswerRating(message_id=disliked.id, conversation_id=people[7].id, rating=-1, channel="web",
                                 created_at=_at(6)))
        session.add(AnswerRating(message_id=unsure.id - 2, conversation_id=people[5].id, rating=1, channel="web",
                                 created_at=_at(7)))
        _add_records(session)


def _add_records(session):
    from bot.eligibility.models import EligibilityDecision
    from handoff.models import Ticket

    for village, responded, rating in (("白土坝村", 10, 5), ("白土坝村", None, None), ("石家镇", 200, 3)):
        created = _at(6)
        session.add(Ticket(conversation_key="web:x", reason="requested", topic="support", summary="张三 13900000000",
                           village=village, target="adviser", state="closed" if rating else "open",
                           created_at=created, updated_at=created,
                           first_response_at=created + dt.timedelta(minutes=responded) if responded else None,
                           first_response_due=created + dt.timedelta(minutes=60),
                           resolution_due=created + dt.timedelta(days=1),
                           closed_at=created + dt.timedelta(hours=3) if rating else None, rating=rating))
    for decision in ("eligible", "eligible", "needs_review"):
        session.add(EligibilityDecision(rules_version="v1", province="重庆市", matter="support_payment",
                                        decision=decision, means_test="exempt", basis=[], explanation="",
                                        input={}, source="chat", created_at=_at(6)))


def test_weekly_figures_by_topic_with_rates_and_a_rising_topic(sessions):
    _populate(sessions)
    with sessions() as session:
        report = build_report(session, weeks=6, today=TODAY, handoff_text=HANDOFF, sources=DEFAULT_SOURCES)
    last = report.weeks[-2]
    assert [w.week.weekday() for w in report.weeks] == [0] * 6 and report.weeks[-1].week == dt.date(2026, 11, 23)
    assert last.questions == 8 and last.topics["land"] == 6 and last.topics["support"] == 1
    assert last.unsure == 1 and last.handoffs == 1 and last.fallback == 1
    assert (last.thumbs_up, last.thumbs_down) == (1, 1) and last.median_reply_seconds == 2.0
    assert report.weeks[-4].topics == {"wages": 1, "land": 1}  # topic from the card id when none is given
    lines = weekly_summary(report)
    assert "咨询 8 次" in lines[1] and any("土地承包" in line and "明显增多" in line for line in lines)
    tickets = next(s for s in report.sections if s.title == "转人工工单")
    kpis = dict(tickets.kpis)
    # 白土坝村 answered in 10 min (in time), 石家镇 after 200 min (late), one still open and overdue.
    assert kpis["转人工工单"] == "3" and kpis["按时首次回复"] == "33%" and kpis["居民评分"].startswith("4.0")
    eligibility = next(s for s in report.sections if s.title == "法律援助自测结果")
    assert dict(eligibility.kpis)["可以申请"] == "67%"
    csv_text = report_csv(report)
    everything = csv_text + "\n".join(lines) + repr(report.sections)
    for secret in ("1391234567", "13900000000", "张三", "火星"):
        assert secret not in everything


def test_an_adviser_sees_only_their_villages(sessions):
    _populate(sessions)
    with sessions() as session:
        report = build_report(session, weeks=6, today=TODAY, handoff_text=HANDOFF, sources=DEFAULT_SOURCES,
                              scope=Scope(("白土坝村",)))
    assert report.total("questions") == 0  # conversations carry no village: nothing county-wide leaks
    assert [s.title for s in report.sections] == ["咨询的村（社区）和乡镇（您负责的村）", "转人工工单（您能办理的案件）"]
    assert report.sections[0].rows == ()  # no resident of 白土坝村 has told their village
    assert dict(report.sections[1].kpis)["转人工工单"] == "2" and report.sections[1].rows[0][0] == "白土坝村"


def test_questions_by_the_village_residents_told_and_its_town(sessions):
    from handoff.models import ResidentProfile

    _populate(sessions)
    with sessions.begin() as session:
        for i, village in ((0, "v-bai"), (1, "v-bai"), (2, "v-shi"), (3, "v-unlisted")):
            session.add(ResidentProfile(conversation_key=f"web:{i:032d}", village=village, sent_since_inbound=0,
                                        pending_data={}, updated_at=_at(6)))
    places = {"v-bai": ("石会镇", "白土坝村"), "v-shi": ("石家镇", "石家村")}
    with sessions() as session:
        county = build_report(session, weeks=6, today=TODAY, handoff_text=HANDOFF, sources=DEFAULT_SOURCES,
                              scope=Scope(None, places))
        adviser = build_report(session, weeks=6, today=TODAY, handoff_text=HANDOFF, sources=DEFAULT_SOURCES,
                               scope=Scope(("v-bai",), places))
    section = next(s for s in county.sections if s.title == "咨询的村（社区）和乡镇")
    # people 0 and 1 asked twice in earlier weeks and once about land last week; 2 and 3 once each;
    # 12 questions in all (the 转人工 reply is not an answer).
    assert section.rows[0] == ("石会镇白土坝村", "6", "75%", "土地承包、工资报酬")
    assert {r[0]: r[1] for r in section.rows} == {"石会镇白土坝村": "6", "石家镇石家村": "1", "v-unlisted": "1"}
    kpis = dict(section.kpis)
    assert kpis["已知村的咨询"] == "8" and kpis["占全部咨询"] == "67%" and kpis["乡镇：石会镇"] == "6"
    assert "石会镇白土坝村 6 个" in section.summary and any("石会镇白土坝村" in line for line in weekly_summary(county))
    mine = next(s for s in adviser.sections if s.title.startswith("咨询的村"))
    assert [r[0] for r in mine.rows] == ["石会镇白土坝村"]


def test_the_feedback_queue_masks_questions_and_knows_why(sessions):
    _populate(sessions)
    with sessions() as session:
        items = feedback_queue(session, handoff_text=HANDOFF, days=100000)
    reasons = {item.reason: item for item in items}
    # 儿子不给养老钱 was rated 👎 and then escalated: one entry per question (the latest reason).
    assert len(items) == 2 and set(reasons) == {"unsure", "escalated"}
    assert reasons["unsure"].question == "我叫张**，火星的房子"
    assert reasons["escalated"].question == "儿子不给养老钱"  # the question before 转人工
