from __future__ import annotations

import textwrap

import pytest

from handoff.directory import DEFAULT_DIRECTORY, SAMPLE_MARK, load_directory
from handoff.errors import DirectoryError


def test_the_sample_county_loads_and_is_marked_as_sample(directory):
    assert directory.sample and directory.configured
    assert directory.county.name == "示例县"
    assert {t.name for t in directory.towns} == {"示例镇", "演示乡"}
    assert directory.adviser_for("sx-t1-v1").id == "p-adviser-1"
    assert directory.mark("甲").startswith(SAMPLE_MARK)
    assert all(point.sample for point in directory.points)


def test_legal_aid_service_points_nearest_first(directory):
    points = directory.service_points(kind="legal_aid_centre", near="sx-t1-v1")
    assert [p.name for p in points] == ["示例县法律援助中心"]
    point = points[0]
    assert (point.kind, point.kind_label, point.phone) == ("legal_aid_centre", "法律援助中心", "000-0000-0002")
    assert point.address and point.hours
    everything = directory.service_points(near="sx-t1-v1")
    assert everything[0].place == "sx-t1-v1"  # the village's own mediation committee first
    assert [p.place for p in everything[1:3]] == ["sx-t1", "sx-t1"]  # then the town's station and office
    assert directory.service_points(kind="justice_office")[0].hours is None  # not configured stays None
    with pytest.raises(ValueError, match="unknown service point kind"):
        directory.service_points(kind="court")


def test_the_shipped_county_is_honestly_unconfigured():
    county = load_directory(DEFAULT_DIRECTORY)
    assert not county.sample and not county.configured
    assert county.county.name == "重庆市黔江区"
    assert county.service_points(kind="legal_aid_centre") == []
    assert county.people == {} and county.groups == {} and county.villages() == []
    notes = "\n".join(county.notes())
    assert "服务目录未配置" in notes and "工作时间未配置" in notes and "值班表未配置" in notes
    # Only the verified national numbers, never a guessed local one.
    assert {n.number for n in county.national.values()} == {"12348", "110", "120", "12338", "12333", "12356", "12355"}


def test_find_village_by_name_alias_and_town(directory):
    assert [v.code for v in directory.find_village("我是示例镇示例村的")] == ["sx-t1-v1"]
    assert [v.code for v in directory.find_village("示例村委会")] == ["sx-t1-v1"]
    assert [v.code for v in directory.find_village("演示乡 虚构社区")] == ["sx-t2-v2"]
    assert directory.find_village("北京") == []
    assert directory.full_name("sx-t2-v1") == "演示乡演示村"


def _write(tmp_path, text: str):
    path = tmp_path / "county.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_every_mistake_is_reported_with_its_file_and_line(tmp_path):
    path = _write(tmp_path, """\
        version: 1
        county:
          code: c
          name: 测试县
          configured: true
        towns:
          - code: t1
            name: 一镇
            villages:
              - code: v1
                name: 一村
                adviser: nobody
              - code: v1
                name: 二村
        service_points:
          - id: sp1
            kind: court
            name: 某处
            place: t1
            address: null
            phone: 电话不知道
            hours: null
          - id: sp2
            kind: legal_aid_centre
            name: 某中心
            place: t9
            phone: null
        people:
          - id: p1
            name: 某人
            role: lawyer
            specialties: [tax]
        calendar:
          office_hours: ["9:00-8:00", 1050]
          years:
            "2027":
              source: 国务院办公厅通知
              holidays: [2027-13-01, 2028-01-01]
        colour: blue
        """)
    with pytest.raises(DirectoryError) as caught:
        load_directory(path)
    problems = caught.value.problems
    text = "\n".join(problems)
    assert all(p.startswith(f"{path}:") for p in problems)
    expected = [
        (12, "adviser 'nobody' is not in 'people'"),
        (13, "place id 'v1' is used twice (first on line 10)"),
        (17, "kind must be one of"),
        (21, "'phone' must be digits"),
        (23, "'address' is required (write null when not known)"),
        (26, "place 't9' is not a county, town or village"),
        (31, "role must be one of"),
        (32, "specialty 'tax' is not one of"),
        (34, "must run forward within one day"),
        (34, "1050 is not a time range"),
        (38, "'2027-13-01' is not a date"),
        (38, "2028-01-01 is not in year 2027"),
        (39, "unknown key 'colour'"),
    ]
    for line, reason in expected:
        assert any(p.startswith(f"{path}:{line}: ") and reason in p for p in problems), (line, reason, text)


def test_broken_yaml_is_reported_with_its_line(tmp_path):
    path = _write(tmp_path, "version: 1\ncounty:\n  name: [unclosed\n")
    with pytest.raises(DirectoryError) as caught:
        load_directory(path)
    assert caught.value.problems[0].startswith(f"{path}:")
    assert "not valid YAML" in caught.value.problems[0]

