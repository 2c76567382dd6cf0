"""``handoff.routing.supervisor_group``: where complaints, overdue cases and hot-spot warnings go."""

from __future__ import annotations

import dataclasses

from handoff.routing import supervisor_group


def test_the_people_in_charge_are_the_supervisors_group_else_the_hotlines_else_nobody(directory):
    assert (supervisor_group(directory), directory.hotline_group) == ("g-supervisor", "g-hotline")
    boss = dataclasses.replace(directory.people["p-supervisor"], group=None)
    without_group = dataclasses.replace(directory, people={**directory.people, boss.id: boss})
    assert supervisor_group(without_group) == "g-hotline"
    assert supervisor_group(dataclasses.replace(directory, supervisor=None)) == "g-hotline"
    assert supervisor_group(dataclasses.replace(directory, supervisor=None, hotline_group=None)) is None
