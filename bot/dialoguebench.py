"""``lawline bench dialogue``: whole conversations through a real ``lawline serve``, judged turn by turn.

A scenario (one JSON line) is a resident's turns, each with regular expressions the reply must contain
(optionally within its first ``first_chars`` characters), must not contain, and a ``max_chars`` bound. The
bench starts the stack on free loopback ports (app, actions, supervised Rasa, the configured database and
index), plays every scenario through the web chat API (``POST /api/chat/messages``, a new session each), and
reports the scenarios that hold and every failing turn with its reply. The scenarios it is judged on are
written apart from the training data (``tests/data/dialogue/heldout.jsonl``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bot.loadbench import start_stack, wait_ready
from nlu.process import free_port

__all__ = ["Scenario", "ScenarioError", "Turn", "judge", "load_scenarios", "run_dialogue_bench"]


class ScenarioError(ValueError):
    """A scenario file cannot be used; the message names the line."""


@dataclass(frozen=True, slots=True)
class Turn:
    """What the resident says and what the reply must (not) contain."""

    say: str
    must: tuple[re.Pattern[str], ...]
    must_not: tuple[re.Pattern[str], ...]
    first_chars: int | None
    max_chars: int | None


@dataclass(frozen=True, slots=True)
class Scenario:
    """One conversation, judged on each turn."""

    name: str
    behaviour: str
    topic: str
    turns: tuple[Turn, ...]


def _patterns(value: Any, where: str) -> tuple[re.Pattern[str], ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ScenarioError(f"{where}: must be a list of regular expressions")
    try:
        return tuple(re.compile(v) for v in value)
    except re.error as exc:
        raise ScenarioError(f"{where}: {exc}") from None


def load_scenarios(path: Path) -> list[Scenario]:
    """Read and check a scenario file; every problem is reported as ``file:line: reason``."""
    scenarios = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name}:{number}"
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise ScenarioError(f"{where}: not JSON ({exc})") from None
        turns = data.get("turns") if isinstance(data, dict) else None
        if not isinstance(turns, list) or not turns:
            raise ScenarioError(f"{where}: a scenario needs a list of turns")
        parsed = []
        for index, turn in enumerate(turns, 1):
            at = f"{where} turn {index}"
            if not isinstance(turn, dict) or not isinstance(turn.get("say"), str):
                raise ScenarioError(f"{at}: each turn needs 'say'")
            must = _patterns(turn.get("must", []), f"{at} must")
            must_not = _patterns(turn.get("must_not", []), f"{at} must_not")
            limits = [turn.get("first_chars"), turn.get("max_chars")]
            if any(v is not None and (not isinstance(v, int) or v <= 0) for v in limits):
                raise ScenarioError(f"{at}: first_chars and max_chars are positive integers")
            if not must and not must_not and limits[1] is None:
                raise ScenarioError(f"{at}: a turn must check something")
            parsed.append(Turn(turn["say"], must, must_not, limits[0], limits[1]))
        scenarios.append(Scenario(str(data.get("name", f"line-{number}")), str(data.get("behaviour", "")),
                                  str(data.get("topic", "")), tuple(parsed)))
    if not scenarios:
        raise ScenarioError(f"{path.name}: no scenarios")
    return scenarios


def judge(turn: Turn, reply: str) -> list[str]:
    """What is wrong with ``reply`` for ``turn`` (empty: it holds)."""
    problems = []
    head = reply[: turn.first_chars] if turn.first_chars else reply
    problems += [f"missing /{p.pattern}/" + (f" in the first {turn.first_chars}" if turn.first_chars else "")
                 for p in turn.must if not p.search(head)]
    problems += [f"has /{p.pattern}/" for p in turn.must_not if p.search(reply)]
    if turn.max_chars and len(reply) > turn.max_chars:
        problems.append(f"{len(reply)} characters > {turn.max_chars}")
    return problems


def _play(http: httpx.Client, scenario: Scenario) -> dict[str, Any]:
    session = secrets.token_hex(16)
    failures = []
    first_len = None
    for index, turn in enumerate(scenario.turns, 1):
        response = http.post("/api/chat/messages", json={"session": session, "text": turn.say})
        if response.status_code != 200:
            failures.append({"turn": index, "say": turn.say, "problems": [f"HTTP {response.status_code}"],
                             "reply": response.text[:300]})
            continue
        reply = "\n\n".join(response.json().get("replies") or [])
        if first_len is None:
            first_len = len(reply)
        problems = judge(turn, reply)
        if problems:
            failures.append({"turn": index, "say": turn.say, "problems": problems, "reply": reply})
    return {"name": scenario.name, "behaviour": scenario.behaviour, "topic": scenario.topic,
            "holds": not failures, "failures": failures, "first_reply_chars": first_len or 0}


def run_dialogue_bench(scenarios: list[Scenario], var_dir: Path, *, base_url: str | None = None,
                       startup_timeout: float = 600.0) -> dict[str, Any]:
    """Play ``scenarios`` against ``base_url``, or against a ``lawline serve`` started for the run."""
    process = None
    if base_url is None:
        port = free_port()
        env = {**os.environ, "LAWLINE_PORT": str(port), "LAWLINE_RASA_PORT": str(free_port()),
               "LAWLINE_LOG_LEVEL": "WARNING"}
        env.pop("LAWLINE_RASA_URL", None)
        base_url = f"http://127.0.0.1:{port}"
        process = start_stack(env, var_dir / "bench" / "dialogue-serve.log")
    try:
        if process is not None:
            wait_ready(base_url, process, startup_timeout)
        with httpx.Client(base_url=base_url, timeout=30) as http:
            results = [_play(http, scenario) for scenario in scenarios]
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=60)
            except Exception:
                process.kill()
    held = sum(1 for r in results if r["holds"])
    by_behaviour: dict[str, list[int]] = {}
    for r in results:
        counts = by_behaviour.setdefault(r["behaviour"], [0, 0])
        counts[0] += r["holds"]
        counts[1] += 1
    return {"scenarios": len(results), "hold": held, "hold_rate": round(held / len(results), 3),
            "longest_first_reply": max(r["first_reply_chars"] for r in results),
            "by_behaviour": {k: f"{v[0]}/{v[1]}" for k, v in sorted(by_behaviour.items())}, "results": results}
