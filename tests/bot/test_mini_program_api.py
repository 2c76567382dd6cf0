"""What the mini-program's pages read, through the real app: Rasa and the app's actions, the WeChat stand-in.

The client's own tests (``miniprogram/test``, ``node --test``) answer from ``miniprogram/test/fixtures``; each
fixture's shape is checked here against the real answer, so the client is tested on what the server sends.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from handoff.directory import load_directory
from handoff.ports import utc_now
from handoff.texts import load_texts
from handoff.tickets import TicketService
from tests.channels.conftest import MP_APPID, MP_SECRET
from tests.channels.wechat_standin import WeChatStandIn
from tests.conftest import ROOT, app_with_rasa, private_corpus_database
from tests.handoff.conftest import always_on_duty_directory

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

FIXTURES = ROOT / "miniprogram" / "test" / "fixtures"
TEXTS = load_texts()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def standin(standin_server: WeChatStandIn) -> WeChatStandIn:
    """The session's WeChat stand-in, kept for the module (its fixtures hold the sign-in codes)."""
    return standin_server


@pytest.fixture(scope="module")
def served(corpus_index, shared_rasa, tmp_path_factory, standin):
    """The app on a private database and the sample directory (always on duty); yields its URL and tickets."""
    url, sessions = private_corpus_database(corpus_index, tmp_path_factory.mktemp("mp-db"))
    folder = tmp_path_factory.mktemp("mp-var")
    directory_file = always_on_duty_directory(folder)
    with app_with_rasa(corpus_index, shared_rasa, folder, LAWLINE_DATABASE_URL=url, LAWLINE_DIRECTORY=directory_file,
                       LAWLINE_MP_APPID=MP_APPID, LAWLINE_MP_APPSECRET=MP_SECRET,
                       LAWLINE_WECHAT_API_BASE=standin.base_url):
        directory = load_directory(Path(directory_file))
        yield f"http://127.0.0.1:{shared_rasa.app_port}", TicketService(sessions, directory, TEXTS, clock=utc_now)


@pytest.fixture
async def http(served) -> Any:
    async with httpx.AsyncClient(base_url=served[0], timeout=30) as client:
        yield client


async def resident(http: httpx.AsyncClient, standin: WeChatStandIn, name: str) -> dict[str, str]:
    """A signed-in resident of the mini-program (no UnionID): their Authorization header."""
    standin.add_code(f"code-{name}", f"o-mp-{name}")
    login = await http.post("/api/mp/login", json={"code": f"code-{name}"})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['token']}"}


async def say(http: httpx.AsyncClient, who: dict[str, str], text: str) -> dict[str, Any]:
    response = await http.post("/api/mp/messages", json={"text": text}, headers=who)
    assert response.status_code == 200, response.text
    return dict(response.json())


def shape(value: Any) -> Any:
    """A JSON value's keys and types, lists by their first item: what the client relies on, not the words."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return "number" if isinstance(value, int | float) and not isinstance(value, bool) else type(value).__name__


def same_shape_as_fixture(name: str, answer: dict[str, Any], *nullable: str) -> None:
    """``answer`` has the fixture's shape; a field named in ``nullable`` (``cases.callback``) may also be null."""
    expected = shape(json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8")))
    got = shape(answer)
    for path in nullable:
        *outer, field = path.split(".")
        mine, theirs = got, expected
        for key in outer:
            mine, theirs = (mine[key][0], theirs[key][0]) if isinstance(mine[key], list) else (mine[key], theirs[key])
        if mine[field] == "NoneType":
            mine[field] = theirs[field]
    assert got == expected, name


async def test_the_legal_aid_check_is_the_conversation_its_options_tapped_by_number(http, standin):
    who = await resident(http, standin, "aid")
    assert (await http.get("/api/mp/history", headers=who)).json() == {"messages": [], "options": []}
    first = await say(http, who, "法律援助自测")
    assert "是不是很急" in first["replies"][-1]
    assert first["kinds"] == ["bot"] * len(first["replies"])
    titles = [option["title"] for option in first["options"]]
    assert "不急" in titles and [option["number"] for option in first["options"]] == list(range(1, len(titles) + 1))
    same_shape_as_fixture("messages_options", first)
    tapped = await say(http, who, str(titles.index("不急") + 1))  # what the page sends for a tap: the number
    assert "为了什么事" in tapped["replies"][-1]
    assert tapped["options"] and tapped["options"] != first["options"]
    history = (await http.get("/api/mp/history", headers=who)).json()
    said = [(m["kind"], m["text"]) for m in history["messages"] if m["kind"] == "me"]
    assert said == [("me", "法律援助自测"), ("me", str(titles.index("不急") + 1))]
    assert history["messages"][-1] == {"kind": "bot", "text": tapped["replies"][-1]}
    assert history["options"] == tapped["options"]
    same_shape_as_fixture("history", history)


async def test_an_answer_is_marked_as_one_and_offers_its_details(http, standin):
    who = await resident(http, standin, "wages")
    answer = await say(http, who, "老板拖欠了我三个月工资不给怎么办")
    assert answer["kinds"][0] == "answer" and "《" in answer["replies"][0]
    assert [option["title"] for option in answer["options"]] == ["看法条原文", "怎么办", "去哪里办"]
    same_shape_as_fixture("messages_answer", answer)


async def test_my_cases_follow_the_ticket_and_points_come_nearest_first(http, standin, served):
    tickets = served[1]
    who, other = await resident(http, standin, "case"), await resident(http, standin, "nocase")
    assert (await http.get("/api/mp/cases", headers=who)).json() == {"cases": []}
    assert "哪个乡镇、哪个村" in (await say(http, who, "转人工"))["replies"][0]
    assert "乙顾问（示例）" in "\n".join((await say(http, who, "演示乡演示村"))["replies"])
    [case] = (await http.get("/api/mp/cases", headers=who)).json()["cases"]
    assert (case["state"], case["status"], case["target"]) == ("open", TEXTS.case_states["open"], TEXTS.targets["adviser"])
    assert case["callback"] is None and case["outcome"] is None
    tickets.claim(case["id"], "p-adviser-2")
    [claimed] = (await http.get("/api/mp/cases", headers=who)).json()["cases"]
    assert (claimed["id"], claimed["status"]) == (case["id"], TEXTS.case_states["claimed"])
    same_shape_as_fixture("cases", {"cases": [claimed]}, "cases.topic", "cases.callback", "cases.outcome")
    assert (await http.get("/api/mp/cases", headers=other)).json() == {"cases": []}

    directory = tickets.directory
    near = (await http.get("/api/mp/service-points", headers=who)).json()
    anywhere = (await http.get("/api/mp/service-points", headers=other)).json()
    assert near["configured"] is True
    assert [p["id"] for p in near["points"]] == [p.id for p in directory.service_points(near="sx-t2-v1")]
    assert [p["id"] for p in anywhere["points"]] == [p.id for p in directory.service_points()]
    assert near["points"][0]["id"] != anywhere["points"][0]["id"], "the remembered village orders the list"
    by_id = {p.id: p for p in directory.points}
    for shown in anywhere["points"]:
        point = by_id[shown["id"]]
        assert shown["name"] == directory.mark(point.name) and shown["name"].startswith("【演示数据")
        assert (shown["address"], shown["phone"], shown["hours"]) == (point.address, point.phone, point.hours)
        located = (shown["latitude"], shown["longitude"])
        assert located == (point.coordinates or (None, None)), "coordinates only where the directory has them"
    same_shape_as_fixture("service_points", anywhere)  # its first point is located: every field is set


async def test_the_reads_need_the_residents_token(http):
    for path in ("/api/mp/history", "/api/mp/cases", "/api/mp/service-points"):
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            response = await http.get(path, headers=headers)
            assert response.status_code == 401 and response.json() == {"error": "unauthorized"}, path
