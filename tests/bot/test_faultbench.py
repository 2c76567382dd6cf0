"""A short run of ``lawline bench faults``: the real stack, killed and refused, loses nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from sqlalchemy import create_engine, text

from bot.data_servers import SCRIPTS, DataServers
from bot.faultbench import run_fault_bench
from tests.conftest import free_port, private_corpus_database

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


@pytest.fixture
def data_servers(monkeypatch) -> Iterator[tuple[str, str]]:
    """A PostgreSQL and a Redis of this test's own, as ``scripts/postgres.sh`` and ``scripts/redis.sh`` run them.

    The faults restart and kill them, so tests running beside this one (``make test`` runs two workers) keep
    the shared servers. Free ports, data in a folder the ``postgres`` user can reach (pytest's own temporary
    folders are private to root); both stopped and removed afterwards.
    """
    if not (os.environ.get("LAWLINE_TEST_POSTGRES_URL") and os.environ.get("LAWLINE_TEST_REDIS_URL")):
        if os.environ.get("CI"):
            pytest.fail("LAWLINE_TEST_POSTGRES_URL / LAWLINE_TEST_REDIS_URL are not set in CI; `make test` sets them")
        pytest.skip("PostgreSQL and Redis not installed (run `make test`: scripts/postgres.sh, scripts/redis.sh)")
    folder = Path(tempfile.mkdtemp(prefix="lawline-faults-"))
    folder.chmod(0o755)
    env = {"LAWLINE_PG_PORT": str(free_port()), "LAWLINE_PG_DATA": str(folder / "postgres"),
           "LAWLINE_REDIS_PORT": str(free_port()), "LAWLINE_REDIS_DATA": str(folder / "redis")}
    for key, value in env.items():  # DataServers restarts and kills them through the same scripts
        monkeypatch.setenv(key, value)
    urls = [_script("postgres.sh", "start")]
    try:
        urls.append(_script("redis.sh", "start"))
        yield urls[0], urls[1].rsplit("/", 1)[0] + "/2"
    finally:
        for name in ("redis.sh", "postgres.sh"):
            subprocess.run([str(SCRIPTS / name), "stop"], capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


def _script(name: str, action: str) -> str:
    done = subprocess.run([str(SCRIPTS / name), action], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.postgres
def test_kill_9_of_redis_and_a_postgresql_restart_lose_no_answer(corpus_index, rasa_layout, rasa_model,
                                                                  data_servers):
    database_url, redis_url = data_servers
    index_dir = corpus_index[0]
    env = {**os.environ, "LAWLINE_INDEX_DIR": str(index_dir),
           "LAWLINE_DANGER_MODEL": str(index_dir.parent / "danger" / "model.joblib"),
           "LAWLINE_VAR_DIR": str(rasa_layout.var_dir)}
    result = run_fault_bench(database_url, rasa_layout.var_dir, ("kill_redis", "restart_postgres"), residents=2,
                             base_env=env, redis_url=redis_url)
    for row in result["faults"]:
        assert (row["sent"], row["answered"], row["lost"], row["incomplete_parts"]) == (4, 4, 0, 0), row
        assert row["duplicated"] == 0, row
    servers = DataServers(database_url, redis_url)
    assert servers.missing_for("restart_postgres") is None and servers.missing_for("kill_redis") is None
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:  # both servers left up
            assert connection.scalar(text("select 1")) == 1
    finally:
        engine.dispose()
    redis = Redis.from_url(redis_url)
    try:
        assert redis.ping()
    finally:
        redis.close()
