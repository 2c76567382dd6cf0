"""A short run of ``lawline bench faults``: the real stack, killed and refused, loses nothing."""

from __future__ import annotations

import os

import pytest

from bot.faultbench import run_fault_bench
from tests.conftest import private_corpus_database

pytestmark = pytest.mark.slow


def test_kill_9_of_the_app_and_http_500_from_wechat_lose_no_answer(corpus_index, rasa_layout, rasa_model, tmp_path):
    url, _ = private_corpus_database(corpus_index, tmp_path)
    index_dir = corpus_index[0]
    env = {**os.environ, "LAWLINE_DATABASE_URL": url, "LAWLINE_INDEX_DIR": str(index_dir),
           "LAWLINE_DANGER_MODEL": str(index_dir.parent / "danger" / "model.joblib"),
           "LAWLINE_VAR_DIR": str(rasa_layout.var_dir)}  # Rasa's model for this data is trained there already
    result = run_fault_bench(url, rasa_layout.var_dir, ("wechat_500", "kill_app"), residents=3, base_env=env)
    rows = {row["fault"]: row for row in result["faults"]}
    for fault in ("wechat_500", "kill_app"):
        row = rows[fault]
        assert (row["sent"], row["answered"], row["lost"], row["incomplete_parts"]) == (6, 6, 0, 0), row
        assert row["duplicated"] == 0, row
    assert rows["wechat_500"]["pushes"] >= 3, "the articles in full took pushes, which met the 500s"
    assert rows["kill_app"]["deliveries"] > 9, "the kill happened while WeChat was still delivering"
