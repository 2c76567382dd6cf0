"""``nlu/rasa_runtime/lawline_rasa.py`` inside Rasa's own interpreter: the fixes behave as Rasa does."""

from __future__ import annotations

import json
import subprocess

from nlu._environment import rasa_environment

# Runs in .venv-rasa (Python 3.10, Rasa 3.6.21). Prints one JSON object with what it observed.
_PROBE = r"""
import json, runpy, sqlite3, sys, tempfile, os
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from rasa.shared.core.events import Event, UserUttered
from rasa.shared.utils.common import all_subclasses

original = RemoteAction._validate_action_result
names = sorted({cls.type_name for cls in all_subclasses(Event)}) + ["topic", "no_such_event"]

def resolutions():
    out = []
    for name in names:
        for default in (None, UserUttered):
            try:
                found = Event.resolve_by_type(name, default)
                out.append([name, default is not None, found.__name__ if found else None])
            except ValueError as error:
                out.append([name, default is not None, "error: " + str(error)])
    return out

rasa_resolutions = resolutions()
runtime = runpy.run_path(sys.argv[1])
runtime["install"]()
runtime["install"]()  # idempotent
patched = RemoteAction._validate_action_result

valid = {"events": [{"event": "slot", "name": "topic", "value": "wages"}], "responses": [{"text": "好"}]}
invalid = {"events": [{"event": "slot", "name": 5}], "responses": "not a list"}

def outcome(method, result):
    try:
        return ["ok", method(RemoteAction("action_x", None), result)]
    except ValidationError as error:
        return ["invalid", error.message]

from sqlalchemy import create_engine, text
folder = tempfile.mkdtemp()
engine = create_engine("sqlite:///" + os.path.join(folder, "tracker.db"))
with engine.connect() as connection:
    journal = connection.execute(text("PRAGMA journal_mode")).scalar()
    synchronous = connection.execute(text("PRAGMA synchronous")).scalar()

# Rasa's SQL tracker store as the server builds it: pooled for a SQLite file, a round trip intact.
import asyncio
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
domain = Domain.from_yaml("version: '3.1'\nslots:\n  topic:\n    type: text\n    mappings: [{type: custom}]\n")
store = SQLTrackerStore(domain, dialect="sqlite", db=os.path.join(folder, "rasa.db"))
tracker = DialogueStateTracker.from_events("r1", [
    ActionExecuted("action_listen"), UserUttered("工钱", {"name": "wages", "confidence": 0.9}),
    SlotSet("topic", "wages"), ActionExecuted("action_listen")], domain.slots)
asyncio.run(store.save(tracker))
tracker.update(UserUttered("还有", {"name": "inform", "confidence": 0.8}))
asyncio.run(store.save(tracker))
back = asyncio.run(store.retrieve("r1"))
print(json.dumps({
    "resolutions_same": resolutions() == rasa_resolutions, "resolved": len(rasa_resolutions),
    "pool": type(store.engine.pool).__name__,
    "postgres_kwargs": sorted(create_engine_kwargs("postgresql://u@h/db")),
    "round_trip": [e.as_dict()["event"] for e in back.events] == [e.as_dict()["event"] for e in tracker.events],
    "topic": back.get_slot("topic"),
    "replaced": patched is not original,
    "valid": [outcome(original, valid), outcome(patched, valid)],
    "invalid": [outcome(original, invalid), outcome(patched, invalid)],
    "journal": journal, "synchronous": synchronous,
}))
"""


def test_fixes_behave_like_rasa(rasa_layout, tmp_path):
    done = subprocess.run(
        [str(rasa_layout.rasa_python), "-c", _PROBE, str(rasa_layout.launcher)],
        capture_output=True, text=True, timeout=300, cwd=rasa_layout.root,
        env=rasa_environment(tmp_path / "cache"),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["replaced"]
    assert seen["valid"] == [["ok", True], ["ok", True]]
    (rasa_said, rasa_message), (we_said, our_message) = seen["invalid"]
    assert rasa_said == we_said == "invalid"
    assert our_message == rasa_message, "same error and hint as Rasa's own validation"
    assert "Failed to validate Action server response" in our_message
    assert seen["journal"] == "wal"
    assert seen["synchronous"] == 1, "NORMAL"
    # The tracker store's SQLite engine keeps its connections; PostgreSQL keeps Rasa's pool settings.
    assert seen["pool"] == "QueuePool"
    assert seen["postgres_kwargs"] == ["max_overflow", "pool_size"]
    assert seen["round_trip"] and seen["topic"] == "wages"
    # Every event name (and "topic", an unknown name, with and without a default) resolves as in Rasa.
    assert seen["resolutions_same"] and seen["resolved"] > 40


def test_serving_command_goes_through_the_launcher(rasa_layout, tmp_path):
    from nlu.process import RasaServer

    command = RasaServer(tmp_path / "m.tar.gz", rasa_layout, port=5005).command()
    assert command[:3] == [str(rasa_layout.rasa_python), str(rasa_layout.launcher), "run"]
    assert rasa_layout.launcher.is_file()
