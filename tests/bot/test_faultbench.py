"""A short run of ``lawline bench faults``: the real stack, killed and refused, loses nothing."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from redis import Redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.data_servers import DataServers
from bot.faultbench import run_fault_bench
from tests.conftest import _postgres_admin_url, private_corpus_database

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
def data_servers(tmp_path) -> Iterator[tuple[str, str]]:
    """A database of its own on the test PostgreSQL (dropped afterwards, with Rasa's), and the test Redis.

    The servers are the ones ``make test`` starts (scripts/postgres.sh, scripts/redis.sh); the faults restart
    and kill them, and the bench leaves them running. Redis database 2 (Rasa's locks in 3), apart from the
    other tests'; a Redis killed comes back empty, which tests running at the same time would notice (CI runs
    them one after another).
    """
    redis_url = os.environ.get("LAWLINE_TEST_REDIS_URL")
    if not redis_url:
        if os.environ.get("CI"):
            pytest.fail("LAWLINE_TEST_REDIS_URL is not set in CI; `make test` starts Redis")
        pytest.skip("Redis not started (run `make test`, which starts it with scripts/redis.sh)")
    admin_url = make_url(_postgres_admin_url())
    name = f"lawline_t_{uuid.uuid4().hex[:12]}"
    # pool_pre_ping: the restart cuts the pooled connection that created the database.
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\''))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False), redis_url.rsplit("/", 1)[0] + "/2"
    finally:
        with admin.connect() as connection:
            for database in (name, f"{name}_rasa"):
                connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


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
