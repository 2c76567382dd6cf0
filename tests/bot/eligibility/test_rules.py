"""Loading the rules: the shipped data is valid, and every kind of editor mistake is named with its file."""

from __future__ import annotations

import shutil

import pytest

from bot.eligibility import DEFAULT_RULES_DIR, RulesError, load_rules
from bot.eligibility.rules import BASIS_PATTERN


@pytest.fixture
def folder(tmp_path):
    target = tmp_path / "eligibility"
    shutil.copytree(DEFAULT_RULES_DIR, target)
    return target


def _edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_shipped_rules_load_with_a_traceable_version(rules):
    assert rules.rules_version.startswith(rules.version + "+")
    assert list(rules.provinces) == ["重庆", "山东", "浙江", "福建", "其他省份"]
    assert rules.province("山东省").code == "山东" and rules.province("湖南") is None
    shandong = rules.province("山东")
    assert shandong.hardship.basis == "山东省法律援助条例第八条第二款"
    assert "两倍" in shandong.hardship.formula
    assert set(shandong.extra_matters) == {"land_contract", "other_civil"}


def test_every_basis_is_quoted_exactly(rules):
    bases = [m.basis for m in rules.matters.values() if m.basis] + list(rules.bases.values())
    for table in (rules.no_means_test, rules.means_check_waived, rules.criminal_mandatory, rules.urgency):
        bases += [s.basis for s in table.values()]
    for province in rules.provinces.values():
        bases += [e.basis for e in province.extra_matters.values()]
    assert all(BASIS_PATTERN.match(b) for b in bases)
    assert "法律援助法第三十一条第四项" in bases


def test_any_change_changes_the_recorded_version(folder, rules):
    assert load_rules(folder).rules_version == rules.rules_version
    _edit(folder / "provinces" / "zhejiang.yaml", "order: 3", "order: 3 ")
    changed = load_rules(folder)
    assert changed.version == rules.version and changed.rules_version != rules.rules_version


@pytest.mark.parametrize(("file", "old", "new", "reason"), [
    ("rules.yaml", 'version: "2026-11-23.1"', "version: ''", "version must be set"),
    ("rules.yaml", "basis: 法律援助法第三十一条第四项", "basis: 第31条第4项", "is not a basis"),
    ("rules.yaml", "  survivor_pension:\n    label: 请求发给抚恤金", "  pension:\n    label: 请求发给抚恤金",
     "unknown matter code"),
    ("rules.yaml", "  good_samaritan:\n", "  brave:\n", "unknown status code"),
    ("rules.yaml", "matters: [support_payment, personal_injury, other_civil]", "matters: [divorce]",
     "unknown matter code 'divorce'"),
    ("rules.yaml", "（{basis}：{label}）", "（{article}）", "unknown placeholder {article}"),
    ("rules.yaml", "law:\n", "law: [\n", "not valid YAML"),
    ("provinces/shandong.yaml", "status: configured", "status: maybe", "status must be"),
    ("provinces/shandong.yaml", "  thresholds: []", "  thresholds:\n    - {area: 黔江区, monthly_income_per_capita: 0, "
     "source: x, effective: 2025-01-01}", "between 0 and 100000"),
    ("provinces/shandong.yaml", "  thresholds: []", "  thresholds:\n    - {area: 黔江区, monthly_income_per_capita: 900}",
     "source must be non-empty text"),
    ("provinces/zhejiang.yaml", "aliases: [浙江省, 浙江]", "aliases: [山东省]", "used by two provinces"),
    ("provinces/fujian.yaml", "not_configured_reason: 福建省的法律援助地方规定和经济困难标准还没有配置\n", "",
     "not_configured_reason must be non-empty text"),
])
def test_a_broken_file_is_named_with_the_reason(folder, file, old, new, reason):
    _edit(folder / file, old, new)
    with pytest.raises(RulesError) as caught:
        load_rules(folder)
    assert caught.value.file.endswith(file.split("/")[-1])
    assert reason in caught.value.reason


def test_a_missing_status_is_refused(folder):
    _edit(folder / "rules.yaml", "  judicial_aid_recipient:\n    label: 司法救助对象\n    basis: 法律援助法第四十二条第二项\n"
          "    matters: all\n", "")
    with pytest.raises(RulesError, match="every status code once"):
        load_rules(folder)


def test_no_province_files_is_refused(folder):
    for path in (folder / "provinces").iterdir():
        path.unlink()
    with pytest.raises(RulesError, match="no province files"):
        load_rules(folder)


def test_a_configured_figure_is_read(folder):
    _edit(folder / "provinces" / "shandong.yaml", "  thresholds: []",
          "  thresholds:\n    - {area: 历下区, monthly_income_per_capita: 1900, source: 某某文件, effective: 2025-01-01}")
    rules = load_rules(folder)
    threshold = rules.province("山东").hardship.thresholds[0]
    assert (threshold.area, threshold.monthly_income_per_capita, threshold.source) == ("历下区", 1900.0, "某某文件")
