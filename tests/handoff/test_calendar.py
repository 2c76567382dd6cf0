from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from handoff.calendar import add_duty_minutes, duty_minutes_between, is_on_duty, next_duty_start
from handoff.directory import load_directory
from handoff.errors import DirectoryError
from tests.handoff.conftest import SHANGHAI, local


def test_office_hours_on_working_days_only(directory):
    calendar = directory.calendar
    assert is_on_duty(calendar, local(2026, 3, 9, 10, 0))  # Monday morning
    assert not is_on_duty(calendar, local(2026, 3, 9, 12, 30))  # lunch break
    assert not is_on_duty(calendar, local(2026, 3, 7, 10, 0))  # Saturday
    assert not is_on_duty(calendar, local(2026, 3, 9, 20, 0))  # evening


def test_configured_holidays_and_exchanged_working_days(directory):
    calendar = directory.calendar
    assert calendar.year_configured(2099)
    assert not calendar.is_working_day(dt.date(2099, 1, 1))  # a (sample) holiday on a Thursday
    assert calendar.is_working_day(dt.date(2099, 1, 10))  # a (sample) Saturday worked in exchange
    assert not is_on_duty(calendar, local(2099, 1, 2, 10, 0))
    assert is_on_duty(calendar, local(2099, 1, 10, 10, 0))


def test_years_nobody_configured_are_surfaced_not_guessed(directory):
    calendar = directory.calendar
    assert not calendar.year_configured(2026)
    assert calendar.unconfigured_years(dt.date(2026, 1, 1), dt.date(2027, 6, 1)) == [2026, 2027]
    # Falls back to Monday–Friday: the statutory holidays of 2026 are not invented.
    assert calendar.is_working_day(dt.date(2026, 10, 1)) is True  # a Thursday; no holiday configured
    notes = directory.notes(today=dt.date(2026, 3, 9))
    assert any("2026" in n and "节假日未配置" in n for n in notes)


def test_duty_minutes_skip_lunch_nights_and_weekends(directory):
    calendar = directory.calendar
    friday_afternoon = local(2026, 3, 6, 17, 0)
    due = add_duty_minutes(calendar, friday_afternoon, 60)
    assert due.astimezone(SHANGHAI) == dt.datetime(2026, 3, 9, 9, 30, tzinfo=SHANGHAI)
    before_lunch = local(2026, 3, 9, 11, 45)
    assert add_duty_minutes(calendar, before_lunch, 30).astimezone(SHANGHAI).time() == dt.time(14, 15)
    assert duty_minutes_between(calendar, friday_afternoon, local(2026, 3, 9, 9, 30)) == pytest.approx(60)
    assert next_duty_start(calendar, local(2026, 3, 7, 22, 0)).astimezone(SHANGHAI) == \
        dt.datetime(2026, 3, 9, 9, 0, tzinfo=SHANGHAI)


def test_the_hotline_roster(directory):
    roster = directory.roster
    assert roster.on_duty(local(2026, 3, 9, 10, 0)) == ("p-lawyer-labour", "p-lawyer-family")
    assert roster.on_duty(local(2026, 3, 7, 10, 0)) == ("p-lawyer-family",)  # Saturday shift
    assert roster.on_duty(local(2026, 3, 9, 23, 0)) == ()
    assert next_duty_start(roster, local(2026, 3, 9, 23, 0)).astimezone(SHANGHAI) == \
        dt.datetime(2026, 3, 10, 8, 30, tzinfo=SHANGHAI)


def test_an_unconfigured_schedule_has_no_duty_at_all():
    from handoff.directory import DEFAULT_DIRECTORY

    county = load_directory(DEFAULT_DIRECTORY)
    at = local(2026, 3, 9, 10, 0)
    assert not is_on_duty(county.calendar, at) and next_duty_start(county.calendar, at) is None
    assert add_duty_minutes(county.roster, at, 30) is None


def test_roster_mistakes_are_reported(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(textwrap.dedent("""\
        version: 1
        county: {code: c, name: 测试县}
        roster:
          shifts:
            - days: weekends
              hours: ["08:00-12:00", "11:00-13:00"]
              people: [ghost]
            - hours: ["08:00-09:00"]
        """), encoding="utf-8")
    with pytest.raises(DirectoryError) as caught:
        load_directory(path)
    text = "\n".join(caught.value.problems)
    assert f"{path}:5: 'days' must be one of" in text
    assert f"{path}:6: hours: time ranges overlap" in text
    assert "roster: 'ghost' is not in 'people'" in text
    assert f"{path}:8: a shift needs either 'days'" in text
