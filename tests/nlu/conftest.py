"""Fixtures for the Rasa side: a real Rasa server on loopback and a small local HTTP server standing in for
the app's custom-action webhook.

``rasa_layout`` and ``rasa_model`` (the project trained once per session) come from ``tests/conftest.py``:
without ``.venv-rasa`` they skip locally and fail in CI (``make test`` builds it first).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from nlu.affirmation import affirmation_response
from nlu.layout import RasaLayout
from nlu.process import RasaServer


class ActionStandIn(ThreadingHTTPServer):
    """Stands in for the app's rasa-sdk webhook: records each action call and answers with a marker text.

    ``action_default_ask_affirmation`` answers as the app must, with ``nlu.affirmation``;
    ``action_default_fallback`` (the app's ``OfferPerson``) reverts the user's turn as the app's does.
    """

    calls: list[dict[str, Any]]

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def calls_for(self, sender: str) -> list[dict[str, Any]]:
        return [call for call in self.calls if call["sender"] == sender]


class _ActionHandler(BaseHTTPRequestHandler):
    server: ActionStandIn

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        action, tracker, domain = body["next_action"], body["tracker"], body["domain"]
        slots = tracker.get("slots") or {}
        self.server.calls.append({"action": action, "sender": tracker["sender_id"], "slots": slots})
        events: list[dict[str, Any]] = []
        if action == "action_default_ask_affirmation":
            responses = [affirmation_response(tracker.get("latest_message") or {}, domain.get("responses") or {})]
        else:
            responses = [{"text": f"stand-in {action} topic={slots.get('topic')}"}]
        if action == "action_default_fallback":  # the app's OfferPerson reverts the turn, as Rasa's own does
            events.append({"event": "rewind"})
        payload = json.dumps({"events": events, "responses": responses}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet: the test output is enough."""


@pytest.fixture(scope="session")
def action_stand_in() -> Iterator[ActionStandIn]:
    server = ActionStandIn(("127.0.0.1", 0), _ActionHandler)
    server.calls = []
    thread = threading.Thread(target=server.serve_forever, name="action-stand-in", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="session")
def rasa_server(rasa_layout: RasaLayout, rasa_model: Path, action_stand_in: ActionStandIn) -> Iterator[RasaServer]:
    """A real ``rasa run`` on a free loopback port; custom actions go to the stand-in webhook.

    The tracker store is endpoints.yml's SQL store with its embedded SQLite default (nothing overridden).
    """
    for name in [n for n in os.environ if n.startswith("LAWLINE_RASA_TRACKER_")]:
        assert not os.environ[name], f"{name} is set; the Rasa tests expect the SQLite default"
    with RasaServer(rasa_model, rasa_layout, lawline_port=action_stand_in.port) as server:
        yield server
