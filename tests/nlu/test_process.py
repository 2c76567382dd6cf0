"""Starting and stopping ``rasa run`` as a child process."""

from __future__ import annotations

import asyncio

import pytest

from nlu.client import RasaClient
from nlu.errors import RasaNotInstalled, RasaStartFailed, RasaUnavailable
from nlu.layout import RasaLayout
from nlu.process import RasaServer


def test_environment_has_endpoint_defaults_and_no_app_python(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/somewhere/app")
    monkeypatch.setenv("LAWLINE_PORT", "8123")
    monkeypatch.delenv("LAWLINE_RASA_TRACKER_DIALECT", raising=False)
    layout = RasaLayout.default(var_dir=tmp_path)
    env = RasaServer(tmp_path / "m.tar.gz", layout, port=5005).environment()
    assert "PYTHONPATH" not in env
    assert env["RASA_TELEMETRY_ENABLED"] == "false"
    assert env["LAWLINE_PORT"] == "8123", "the environment wins over the default"
    assert env["LAWLINE_RASA_TRACKER_DIALECT"] == "sqlite"
    assert env["LAWLINE_RASA_TRACKER_DB"] == str(tmp_path / "rasa" / "tracker.db")
    explicit = RasaServer(tmp_path / "m.tar.gz", layout, port=5005, lawline_port=9000,
                          env={"LAWLINE_RASA_TRACKER_DIALECT": "postgresql"}).environment()
    assert explicit["LAWLINE_PORT"] == "9000" and explicit["LAWLINE_RASA_TRACKER_DIALECT"] == "postgresql"


def test_missing_rasa_is_reported_before_starting(tmp_path):
    layout = RasaLayout.default(var_dir=tmp_path)
    layout = RasaLayout(layout.root, layout.project_dir, tmp_path / "no-rasa", layout.legal_terms, tmp_path)
    with pytest.raises(RasaNotInstalled):
        RasaServer(tmp_path / "m.tar.gz", layout).start()


@pytest.mark.slow
def test_unset_endpoint_variable_fails_the_start_with_the_log(rasa_layout, rasa_model, tmp_path):
    (tmp_path / "endpoints.yml").write_text("tracker_store:\n  type: SQL\n  db: ${LAWLINE_NOT_SET_ANYWHERE}\n", "utf-8")
    (tmp_path / "credentials.yml").write_text("rest:\n", encoding="utf-8")
    layout = RasaLayout(rasa_layout.root, tmp_path, rasa_layout.rasa_bin, rasa_layout.legal_terms, tmp_path)
    server = RasaServer(rasa_model, layout, startup_timeout=120)
    with pytest.raises(RasaStartFailed, match="exited with 1") as failed:
        server.start()
    assert "LAWLINE_NOT_SET_ANYWHERE" in failed.value.log_tail
    assert not server.is_alive()


@pytest.mark.slow
def test_missing_model_fails_the_start(rasa_layout, tmp_path):
    server = RasaServer(tmp_path / "missing.tar.gz", rasa_layout, startup_timeout=120)
    with pytest.raises(RasaStartFailed, match="without a model"):
        server.start()
    assert not server.is_alive()


@pytest.mark.slow
def test_second_server_starts_answers_and_stops(rasa_layout, rasa_model):
    server = RasaServer(rasa_model, rasa_layout)
    with server:
        assert server.is_alive()
        status = asyncio.run(_status(server.url))
        assert status["model_file"] == rasa_model.name
    assert not server.is_alive()
    with pytest.raises(RasaUnavailable):
        asyncio.run(_status(server.url))
    assert "rasa run on" in rasa_layout.log_file.read_text(encoding="utf-8")


async def _status(url: str) -> dict:
    async with RasaClient(url, timeout=5) as client:
        return await client.status()
