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

original = RemoteAction._validate_action_result
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

print(json.dumps({
    "replaced": patched is not original,
    "valid": [outcome(original, valid), outcome(patched, valid)],
    "invalid": [outcome(original, invalid), outcome(patched, invalid)],
    "journal": journal, "synchronous": synchronous,
}))
"""


def test_fixes_validate_like_rasa_and_set_sqlite_pragmas(rasa_layout, tmp_path):
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


def test_serving_command_goes_through_the_launcher(rasa_layout, tmp_path):
    from nlu.process import RasaServer

    command = RasaServer(tmp_path / "m.tar.gz", rasa_layout, port=5005).command()
    assert command[:3] == [str(rasa_layout.rasa_python), str(rasa_layout.launcher), "run"]
    assert rasa_layout.launcher.is_file()
