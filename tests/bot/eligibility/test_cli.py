"""``lawline eligibility check`` (the audit shape) and ``lawline bench eligibility``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.eligibility import DEFAULT_RULES_DIR

AUDIT_KEYS = ["decision", "means_test", "basis", "explanation", "rules_version"]


def _check(raw: str, *extra: str):
    return CliRunner().invoke(main, ["eligibility", "check", "--json", raw, *extra])


def test_the_audit_shape_on_the_last_line(rules):
    raw = json.dumps({"province": "山东", "matter": "support_payment", "has_lawyer": False,
                      "household_monthly_income_per_capita": 800, "statuses": []}, ensure_ascii=False)
    result = _check(raw)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    assert list(out) == AUDIT_KEYS
    assert out["decision"] == "needs_review" and out["means_test"] == "unknown"
    assert out["basis"][0] == "法律援助法第三十一条第四项"
    assert out["rules_version"] == rules.rules_version
    assert "经济困难标准" in out["explanation"]


def test_the_command_as_a_program_prints_one_json_object_last():
    raw = json.dumps({"province": "浙江", "matter": "labor_relation_or_remuneration", "has_lawyer": False,
                      "household_monthly_income_per_capita": None, "statuses": ["migrant_worker"]})
    lawline = Path(sys.executable).parent / "lawline"  # the installed entry point, as auditors run it
    done = subprocess.run([str(lawline), "eligibility", "check", "--json", raw],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert (out["decision"], out["means_test"]) == ("eligible", "exempt")
    assert out["basis"] == ["法律援助法第三十一条第五项", "法律援助法第四十二条第三项"]


@pytest.mark.parametrize(("raw", "message"), [
    ('{"province": "山东"', "not valid JSON"),
    ("[]", "input: must be a JSON object"),
    ('{"province": "湖南", "matter": "support_payment", "has_lawyer": false, '
     '"household_monthly_income_per_capita": null, "statuses": []}', "unknown province '湖南'"),
    ('{"province": "山东", "matter": "divorce", "has_lawyer": false, '
     '"household_monthly_income_per_capita": null, "statuses": []}', "matter: unknown code 'divorce'"),
    ('{"province": "山东", "matter": "support_payment", "has_lawyer": false, '
     '"household_monthly_income_per_capita": null, "statuses": ["poor"]}', "statuses: unknown code 'poor'"),
    ('{"province": "山东", "matter": "support_payment", "has_lawyer": false, "statuses": []}',
     "household_monthly_income_per_capita: is required"),
])
def test_bad_input_is_a_clear_error_and_a_non_zero_exit(raw, message):
    result = _check(raw)
    assert result.exit_code == 2
    assert message in result.output
    assert "error" in json.loads(result.output.strip().splitlines()[-1])


def test_broken_rules_stop_with_the_file(tmp_path):
    folder = tmp_path / "eligibility"
    (folder / "provinces").mkdir(parents=True)
    (folder / "rules.yaml").write_text("version: 1\nmatters: oops\n", encoding="utf-8")
    result = _check("{}", "--rules", str(folder))
    assert result.exit_code == 1
    assert "rules.yaml: matters must be a mapping" in result.output


def test_bench_scores_the_team_cases():
    result = CliRunner().invoke(main, ["bench", "eligibility", "--cases", str(DEFAULT_RULES_DIR / "bench_cases.jsonl"),
                                       "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    assert out["cases"] >= 40 and out["accuracy"] == 1.0 and out["failures"] == []
    assert set(out["per_decision"]) == {"eligible", "not_eligible", "needs_review"}


def test_bench_reports_a_wrong_expectation_and_a_bad_line(tmp_path):
    cases = tmp_path / "cases.jsonl"
    row = {"id": "wrong", "input": {"province": "山东", "matter": "support_payment", "has_lawyer": True,
                                    "household_monthly_income_per_capita": None, "statuses": []},
           "expect": {"decision": "eligible"}}
    cases.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["bench", "eligibility", "--cases", str(cases)])
    assert result.exit_code == 0
    assert "0 passed" in result.output and "FAILED wrong" in result.output
    cases.write_text('{"input": {}, "expect": {"decision": "maybe"}}\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["bench", "eligibility", "--cases", str(cases)])
    assert result.exit_code == 1 and "line 1: unknown decision 'maybe'" in result.output
