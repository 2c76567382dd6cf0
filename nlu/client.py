"""Async client for the Rasa server's HTTP API: NLU parsing, the REST channel, trackers, status.

The app never imports Rasa (it runs in its own Python 3.10 virtualenv); this is the only way in. Transport
failures (refused, reset, timed out) become ``RasaUnavailable``; error statuses and unexpected bodies become
``RasaResponseError``. Messages are never logged above DEBUG, and errors never carry them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from nlu.errors import RasaResponseError, RasaUnavailable

__all__ = ["Entity", "Parse", "RasaClient"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Entity:
    """An entity Rasa found: ``entity`` is its type (money, duration, relation, place), ``value`` normalised."""

    entity: str
    value: str
    start: int | None = None
    end: int | None = None
    extractor: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Entity:
        start, end = data.get("start"), data.get("end")
        return cls(
            entity=str(data["entity"]),
            value=str(data.get("value", "")),
            start=start if isinstance(start, int) else None,
            end=end if isinstance(end, int) else None,
            extractor=str(data["extractor"]) if data.get("extractor") else None,
        )


@dataclass(frozen=True, slots=True)
class Parse:
    """What Rasa understood of one message: the intent (``nlu_fallback`` when unsure) and the entities."""

    intent: str
    confidence: float
    entities: list[Entity] = field(default_factory=list)
    ranking: list[tuple[str, float]] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Parse:
        """Read ``/model/parse``'s answer; raises ``KeyError``/``TypeError``/``ValueError`` if it is malformed."""
        intent = data.get("intent") or {}
        return cls(
            intent=str(intent.get("name") or "nlu_fallback"),
            confidence=float(intent.get("confidence") or 0.0),
            entities=[Entity.from_json(e) for e in data.get("entities") or []],
            ranking=[(str(r["name"]), float(r["confidence"])) for r in data.get("intent_ranking") or []],
        )

    def values(self, entity: str) -> list[str]:
        """The values found for one entity type, in order, without repeats."""
        return list(dict.fromkeys(e.value for e in self.entities if e.entity == entity))


class RasaClient:
    """One connection pool to one Rasa server (``rasa run --enable-api``); use as an async context manager.

    ``timeout`` bounds every request; ``send`` may take longer because Rasa calls the app's custom actions
    before it answers, so it has its own ``send_timeout``. ``token`` is Rasa's ``--auth-token``, if set.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        send_timeout: float = 30.0,
        token: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._send_timeout = send_timeout
        self._params = {"token": token} if token else {}
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, transport=transport)

    async def __aenter__(self) -> RasaClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, path: str, *, json: Any = None, timeout: float | None = None) -> Any:
        url = f"{self.base_url}{path}"
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        try:
            response = await self._http.request(method, path, json=json, params=self._params, **extra)
        except httpx.TimeoutException as exc:
            raise RasaUnavailable(url, f"timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise RasaUnavailable(url, type(exc).__name__) from None
        if response.status_code >= 400:
            raise RasaResponseError(url, response.status_code, response.reason_phrase)
        try:
            return response.json()
        except ValueError:
            raise RasaResponseError(url, response.status_code, "the body is not JSON") from None

    async def status(self) -> dict[str, Any]:
        """``GET /status``: the loaded model (``model_file``, ``model_id``) and running training jobs."""
        data = await self._request("GET", "/status")
        if not isinstance(data, dict):
            raise RasaResponseError(f"{self.base_url}/status", 200, "expected a JSON object")
        return data

    async def parse(self, text: str) -> Parse:
        """``POST /model/parse``: intent, confidence, entities and intent ranking of ``text``."""
        data = await self._request("POST", "/model/parse", json={"text": text})
        try:
            parse = Parse.from_json(data)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise RasaResponseError(f"{self.base_url}/model/parse", 200, "unexpected parse result") from None
        log.debug("parse: intent %s (%.2f), %d entities", parse.intent, parse.confidence, len(parse.entities))
        return parse

    async def send(
        self, sender_id: str, text: str, metadata: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Post a resident's message to the REST channel; the bot's replies (``text``, ``buttons``, …).

        ``sender_id`` is the conversation id (a hashed openid, never the openid itself).
        """
        body: dict[str, Any] = {"sender": sender_id, "message": text}
        if metadata:
            body["metadata"] = dict(metadata)
        data = await self._request("POST", "/webhooks/rest/webhook", json=body, timeout=self._send_timeout)
        if not isinstance(data, list) or not all(isinstance(m, dict) for m in data):
            raise RasaResponseError(f"{self.base_url}/webhooks/rest/webhook", 200, "expected a list of messages")
        return data

    async def trigger_intent(
        self, sender_id: str, intent: str, entities: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Act as if the resident expressed ``intent`` (e.g. a menu choice).

        Returns Rasa's answer: ``tracker`` and the bot's ``messages``.
        """
        path = f"/conversations/{quote(sender_id, safe='')}/trigger_intent"
        body = {"name": intent, "entities": dict(entities or {})}
        data = await self._request("POST", path, json=body, timeout=self._send_timeout)
        if not isinstance(data, dict):
            raise RasaResponseError(f"{self.base_url}{path}", 200, "expected a JSON object")
        return data

    async def tracker(self, sender_id: str) -> dict[str, Any]:
        """``GET /conversations/{id}/tracker``: slots, latest message and events of one conversation."""
        path = f"/conversations/{quote(sender_id, safe='')}/tracker"
        data = await self._request("GET", path)
        if not isinstance(data, dict):
            raise RasaResponseError(f"{self.base_url}{path}", 200, "expected a JSON object")
        return data
