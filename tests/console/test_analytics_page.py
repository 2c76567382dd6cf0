"""The dashboard in the real app shows the figures of ``bot.console.figures`` for the hand-computed county."""

from __future__ import annotations

import re

import pytest

from bot.console.analytics import Scope, build_report, pct
from bot.console.analytics_sources import places_of
from bot.console.figures import message_figures, week_period
from handoff.directory import SAMPLE_DIRECTORY, load_directory
from tests.conftest import free_port, running_app
from tests.console.analytics_fixture import BEFORE, LAST, populate
from tests.console.conftest import add_accounts, client_for, copy_corpus_env


@pytest.fixture(scope="module")
def env(corpus_index, tmp_path_factory):
    root = tmp_path_factory.mktemp("console-analytics")
    env = copy_corpus_env(corpus_index, root, LAWLINE_DIRECTORY=str(SAMPLE_DIRECTORY))
    populate(env.sessions)
    return env


@pytest.fixture(scope="module")
def base(env):
    with running_app(env.settings, free_port()) as url:
        yield url


def _cells(html: str, week: str) -> list[str]:
    row = re.search(rf'<tr id="week-{week}">(.*?)</tr>', html)
    assert row, week
    return re.findall(r"<td>(.*?)</td>", row[1])


def test_the_dashboard_shows_the_figures(env, base):
    names = add_accounts(env.sessions, "-analytics")
    page = client_for(base, names["admin"]).get("/console/analytics").text
    # hand-computed (tests/console/analytics_fixture.py): questions, residents, unsure, handed, rate, 👍, 👎
    assert _cells(page, LAST.isoformat())[:8] == ["2026-11-16", "5", "5", "1", "2", "40%", "1", "1"]
    assert _cells(page, BEFORE.isoformat())[:6] == ["2026-11-09", "2", "2", "0", "0", "0%"]
    with env.sessions() as session:
        report = build_report(session, scope=Scope(None, places_of(load_directory(SAMPLE_DIRECTORY))))
        last = message_figures(session, [week_period(LAST)])[0]
    assert last.handed == 2
    total = report.total
    for kpi, value in (("questions", total.questions), ("conversations", total.conversations),
                       ("handed", total.handed), ("handoff-rate", pct(total.handoff_rate)),
                       ("satisfaction", pct(total.satisfaction))):
        assert re.search(rf'id="kpi-{kpi}">([^<]+)<', page)[1] == str(value), kpi
    assert 'id="hot-spots"' in page and "13912345678" not in page and "labor_relation" not in page
