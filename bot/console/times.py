"""Times on the console's pages, always in Beijing time and saying so.

The database keeps UTC (SQLite hands it back naive); editors and reviewers at the county work in Beijing
time, so every time they read is converted here and carries its zone (``（北京时间）``), never a bare UTC clock.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

__all__ = ["BEIJING", "ZONE_NAME", "beijing", "beijing_time"]

BEIJING = ZoneInfo("Asia/Shanghai")
ZONE_NAME = "北京时间"


def beijing_time(value: dt.datetime | str | None) -> dt.datetime | None:
    """``value`` (aware, naive UTC, or an ISO string such as an index's ``built_at``) in Beijing time."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(BEIJING)


def beijing(value: dt.datetime | str | None, fmt: str = "%Y-%m-%d %H:%M", *, zone: bool = True) -> str:
    """``2026-12-02 11:36（北京时间）``; ``zone=False`` in a column whose heading already says 北京时间."""
    local = beijing_time(value)
    if local is None:
        return "—"
    text = local.strftime(fmt)
    return f"{text}（{ZONE_NAME}）" if zone else text
