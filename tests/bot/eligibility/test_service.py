"""Decisions and pre-applications on real SQLite and PostgreSQL; the page; sending to the centre."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from starlette.applications import Starlette

from bot.eligibility import LegalAidPoint
from bot.eligibility import repository as repository_module
from bot.eligibility.models import EligibilityDecision, PreApplication
from bot.eligibility.service import EligibilityService
from bot.eligibility.web import eligibility_routes

pytestmark = pytest.mark.anyio

ANSWERS = {"elig_urgency": "deadline_within_7_days", "elig_matter": "labor_relation_or_remuneration",
           "elig_stage": "not_started", "elig_province": "重庆", "elig_place": "黔江区", "elig_has_lawyer": "no",
           "elig_special": None, "elig_identity": "migrant_worker", "elig_income": None}


class CountyDirectory:
    """A small real directory: what the service-directory port returns for one county."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str | None]] = []

    def legal_aid_points(self, province: str, place: str | None) -> list[LegalAidPoint]:
        self.asked.append((province, place))
        return [LegalAidPoint("某县法律援助中心", "某路1号", None, "工作日 9:00-17:00")]


class Inbox:
    """The escalation side of the submit hook: keeps what it received; can be told to fail."""

    def __init__(self, fail: bool = False) -> None:
        self.received: list = []
        self.fail = fail

    async def __call__(self, application) -> None:
        if self.fail:
            raise ConnectionError("tickets are down")
        self.received.append(application)


def _service(sessions, **kwargs) -> EligibilityService:
    return EligibilityService.from_folder(sessions=sessions, public_url="https://lawline.example/", **kwargs)


def test_a_finished_check_is_recorded_with_its_rules_version(sessions):
    service = _service(sessions)
    conclusion = service.conclude(ANSWERS, sender="a" * 32)
    assert conclusion.decision.decision == "eligible" and conclusion.decision.means_test == "exempt"
    assert conclusion.page_url == f"https://lawline.example/eligibility/{conclusion.token}"
    text = conclusion.text
    for expected in ("初步判断，以法律援助机构审查为准", "很可能符合法律援助的条件", "法律援助法第四十二条第三项",
                     "身份证明", "请拨打12348查询办理地点", "第四十三条", "第四十四条", conclusion.page_url):
        assert expected in text, expected
    assert "其他办法" not in text
    with sessions() as session:
        decision = session.scalars(select(EligibilityDecision)).one()
        pre = session.scalars(select(PreApplication)).one()
    assert decision.rules_version == service.rules.rules_version
    assert decision.input["statuses"] == ["migrant_worker"] and decision.input["urgency"] == ["deadline_within_7_days"]
    assert decision.basis == ["法律援助法第三十一条第五项", "法律援助法第四十二条第三项", "法律援助法第四十四条第一项"]
    assert pre.token == conclusion.token and len(pre.token) >= 22 and pre.sender == "a" * 32
    assert ["什么事", "讨工钱"] in pre.answers and pre.submitted_at is None


def test_where_to_apply_comes_from_the_directory(sessions):
    directory = CountyDirectory()
    conclusion = _service(sessions, directory=directory).conclude(ANSWERS, sender=None)
    assert directory.asked == [("重庆", "黔江区")]
    assert "某县法律援助中心：某路1号；电话 请拨打12348询问；办公时间 工作日 9:00-17:00" in conclusion.text
    assert "请拨打12348查询办理地点" not in conclusion.text


def test_not_eligible_offers_the_alternatives(sessions):
    values = {**ANSWERS, "elig_matter": "other_civil", "elig_province": "浙江", "elig_special": "none",
              "elig_identity": None}
    conclusion = _service(sessions).conclude(values, sender=None)
    assert conclusion.decision.decision == "not_eligible"
    for expected in ("人民调解", "12333", "12348", "法律顾问", "以法律援助机构审查为准"):
        assert expected in conclusion.text


def test_nothing_is_half_written(sessions, monkeypatch):
    service = _service(sessions)
    first = service.conclude(ANSWERS, sender=None)
    monkeypatch.setattr(repository_module, "new_token", lambda: first.token)  # a clash on the unique token
    with pytest.raises(IntegrityError):
        service.conclude(ANSWERS, sender=None)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(EligibilityDecision)) == 1
        assert session.scalar(select(func.count()).select_from(PreApplication)) == 1


async def test_sending_marks_once_and_reaches_the_hook(sessions):
    inbox = Inbox()
    service = _service(sessions, on_submit=inbox)
    token = service.conclude(ANSWERS, sender="b" * 32).token
    outcome = await service.submit(token)
    assert outcome.status == "sent" and outcome.code
    [application] = inbox.received
    assert application.token == token and application.sender == "b" * 32
    assert application.decision["decision"] == "eligible"
    assert application.decision["rules_version"] == service.rules.rules_version
    assert ("身份", "进城打工的（讨工钱或工伤）") in application.answers
    assert (await service.submit(token)).status == "already"
    assert len(inbox.received) == 1
    assert (await service.submit("no-such-token")).status == "not_found"
    with sessions() as session:
        row = session.scalars(select(PreApplication)).one()
    assert row.submitted_at is not None and row.forwarded_at is not None


async def test_a_failing_hook_keeps_the_submission_and_sending_again_retries(sessions):
    inbox = Inbox(fail=True)
    service = _service(sessions, on_submit=inbox)
    token = service.conclude(ANSWERS, sender=None).token
    assert (await service.submit(token)).status == "failed"
    with sessions() as session:
        row = session.scalars(select(PreApplication)).one()
    assert row.submitted_at is not None and row.forwarded_at is None
    inbox.fail = False  # the tickets are back: the resident sends again
    assert (await service.submit(token)).status == "sent"
    assert [a.token for a in inbox.received] == [token]
    assert (await service.submit(token)).status == "already"
    with sessions() as session:
        assert session.scalars(select(PreApplication)).one().forwarded_at is not None


async def test_the_page_shows_prints_and_sends(sessions):
    inbox = Inbox()
    service = _service(sessions, on_submit=inbox)
    token = service.conclude({**ANSWERS, "elig_place": "黔江区<script>"}, sender=None).token
    app = Starlette(routes=eligibility_routes(service))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        page = await client.get(f"/eligibility/{token}")
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        body = page.text
        for expected in ("法律援助预申请表", "很可能符合法律援助的条件", "法律援助法第四十二条第三项", "window.print()",
                         "以法律援助机构审查为准", "讨工钱", service.rules.rules_version, "发给法律援助中心"):
            assert expected in body, expected
        assert "<script>" not in body
        sent = await client.post(f"/eligibility/{token}/submit")
        assert sent.status_code == 303
        again = await client.get(sent.headers["location"])
        assert "已于" in again.text and "发给法律援助中心" in again.text
        assert len(inbox.received) == 1
        missing = await client.get("/eligibility/nope")
        assert missing.status_code == 404 and "12348" in missing.text
        assert (await client.post("/eligibility/nope/submit")).status_code == 404
