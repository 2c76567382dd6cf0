"""Rasa's lock store: in memory on one machine, Redis once LAWLINE_RASA_LOCK_REDIS_HOST names a server."""

from __future__ import annotations

import re

from nlu.layout import RasaLayout
from nlu.process import RasaServer


def test_locks_are_in_memory_unless_a_lock_redis_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("LAWLINE_RASA_LOCK_REDIS_HOST", raising=False)
    monkeypatch.delenv("TICKET_LOCK_LIFETIME", raising=False)
    layout = RasaLayout.default(var_dir=tmp_path)
    alone = RasaServer(tmp_path / "m.tar.gz", layout, port=5005).environment()
    assert alone["LAWLINE_RASA_LOCK_STORE"] == "in_memory" and "TICKET_LOCK_LIFETIME" not in alone
    shared = RasaServer(tmp_path / "m.tar.gz", layout, port=5005,
                        env={"LAWLINE_RASA_LOCK_REDIS_HOST": "10.0.0.2"}).environment()
    assert shared["LAWLINE_RASA_LOCK_STORE"] == "redis"
    assert (shared["LAWLINE_RASA_LOCK_REDIS_PORT"], shared["LAWLINE_RASA_LOCK_REDIS_DB"]) == ("6379", "1")
    assert shared["TICKET_LOCK_LIFETIME"] == "15", "a killed Rasa's claim lapses before a sweeper takes over"


def test_every_variable_of_endpoints_yml_is_exported(tmp_path, monkeypatch):
    for name in ("LAWLINE_RASA_LOCK_REDIS_HOST", "LAWLINE_RASA_LOCK_REDIS_PASSWORD", "LAWLINE_RASA_TRACKER_HOST"):
        monkeypatch.delenv(name, raising=False)
    layout = RasaLayout.default(var_dir=tmp_path)
    lines = [line for line in layout.endpoints.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    needed = set(re.findall(r"\$\{(\w+)\}", "\n".join(lines)))
    env = RasaServer(tmp_path / "m.tar.gz", layout, port=5005).environment()
    assert {"LAWLINE_RASA_LOCK_STORE", "LAWLINE_RASA_LOCK_REDIS_HOST"} <= needed
    assert needed <= set(env), needed - set(env)
