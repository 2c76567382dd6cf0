"""Every analytics figure against the hand-computed county of ``analytics_fixture`` (SQLite and PostgreSQL)."""

import datetime as dt
import time

import httpx
import pytest
from click.testing import CliRunner

from bot.console.analytics import Scope, build_report, report_csv
from bot.console.analytics_sources import DEFAULT_SOURCES, places_of
from bot.console.feedback import feedback_queue
from bot.console.figures import (
    eligibility_figures,
    message_figures,
    place_figures,
    ticket_figures,
    week_of,
    week_period,
)
from bot.console.hotspots import hot_spots, load_thresholds
from bot.console.names import load_names
from bot.eligibility.rules import DEFAULT_RULES_DIR
from handoff.directory import SAMPLE_DIRECTORY, load_directory
from tests.console.analytics_fixture import BEFORE, LAST, NOW, THIS, at, populate

PLACES = places_of(load_directory(SAMPLE_DIRECTORY))
NAMES = load_names(DEFAULT_RULES_DIR)
HOT = "村（社区）“示例镇示例村”咨询明显增多：11月16日—11月22日 3 次，前一周 1 次。"


@pytest.fixture(autouse=True)
def utc_server(monkeypatch):
    """The server's own timezone is UTC: figures must not depend on it."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def county(sessions):
    populate(sessions)
    return sessions


def test_weeks_are_monday_to_sunday_beijing_time():
    sunday = THIS - dt.timedelta(days=1)
    assert week_of(at(sunday, 23, 30)) == LAST and week_of(at(THIS, 0, 30)) == THIS
    assert at(THIS, 0, 30).weekday() == 6  # Monday 00:30 in Beijing is still Sunday in UTC
    assert week_of(NOW) == THIS and week_period(LAST).end_at == at(THIS, 0, 0)


def test_message_figures_per_week(county):
    with county() as session:
        before, last, this = message_figures(session, [week_period(d) for d in (BEFORE, LAST, THIS)])
        whole = message_figures(session, [week_period(BEFORE, 3)])[0]
    assert (before.questions, before.conversations, before.handed, before.handoff_rate) == (2, 2, 0, 0.0)
    assert before.topics == {"wages": 1, "land": 1}  # c0's topic from the card id
    # last week: 5 answers (the handoff desk's replies are not answers), 5 residents wrote, 2 handed over
    # (c4's two tickets are one resident), Sunday 23:30 belongs here and Monday 00:30 does not.
    assert (last.questions, last.unsure, last.fallback) == (5, 1, 1)
    assert (last.conversations, last.handed, last.handoff_rate) == (5, 2, 0.4)
    assert (last.thumbs_up, last.thumbs_down, last.satisfaction) == (1, 1, 0.5)
    assert last.topics == {"land": 4, "support": 1} and last.channels == {"web": 5}
    assert last.median_reply_seconds == 2.0 and last.unsure_rate == 0.2
    assert (this.questions, this.conversations, this.handed, this.thumbs_up) == (2, 2, 1, 1)
    assert this.channels == {"web": 1, "official_account": 1}
    assert (whole.questions, whole.conversations, whole.handed, whole.handoff_rate) == (9, 6, 3, 0.5)


def test_ticket_eligibility_and_place_figures(county):
    with county() as session:
        tickets = ticket_figures(session, week_period(LAST), Scope(), NOW)
        mine = ticket_figures(session, week_period(LAST), Scope(("sx-t1-v1",)), NOW)
        checks = eligibility_figures(session, week_period(LAST))
        places = place_figures(session, week_period(LAST), None)
    assert (tickets.tickets, tickets.still_open, tickets.urgent) == (3, 3, 0)
    assert (tickets.response_judged, tickets.response_on_time) == (3, 0)  # all unanswered past the hour
    assert (tickets.resolution_judged, tickets.resolution_on_time) == (3, 0)
    assert tickets.villages == {"sx-t1-v1": 1, "": 2} and tickets.reasons == {"requested": 3}
    assert mine.tickets == 1
    assert (checks.checks, checks.eligible) == (2, 1)
    assert checks.matters == {"labor_relation_or_remuneration": 1, "support_payment": 1}
    assert (places.questions, places.known) == (5, 4)
    assert places.villages == {"sx-t1-v1": 3, "sx-t2-v1": 1} and places.towns(PLACES) == {"示例镇": 3, "演示乡": 1}


def test_hot_spots_follow_the_rule_in_the_data_file(county):
    thresholds = load_thresholds()
    with county() as session:
        last = hot_spots(session, LAST, PLACES, NAMES, thresholds)
        this = hot_spots(session, THIS, PLACES, NAMES, thresholds)
    # land rose 1 → 4 and 示例镇 1 → 3, below their minimum of 5; 示例村 1 → 3 meets 3 and 2×.
    assert [(s.kind, s.code, s.count, s.previous) for s in last] == [("village", "sx-t1-v1", 3, 1)]
    assert last[0].text == HOT and this == []


def test_the_report_csv_and_weekly_summary_use_the_same_figures(county):
    with county() as session:
        report = build_report(session, weeks=3, now=NOW, scope=Scope(None, PLACES), names=NAMES,
                              sources=DEFAULT_SOURCES)
    assert [w.period.start for w in report.weeks] == [BEFORE, LAST, THIS]
    assert (report.total.questions, report.total.conversations, report.total.handed) == (9, 6, 3)
    assert report.summary == [
        "上周（11月16日—11月22日，北京时间）服务概况：",
        "· 咨询 5 次（前一周 2，+150%），5 位居民来问。",
        "· 话题：土地承包 80%、赡养抚养 20%。",
        f"· 注意：{HOT}",
        "· 没把握回答 1 次（20%）；转人工 2 位居民（40% 的来问居民）。",
        "· 居民评价：👍 1 / 👎 1（满意 50%）。",
        "· 对话引擎不可用时直接检索回答 1 次，请检查 Rasa 服务。",
        "· 咨询最多的村：示例镇示例村 3 个，演示乡演示村 1 个（只含说过村的居民，占全部咨询 80%）。",
        "· 转人工工单 3 张：按时首次回复 0%，按时办结 0%，居民评分 —。",
        "· 法律援助自测 2 次，其中很可能符合法律援助的条件 50%。",
    ]
    eligibility = next(s for s in report.sections if s.title == "法律援助自测结果")
    assert eligibility.rows == (("农村土地承包经营纠纷", "1", "33%"), ("请求确认劳动关系或者支付劳动报酬", "1", "33%"),
                                ("请求给付赡养费、抚养费、扶养费", "1", "33%"))
    assert dict(eligibility.bars) == {"很可能符合法律援助的条件": 2.0, "要由法律援助机构进一步审查": 1.0}
    tickets = next(s for s in report.sections if s.title == "转人工工单")
    assert dict(tickets.kpis)["转人工工单"] == "4" and tickets.rows[0] == ("（未说）", "2", "50%")
    assert dict(tickets.bars)["居民要求转人工"] == 4.0
    lines = report_csv(report).splitlines()
    assert lines[2].split(",")[:7] == [LAST.isoformat(), "5", "5", "1", "0.200", "2", "0.400"]
    everything = report_csv(report) + "\n".join(report.summary) + repr(report.sections)
    for secret in ("13912345678", "13900000000", "张三", "labor_relation", "needs_review", "requested"):
        assert secret not in everything, secret


def test_an_adviser_sees_only_their_villages(county):
    with county() as session:
        report = build_report(session, weeks=3, now=NOW, scope=Scope(("sx-t1-v1",), PLACES), names=NAMES,
                              sources=DEFAULT_SOURCES)
    assert report.total.questions == 0 and report.hot_spots == []  # county-wide counts stay county-wide
    assert [s.title for s in report.sections] == ["咨询的村（社区）和乡镇（您负责的村）", "转人工工单（您能办理的案件）"]
    assert [r[0] for r in report.sections[0].rows] == ["示例镇示例村"]
    assert dict(report.sections[1].kpis)["转人工工单"] == "1"


def test_the_feedback_queue_still_finds_the_unsure_answer(county):
    with county() as session:
        items = feedback_queue(session, handoff_text="", days=100000)
    assert "unsure" in {item.reason for item in items}


# ---- the warning, sent once to the robot --------------------------------------------------------
@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def wecom():
    from tests.handoff.wecom_standin import WeComStandIn

    server = WeComStandIn()
    server.start()
    yield server
    server.stop()


def _this_week_rise(sessions) -> None:
    """Three answers for 示例镇示例村 at the start of the real current week (none the week before)."""
    from bot.console.auth import utcnow
    from bot.models import Conversation, Message
    from handoff.models import ResidentProfile

    start = week_period(week_of(utcnow())).start_at
    with sessions.begin() as session:
        for i in range(3):
            who = Conversation(key=f"web:hot{i}", channel="web", openid=f"hot{i}")
            session.add(who)
            session.flush()
            session.add(ResidentProfile(conversation_key=who.key, village="sx-t1-v1", sent_since_inbound=0,
                                        pending_data={}, updated_at=start))
            session.add(Message(conversation_id=who.id, direction="out", channel="web", text="回答", engine="rasa",
                                meta={"confident": True, "topic": "land"}, created_at=start))


@pytest.mark.anyio
async def test_lawline_console_warn_sends_each_warning_once(sessions, database_url, wecom, tmp_path):
    from bot.console.cli import console
    from handoff.robot import RobotClient, RobotSender

    _this_week_rise(sessions)
    env = {"LAWLINE_DATABASE_URL": database_url, "LAWLINE_DIRECTORY": str(SAMPLE_DIRECTORY),
           "LAWLINE_VAR_DIR": str(tmp_path / "var")}
    runs = [CliRunner().invoke(console, ["warn"], env=env) for _ in range(2)]
    assert [r.exit_code for r in runs] == [0, 0], runs[0].output
    assert "1 new warnings queued" in runs[0].output and "0 new warnings queued" in runs[1].output
    async with httpx.AsyncClient() as http:
        sender = RobotSender(sessions, load_directory(SAMPLE_DIRECTORY), RobotClient(http, wecom.base_url))
        await sender.run_once()
        await sender.run_once()
    received = wecom.messages
    assert len(received) == 1 and received[0].key == "sample-key-supervisor"
    assert "热点预警" in received[0].content and "示例镇示例村" in received[0].content
