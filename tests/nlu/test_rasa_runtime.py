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

from rasa.core.tracker_store import SQLTrackerStore
from rasa.core.channels.channel import CollectingOutputChannel
original = RemoteAction._validate_action_result
rasa_retrieve = SQLTrackerStore._retrieve
rasa_send_text = CollectingOutputChannel.send_text_message
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

# What the REST channel collects for one composed answer, a question with buttons and a custom payload.
async def collected(send_text):
    out = CollectingOutputChannel()
    await send_text(out, "u1", "【标题】\n\n第一段。\n\n怎么办：\n1. 留证据。\n")
    await out.send_response("u1", {"text": "急不急？\n\n请选", "buttons": [{"title": "不急", "payload": "3"}]})
    await out.send_response("u1", {"custom": {"lawline": {"card": "wages"}}})
    return out.messages

print(json.dumps({
    "collected": [asyncio.run(collected(CollectingOutputChannel.send_text_message)),
                  asyncio.run(collected(rasa_send_text))],
    "lean_installed": SQLTrackerStore._retrieve is not rasa_retrieve,
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
    assert seen["lean_installed"]
    # A composed answer is one message (Rasa split it at blank lines); buttons and custom payloads as in Rasa.
    ours, rasas = seen["collected"]
    assert ours[0] == {"recipient_id": "u1", "text": "【标题】\n\n第一段。\n\n怎么办：\n1. 留证据。"}
    assert [m["text"] for m in rasas[:3]] == ["【标题】", "第一段。", "怎么办：\n1. 留证据。"]
    assert ours[1:] == rasas[3:] and len(ours) == 3


# The tracker store's reads and its count of stored events in SQL Core, next to Rasa's own, on one database.
_LEAN_PROBE = r"""
import asyncio, json, runpy, sys
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

rasa_additional_events, rasa_retrieve = SQLTrackerStore._additional_events, SQLTrackerStore._retrieve
runpy.run_path(sys.argv[1])["install"]()
dialect, host, port, db, user, password = sys.argv[2:8]
domain = Domain.from_yaml("version: '3.1'\nslots:\n  topic:\n    type: text\n    mappings: [{type: custom}]\n")
store = SQLTrackerStore(domain, dialect=dialect, host=host or None, port=int(port) if port else None, db=db,
                        username=user or None, password=password or None)

# Two conversation sessions for one sender, one for another.
def session(start):
    return [ActionExecuted("action_session_start", timestamp=start), SessionStarted(timestamp=start),
            ActionExecuted("action_listen", timestamp=start + 1),
            UserUttered("你好", {"name": "greet", "confidence": 1.0}, timestamp=start + 2),
            SlotSet("topic", f"t{start}", timestamp=start + 3), ActionExecuted("action_listen", timestamp=start + 4)]
asyncio.run(store.save(DialogueStateTracker.from_events("r2", session(100) + session(200), domain.slots)))
asyncio.run(store.save(DialogueStateTracker.from_events("r3", session(150), domain.slots)))

def dicts(tracker):
    return None if tracker is None else [e.as_dict() for e in tracker.events]
def ours_and_rasas(sender, all_sessions):
    return [dicts(asyncio.run(method(store, sender, all_sessions))) for method in (SQLTrackerStore._retrieve, rasa_retrieve)]
lean = {
    "latest": ours_and_rasas("r2", False), "full": ours_and_rasas("r2", True), "unknown": ours_and_rasas("nobody", False),
    "slot": asyncio.run(store.retrieve("r2")).get_slot("topic"),
}
held = asyncio.run(store.retrieve("r2"))  # what Rasa holds during a turn: the latest session, one event more
held.update(UserUttered("还在吗", {"name": "inform", "confidence": 0.7}, timestamp=210))
with store.session_scope() as sql:
    lean["additional"] = [[e.as_dict() for e in method(store, sql, held)]
                          for method in (SQLTrackerStore._additional_events, rasa_additional_events)]
asyncio.run(store.save(held))
lean["after_save"] = len(asyncio.run(store.retrieve("r2")).events)
print(json.dumps(lean))
"""


def test_lean_tracker_queries_read_and_count_as_rasa(rasa_layout, tmp_path, database_url):
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        args = ["sqlite", "", "", str(url.database), "", ""]
    else:
        args = ["postgresql", str(url.host), str(url.port or ""), str(url.database), str(url.username or ""),
                str(url.password or "")]
    done = subprocess.run(
        [str(rasa_layout.rasa_python), "-c", _LEAN_PROBE, str(rasa_layout.launcher), *args],
        capture_output=True, text=True, timeout=300, cwd=rasa_layout.root,
        env=rasa_environment(tmp_path / "cache"),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lean = json.loads(done.stdout.strip().splitlines()[-1])
    ours, rasas = lean["latest"]
    assert ours == rasas and len(ours) == 6, "the latest session only"
    ours, rasas = lean["full"]
    assert ours == rasas and len(ours) == 12, "both sessions"
    assert lean["unknown"] == [None, None]
    assert lean["slot"] == "t200"
    ours, rasas = lean["additional"]
    assert ours == rasas and [e["event"] for e in ours] == ["user"], "only the event not stored yet"
    assert lean["after_save"] == 7


def test_serving_command_goes_through_the_launcher(rasa_layout, tmp_path):
    from nlu.process import RasaServer

    command = RasaServer(tmp_path / "m.tar.gz", rasa_layout, port=5005).command()
    assert command[:3] == [str(rasa_layout.rasa_python), str(rasa_layout.launcher), "run"]
    assert rasa_layout.launcher.is_file()
    # What `lawline bench load` compares against: Rasa's own script, with the same arguments after "run".
    plain = RasaServer(tmp_path / "m.tar.gz", rasa_layout, port=5005, plain=True).command()
    assert plain[:2] == [str(rasa_layout.rasa_bin), "run"] and plain[2:] == command[3:]
