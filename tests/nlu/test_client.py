"""RasaClient against things that are not a healthy Rasa: closed ports, silent servers, error statuses."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from nlu.client import Parse, RasaClient
from nlu.errors import NluError, RasaResponseError, RasaUnavailable
from nlu.process import free_port


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _call(url: str, method: str, *args: Any, timeout: float = 2.0) -> Any:
    async with RasaClient(url, timeout=timeout, send_timeout=timeout) as client:
        return await getattr(client, method)(*args)


@pytest.mark.parametrize(
    ("method", "args"),
    [("status", ()), ("parse", ("老板不给工钱",)), ("send", ("someone", "你好")), ("trigger_intent", ("someone", "greet"))],
)
def test_closed_port_is_unavailable(method, args):
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(RasaUnavailable) as caught:
        _run(_call(url, method, *args))
    assert isinstance(caught.value, NluError)
    assert caught.value.url.startswith(url)
    assert "老板" not in str(caught.value) and "你好" not in str(caught.value)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections but never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def test_silent_server_times_out_as_unavailable(silent_port):
    with pytest.raises(RasaUnavailable, match="timed out"):
        _run(_call(f"http://127.0.0.1:{silent_port}", "parse", "土地", timeout=0.3))


class _Broken(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.path.startswith("/model/parse"):
            body, status = b"<html>oops</html>", 200
        else:
            body, status = b'{"message": "secret details"}', 500
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet."""


@pytest.fixture
def broken_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Broken)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_error_status_and_bad_body_are_response_errors(broken_url):
    with pytest.raises(RasaResponseError) as status_error:
        _run(_call(broken_url, "send", "someone", "我的身份证号"))
    assert status_error.value.status == 500
    assert "secret" not in str(status_error.value) and "身份证" not in str(status_error.value)
    with pytest.raises(RasaResponseError, match="not JSON"):
        _run(_call(broken_url, "parse", "工资"))


def test_parse_reads_rasa_answer():
    parse = Parse.from_json(
        {
            "text": "欠了俺三千块",
            "intent": {"name": "wages", "confidence": 0.93},
            "entities": [
                {"entity": "money", "value": "三千块", "start": 3, "end": 6, "extractor": "RegexEntityExtractor"},
                {"entity": "relation", "value": "父亲", "start": 0, "end": 2},
                {"entity": "money", "value": "三千块", "start": 3, "end": 6, "extractor": "DIETClassifier"},
            ],
            "intent_ranking": [{"name": "wages", "confidence": 0.93}, {"name": "dispute", "confidence": 0.05}],
        }
    )
    assert (parse.intent, parse.confidence) == ("wages", 0.93)
    assert parse.ranking == [("wages", 0.93), ("dispute", 0.05)]
    assert parse.values("money") == ["三千块"]
    assert parse.entities[1].extractor is None
    assert Parse.from_json({"intent": None}).intent == "nlu_fallback"
