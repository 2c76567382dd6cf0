"""Fixtures: the shipped rules, a copy with a test province whose hardship figures are configured, and a
real Rasa server whose actions the real app serves (one per test module, on a private database)."""

from __future__ import annotations

import shutil

import pytest

from bot.eligibility import DEFAULT_RULES_DIR, load_rules
from bot.services import build_services
from tests.conftest import app_with_rasa, private_corpus_database

# A province invented for the tests only (its figures exercise "passed"/"failed"; never shipped).
TEST_PROVINCE = """
province: 测试省
name: 测试省
aliases: [测试]
status: configured
order: 50
regulation: null
hardship_standard:
  basis: 测试省法律援助条例第八条第二款
  formula: 测试用的标准。
  effective: 2020-01-01
  not_configured_reason: 测试省这个区县的数字没有录入
  thresholds:
    - {area: 全省, monthly_income_per_capita: 1000, source: 测试文件一, effective: 2020-01-01}
    - {area: 甲县, monthly_income_per_capita: 1500, source: 测试文件二, effective: 2021-01-01}
    - {area: 全省, monthly_income_per_capita: 1200, source: 测试文件三, effective: 2030-01-01}
extra_matters: {}
extra_no_means_test: {}
"""


@pytest.fixture(scope="session")
def rules():
    return load_rules()


@pytest.fixture(scope="session")
def rules_dir_with_figures(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rules") / "eligibility"
    shutil.copytree(DEFAULT_RULES_DIR, folder)
    (folder / "provinces" / "test.yaml").write_text(TEST_PROVINCE, encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def rules_with_figures(rules_dir_with_figures):
    return load_rules(rules_dir_with_figures)


@pytest.fixture(scope="module")
def services(corpus_index, shared_rasa, tmp_path_factory):
    url, sessions = private_corpus_database(corpus_index, tmp_path_factory.mktemp("eligibility-db"))
    with app_with_rasa(corpus_index, shared_rasa, tmp_path_factory.mktemp("var"), LAWLINE_DATABASE_URL=url) as settings:
        yield settings, sessions, f"http://127.0.0.1:{shared_rasa.app_port}"


@pytest.fixture
async def chat(services):
    settings, sessions, base_url = services
    built = build_services(settings)
    try:
        yield built, sessions, base_url
    finally:
        await built.close()
