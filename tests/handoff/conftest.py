"""Handoff fixtures: the sample directory, a settable clock, the WeChat Work robot and WeChat API stand-ins."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest

from handoff.directory import SAMPLE_DIRECTORY, Directory, load_directory
from tests.channels.conftest import OA_APPID, OA_SECRET
from tests.channels.wechat_standin import WeChatStandIn
from tests.handoff.wecom_standin import WeComStandIn

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> dt.datetime:
    """A Shanghai wall-clock time as an aware UTC datetime."""
    return dt.datetime(*args, tzinfo=SHANGHAI).astimezone(dt.UTC)


class Clock:
    """The handoff services' clock, moved by the test."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def directory() -> Directory:
    return load_directory(SAMPLE_DIRECTORY)


@pytest.fixture
def clock() -> Clock:
    return Clock(local(2026, 3, 9, 10, 0))  # a Monday morning: advisers in office, hotline on duty


@pytest.fixture(scope="session")
def wecom_server() -> Iterator[WeComStandIn]:
    server = WeComStandIn()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def wecom(wecom_server: WeComStandIn) -> WeComStandIn:
    wecom_server.reset()
    return wecom_server


@pytest.fixture(scope="session")
def wechat_server() -> Iterator[WeChatStandIn]:
    server = WeChatStandIn({OA_APPID: OA_SECRET})
    server.start()
    yield server
    server.stop()


@pytest.fixture
def wechat(wechat_server: WeChatStandIn) -> WeChatStandIn:
    wechat_server.reset()
    return wechat_server


def always_on_duty_directory(folder) -> str:
    """The sample directory with office hours and hotline shifts around the clock, every day.

    Tests through the real app run on the wall clock; this keeps them independent of the time of day.
    """
    text = SAMPLE_DIRECTORY.read_text(encoding="utf-8")
    text = text.replace('office_hours: ["09:00-12:00", "14:00-17:30"]',
                        'office_hours: ["00:00-24:00"]\n  rest_day_hours: ["00:00-24:00"]')
    text = text.replace('hours: ["08:30-18:00"]', 'hours: ["00:00-24:00"]')
    text = text.replace('hours: ["09:00-17:00"]', 'hours: ["00:00-24:00"]')
    path = folder / "always-on-duty.yaml"
    path.write_text(text, encoding="utf-8")
    load_directory(path)  # fails here if the replacements broke it
    return str(path)
