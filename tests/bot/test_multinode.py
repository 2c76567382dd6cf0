"""Two app nodes on the project's own test hosts (network namespaces), sharing only PostgreSQL and Redis.

A short ``lawline bench multinode``: four residents per phase, LAWLINE_RELOAD_SECONDS 2, and the publish
before the kill so that node 1 need not start again (the bench's own order restarts it; a start of both
nodes is most of this test's time). Needs root and iproute2; skipped without them, but failed in CI (which
runs ``make test`` as root).
"""

from __future__ import annotations

import os

import pytest

from bot.multinodebench import BenchInputs, run_multinode_bench
from bot.netns import hosts_unavailable
from tests.conftest import CORPUS

pytestmark = pytest.mark.slow


@pytest.fixture
def test_hosts_possible() -> None:
    reason = hosts_unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"the multi-node test must run in CI, but {reason}")
        pytest.skip(reason)


def test_two_nodes_answer_every_message_once_follow_a_publish_and_survive_a_kill(
        test_hosts_possible, corpus_index, rasa_model, tmp_path):
    index_dir = corpus_index[0]
    inputs = BenchInputs(index_dir, CORPUS, index_dir.parent / "danger" / "model.joblib", rasa_model)
    result = run_multinode_bench(tmp_path / "multinode", inputs, residents=4, messages=3, reload_seconds=2.0,
                                 phases=("normal", "publish", "kill_node1"), startup_timeout=600.0)
    rows = {row["phase"]: row for row in result["phases"]}
    for row in rows.values():
        assert (row["answered"], row["lost"], row["duplicated"]) == (row["sent"], 0, 0), row
    assert set(rows["normal"]["answered_by"]) == {"node1", "node2"}, "the residents were spread over both nodes"
    locks = result["rasa"]["lock_store_clients"]
    assert set(locks) == {"node1", "node2"} and min(locks.values()) >= 1, f"each Rasa locks in Redis: {locks}"
    assert result["rasa"]["tracker_conversations"] >= 8, "both Rasa servers keep conversations in PostgreSQL"
    publish = rows["publish"]
    assert publish["version_changed"] and publish["node2_followed"], publish
    assert publish["node2_followed_after_s"] <= 2.0 + 15, "within LAWLINE_RELOAD_SECONDS and an index load"
    assert publish["edit_in_answer"] == {"node1": True, "node2": True}, publish
    kill = rows["kill_node1"]
    assert kill["node1_unfinished_at_kill"] >= 1, "node 1 was killed while it worked on a message"
    assert kill["finished_by_node2"] == kill["node1_unfinished_at_kill"], kill
    assert kill["answered_by"] == {"node2": kill["sent"]}, kill
    assert result["metrics"]["node2"]["status"] == 200, result["metrics"]
    assert result["metrics"]["node2"]["inbox_unfinished"] == 0 == result["metrics"]["node2"]["outbox_pending"]
