"""``nlu.trackers`` on a tracker store Rasa itself wrote (Rasa's interpreter), then read back by Rasa."""

from __future__ import annotations

import datetime as dt
import json
import subprocess

from nlu._environment import rasa_environment
from nlu.layout import RasaLayout
from nlu.trackers import TrackerStore, tracker_url

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
OLD, RECENT = (NOW - dt.timedelta(days=400)).timestamp(), (NOW - dt.timedelta(days=2)).timestamp()

# Runs in .venv-rasa: writes three senders' trackers with Rasa's SQLTrackerStore, or reads them back.
_PROBE = r"""
import asyncio, json, sys
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

mode, db, old, recent = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
domain = Domain.from_yaml("version: '3.1'\nslots:\n  topic:\n    type: text\n    mappings: [{type: custom}]\n")
store = SQLTrackerStore(domain, dialect="sqlite", db=db)

def session(at, text, topic):
    return [ActionExecuted("action_session_start", timestamp=at), SessionStarted(timestamp=at),
            ActionExecuted("action_listen", timestamp=at), UserUttered(text, {"name": "ask"}, timestamp=at + 1),
            SlotSet("topic", topic, timestamp=at + 2), ActionExecuted("action_listen", timestamp=at + 3)]

if mode == "write":
    trackers = {"gone": session(old, "我电话13912345678", "wages"),
                "active": session(old, "去年的事", "land") + session(recent, "今天的事", "wages"),
                "asked": session(recent, "我要删除我的信息", "other")}
    for sender, events in trackers.items():
        asyncio.run(store.save(DialogueStateTracker.from_events(sender, events, domain.slots)))
    print(json.dumps({"written": True}))
else:
    out = {}
    for sender in ("gone", "active", "asked"):
        tracker = asyncio.run(store.retrieve(sender))
        out[sender] = None if tracker is None else {
            "topic": tracker.get_slot("topic"), "said": [e.text for e in tracker.events if isinstance(e, UserUttered)]}
    print(json.dumps(out, ensure_ascii=False))
"""


def _rasa(layout: RasaLayout, tmp_path, mode: str, db: str) -> dict:
    done = subprocess.run([str(layout.rasa_python), "-c", _PROBE, mode, db, str(OLD), str(RECENT)],
                          capture_output=True, text=True, timeout=300, cwd=layout.root,
                          env=rasa_environment(tmp_path / "cache"))
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_app_finds_the_store_rasa_is_started_with(tmp_path):
    layout = RasaLayout.default(var_dir=tmp_path / "var")
    assert tracker_url(layout, {}) == f"sqlite:///{layout.tracker_db}"
    assert tracker_url(layout, {"LAWLINE_RASA_TRACKER_DB": "var/t.db"}) == f"sqlite:///{layout.root / 'var/t.db'}"
    postgres = tracker_url(layout, {"LAWLINE_RASA_TRACKER_DIALECT": "postgresql", "LAWLINE_RASA_TRACKER_HOST":
                                    "db.internal:5433", "LAWLINE_RASA_TRACKER_DB": "rasa",
                                    "LAWLINE_RASA_TRACKER_USER": "rasa", "LAWLINE_RASA_TRACKER_PASSWORD": "s3cret"})
    assert postgres == "postgresql+psycopg://rasa:s3cret@db.internal:5433/rasa"
    assert "s3cret" not in TrackerStore(postgres).shown_url
    missing = TrackerStore(f"sqlite:///{tmp_path / 'none.db'}")
    assert not missing.present() and not (tmp_path / "none.db").exists()  # looking never creates the file


def test_erasing_and_ageing_out_what_rasa_wrote(rasa_layout, tmp_path):
    db = str(tmp_path / "tracker.db")
    _rasa(rasa_layout, tmp_path, "write", db)
    store = TrackerStore(f"sqlite:///{db}")
    try:
        assert store.present()
        exported = store.events(["asked"])
        assert {e["sender_id"] for e in exported} == {"asked"}
        assert "我要删除我的信息" in [e.get("text") for e in exported]
        assert store.delete_senders(["asked"], dry_run=True) == len(exported)
        assert store.delete_senders(["asked"]) == len(exported) and store.events(["asked"]) == []
        before = len(store.events(["gone", "active"]))
        would = store.purge_before(NOW - dt.timedelta(days=365), dry_run=True)
        assert len(store.events(["gone", "active"])) == before  # a dry run changes nothing
        assert store.purge_before(NOW - dt.timedelta(days=365)) == would == 12  # six of each: a whole session
        assert store.purge_before(NOW - dt.timedelta(days=365)) == 0
    finally:
        store.close()
    back = _rasa(rasa_layout, tmp_path, "read", db)
    assert back["gone"] is None and back["asked"] is None
    assert back["active"] == {"topic": "wages", "said": ["今天的事"]}  # the session in progress is intact
