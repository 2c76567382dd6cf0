"""``lawline bench faults``: residents keep writing while the stack has a bad day; count what reaches them.

The bench starts the real stack (``lawline serve`` with its supervised Rasa, on free loopback ports, with the
configured database and index) behind the WeChat stand-in of ``channels.simulator``, then runs one
phase per fault. In each phase a few new residents write at once, WeChat-style (a delivery unanswered within 5 s is
sent again, three times at most, with the same MsgId): a question, then "1" (the articles in full). The
stack's passive window is set to 0.05 s (``LAWLINE_PASSIVE_REPLY_SECONDS``), so every answer goes out by
push, through the outbox and the faults. While they write, the fault is injected:

- ``wechat_45015`` / ``wechat_500`` / ``wechat_busy``: customer-service pushes refused (window closed, HTTP
  500, errcode −1);
- ``wechat_slow``: a push is delivered but WeChat's "ok" comes after the app's 10 s client timeout;
- ``kill_rasa``: ``kill -9`` of the Rasa server (the supervisor restarts it; retrieval answers meanwhile);
- ``kill_app``: ``kill -9`` of the app process once it has recorded a message and works on it, then a restart;
- ``kill_redis``: ``kill -9`` of Redis (the app's shared store: heartbeats, the access token; Rasa's locks)
  once the app works on the questions, and again while the articles are pushed; it comes back empty a second
  later (``scripts/redis.sh``);
- ``restart_postgres``: PostgreSQL restarted in fast mode (every session cut; the app's and Rasa's tracker
  database) at the same two moments (``scripts/postgres.sh``).

The last two need the stack on the scripts' PostgreSQL and Redis (``bot.data_servers``); with them the stack
keeps Rasa's tracker and locks there too, as deploy/lawline.env.example does.

Once the stack's outbox is empty, each resident writes once more (a 45015 holds what was refused until they
do). Per phase the bench prints the messages sent, answered (a part of its stored answer reached the
resident), lost (none did, or no answer was stored), incomplete (parts that never arrived), duplicated (a
text that arrived twice), the pushes, the slowest first text, and fallback (answers from retrieval alone, with
the note that the dialogue engine was unavailable). The stored answers are read from the
stack's own database (``handoff_deliveries``, by message).
Target: 0 lost, 0 incomplete; duplicates only after ``wechat_slow``, one per timeout at most.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import string
import subprocess
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session

from bot.answers import load_reply_texts
from bot.data_servers import DataServers, ensure_rasa_database, rasa_stores_env
from bot.loadbench import random_key, start_stack, wait_ready
from channels.simulator import CallbackSimulator, WeChatApiStandIn
from channels.storage import channel_inbox
from handoff.models import Delivery
from nlu.process import free_port

__all__ = ["FAULTS", "SERVER_FAULTS", "run_fault_bench"]

FAULTS = ("none", "wechat_45015", "wechat_500", "wechat_busy", "wechat_slow", "kill_rasa", "kill_app", "kill_redis",
          "restart_postgres")
SERVER_FAULTS = ("kill_redis", "restart_postgres")
REDIS_DOWN_SECONDS = 1.0

# Written by the team for this bench (not from any evaluation set); most get a card answer of two parts.
QUESTIONS = (
    "老板拖欠工资三个月了怎么办",
    "包工头不给工钱，我该找谁",
    "儿子不给我赡养费，我能告他吗",
    "离婚后对方不给孩子抚养费怎么办",
    "村里要收回我家的承包地",
    "邻居盖房子挡了我家的路",
    "借钱给朋友他不还，有借条",
    "在工地上受伤了老板不管",
)


@dataclass
class _Resident:
    openid: str
    question: str
    msg_ids: tuple[int, int]  # the question, then "1" (the articles in full: an answer of several parts)
    texts: list[str] = field(default_factory=list)  # passive replies and pushes for those two messages
    followup: str | None = None  # the passive reply to the third message (held parts come with it)
    first_at: float | None = None
    sent_at: float = 0.0
    deliveries: int = 0


async def _deliver(http: httpx.AsyncClient, sim: CallbackSimulator, resident: _Resident, text: str,
                   msg_id: int) -> str | None:
    """One message as WeChat sends it: retried (same MsgId) when the app does not answer within 5 s."""
    for attempt in range(4):
        query, body = sim.delivery(resident.openid, text, msg_id)
        resident.deliveries += 1
        try:
            response = await http.post("/wechat", params=query, content=body, timeout=5.0)
        except httpx.TransportError:
            if attempt < 3:
                await asyncio.sleep(5.0 if attempt else 1.0)  # a refused connection: WeChat tries again later
            continue
        if response.status_code == 200:
            return sim.reply_text(response.text) if response.text != "success" else None
        return None
    return None


def _stored(database_url: str, message_keys: list[str],
            openids: tuple[str, ...] = ()) -> tuple[dict[str, list[str]], int, Counter[tuple[str, str]]]:
    """The stored parts of each answer, how many still wait to go out, and the rows per (resident, text).

    A text may rightly arrive as often as the outbox holds it (two answers may read the same).
    """
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            rows = session.scalars(select(Delivery).where(Delivery.message_key.in_(message_keys))
                                   .order_by(Delivery.id)).all()
            keys = [f"official_account:{openid}" for openid in openids]
            every = session.execute(select(Delivery.conversation_key, Delivery.text)
                                    .where(Delivery.conversation_key.in_(keys))).all() if keys else []
    finally:
        engine.dispose()
    parts: dict[str, list[str]] = {key: [] for key in message_keys}
    for row in rows:
        parts[str(row.message_key)].append(row.text)
    allowed: Counter[tuple[str, str]] = Counter((key.removeprefix("official_account:"), text) for key, text in every)
    return parts, sum(1 for row in rows if row.state in ("pending", "awaiting")), allowed


async def _until_working(database_url: str, openids: list[str], timeout: float = 30.0) -> None:
    """Wait until the app has recorded a message of these residents and is still working on it."""
    engine = create_engine(database_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if await asyncio.to_thread(_working, engine, openids):
                return
            await asyncio.sleep(0.02)
    finally:
        engine.dispose()
    raise RuntimeError("the app recorded none of the messages within 30 s")


def _working(engine: Engine, openids: list[str]) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(
            select(func.count()).select_from(channel_inbox)
            .where(channel_inbox.c.openid.in_(openids), channel_inbox.c.state == "working")) or 0)


class _Stack:
    """``lawline serve`` as a child process that the bench can kill and start again."""

    def __init__(self, env: dict[str, str], base: str, log: Path, startup_timeout: float) -> None:
        self.env, self.base, self.log, self.startup_timeout = env, base, log, startup_timeout
        self.process = start_stack(env, log)

    def ready(self) -> None:
        wait_ready(self.base, self.process, self.startup_timeout)

    def kill_app(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def restart(self) -> None:
        self.process = start_stack(self.env, self.log)

    def kill_rasa(self) -> bool:
        """``kill -9`` of the Rasa child; False when it is not running."""
        found = subprocess.run(["pgrep", "-P", str(self.process.pid), "-f", "rasa"], capture_output=True, text=True)
        pids = [int(pid) for pid in found.stdout.split()]
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        return bool(pids)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()


async def _settle(api: WeChatApiStandIn, people: list[_Resident], database: str, keys: list[str]) -> None:
    """Until the outbox is empty and the pushes have stopped (a slow "ok" takes the client's timeout)."""
    deadline, quiet, last = time.monotonic() + 180, 0, -1
    while time.monotonic() < deadline and quiet < 6:
        count = sum(len(api.pushed_to(r.openid)) for r in people)
        waiting = _stored(database, keys)[1]
        quiet, last = (quiet + 1 if count == last and not waiting else 0), count
        await asyncio.sleep(0.5)


async def _hurt(fault: str, servers: DataServers) -> None:
    """The server fault, in a thread (residents keep writing meanwhile)."""
    if fault == "kill_redis":
        await asyncio.to_thread(servers.kill_redis)
        await asyncio.sleep(REDIS_DOWN_SECONDS)
        await asyncio.to_thread(servers.start_redis)
    elif fault == "restart_postgres":
        await asyncio.to_thread(servers.restart_postgres)


async def _phase(fault: str, stack: _Stack, sim: CallbackSimulator, api: WeChatApiStandIn, database: str,
                 appid: str, residents: int, counter: list[int], servers: DataServers,
                 degraded_note: str) -> dict[str, Any]:
    people = []
    for n in range(residents):
        counter[0] += 2
        people.append(_Resident(f"o-fault-{fault}-{n}-{secrets.token_hex(3)}", QUESTIONS[n % len(QUESTIONS)],
                                (counter[0] - 1, counter[0])))
    keys = [f"wechat:oa:{appid}:msg:{msg_id}" for r in people for msg_id in r.msg_ids]
    async with httpx.AsyncClient(base_url=stack.base) as http:
        async def ask(resident: _Resident, text: str, msg_id: int, first: bool) -> None:
            if first:
                resident.sent_at = time.monotonic()
            reply = await _deliver(http, sim, resident, text, msg_id)
            if reply:
                resident.texts.append(reply)
                if first:
                    resident.first_at = time.monotonic()

        # The question, while Rasa or the app is killed.
        sending = asyncio.gather(*(ask(r, r.question, r.msg_ids[0], True) for r in people))
        if fault == "kill_rasa":
            await asyncio.sleep(0.2)
            stack.kill_rasa()
        if fault == "kill_app":
            await _until_working(database, [r.openid for r in people])  # recorded, not yet answered
            stack.kill_app()
            stack.restart()
        if fault in SERVER_FAULTS:
            await _until_working(database, [r.openid for r in people])
            await _hurt(fault, servers)
        await sending
        if fault == "kill_app":
            stack.ready()
        # A resident reads the answer before typing "1": wait for each one's first text.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all(r.texts or api.pushed_to(r.openid) for r in people):
            await asyncio.sleep(0.25)
        # "1": the articles in full, a passive reply and pushes, while WeChat refuses or stalls the pushes.
        injected = {"wechat_45015": "45015", "wechat_500": "500", "wechat_busy": "-1", "wechat_slow": "slow"}
        # 45015 refuses once per resident (the rest waits for their next message); 500 and −1 outlast the
        # client's own three retries; a slow "ok" twice.
        counts = {"wechat_45015": residents, "wechat_slow": 2}
        if fault in injected:
            api.fail_next(injected[fault], counts.get(fault, residents * 4))
        articles = asyncio.gather(*(ask(r, "1", r.msg_ids[1], False) for r in people))
        if fault in SERVER_FAULTS:  # again while the articles are prepared and pushed
            await asyncio.sleep(0.3)
            await _hurt(fault, servers)
        await articles
        await _settle(api, people, database, keys)
        for r in people:  # the resident writes again: anything held for them comes with the reply
            counter[0] += 1
            r.followup = await _deliver(http, sim, r, "好的，谢谢", counter[0])
        api.clear_faults()
        await _settle(api, people, database, keys)
    for r in people:
        pushed = api.pushed_with_times(r.openid)
        r.texts.extend(text for text, _ in pushed)
        if r.first_at is None and pushed:
            r.first_at = pushed[0][1]
    parts, _, allowed = _stored(database, keys, tuple(r.openid for r in people))
    answered = lost = incomplete = duplicated = fallback = 0
    for r in people:
        received = "\n\n".join([*r.texts, r.followup or ""])
        for msg_id in r.msg_ids:
            stored = parts[f"wechat:oa:{appid}:msg:{msg_id}"]
            arrived = [part for part in stored if part in received]
            answered += bool(arrived)
            lost += not arrived
            fallback += any(part.startswith(degraded_note) for part in stored)
            incomplete += len(stored) - len(arrived) if arrived else 0
        # A text pushed more often than the outbox holds it (two answers may rightly read the same).
        times = Counter(api.pushed_to(r.openid))
        duplicated += sum(max(0, n - max(1, allowed[(r.openid, text)])) for text, n in times.items())
    slowest = max((r.first_at - r.sent_at for r in people if r.first_at is not None), default=0.0)
    return {"fault": fault, "sent": 2 * residents, "answered": answered, "lost": lost,
            "incomplete_parts": incomplete, "duplicated": duplicated, "pushes": sum(len(api.pushed_to(r.openid))
                                                                                   for r in people),
            "slowest_s": round(slowest, 1), "deliveries": sum(r.deliveries for r in people), "fallback": fallback}


def run_fault_bench(database_url: str, var_dir: Path, faults: tuple[str, ...] = FAULTS, residents: int = 6,
                    startup_timeout: float = 600.0, base_env: Mapping[str, str] | None = None,
                    redis_url: str | None = None) -> dict[str, Any]:
    """Start the stack on ``database_url`` (and ``redis_url``), run each fault phase, stop it; one result per fault.

    ``base_env``: the environment the stack's settings come from (default: this process's). Both servers are
    left running, whatever a fault did to them.
    """
    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        raise ValueError(f"unknown faults: {', '.join(unknown)} (known: {', '.join(FAULTS)})")
    servers = DataServers(database_url, redis_url)
    missing = [reason for fault in faults if fault in SERVER_FAULTS and (reason := servers.missing_for(fault))]
    if missing:
        raise ValueError("; ".join(missing))
    api = WeChatApiStandIn()
    api.start()
    log = var_dir / "bench" / "faults-serve.log"
    token = random_key(string.ascii_letters + string.digits, 24)
    appid = "wx" + random_key("0123456789abcdef", 16)
    aes_key = random_key(string.ascii_letters + string.digits, 43)
    port, rasa_port = free_port(), free_port()
    env = {**(os.environ if base_env is None else base_env), "LAWLINE_PORT": str(port),
           "LAWLINE_RASA_PORT": str(rasa_port), "LAWLINE_WECHAT_TOKEN": token,
           # Every answer misses the passive window and goes out by push, through the faults below.
           "LAWLINE_PASSIVE_REPLY_SECONDS": "0.05",
           "LAWLINE_WECHAT_APPID": appid, "LAWLINE_WECHAT_APPSECRET": random_key(string.ascii_letters, 32),
           "LAWLINE_WECHAT_AES_KEY": aes_key, "LAWLINE_WECHAT_API_BASE": api.base_url, "LAWLINE_LOG_LEVEL": "WARNING"}
    env.pop("LAWLINE_RASA_URL", None)
    env["LAWLINE_DATABASE_URL"] = database_url
    if redis_url:
        env["LAWLINE_REDIS_URL"] = redis_url
    if any(fault in SERVER_FAULTS for fault in faults):  # Rasa's tracker and locks on the servers hurt
        ensure_rasa_database(database_url)
        env.update(rasa_stores_env(database_url, redis_url))
    stack = _Stack(env, f"http://127.0.0.1:{port}", log, startup_timeout)
    results = []
    try:
        stack.ready()
        sim = CallbackSimulator(token, appid, aes_key)
        counter = [int(time.time()) * 1000]
        for fault in faults:
            if fault in ("kill_rasa", *SERVER_FAULTS):
                stack.ready()  # Rasa is up before it is killed or its stores are
            results.append(asyncio.run(_phase(fault, stack, sim, api, database_url, appid, residents, counter,
                                              servers, load_reply_texts().degraded_note)))
    finally:
        stack.stop()
        api.stop()
        if any(fault in SERVER_FAULTS for fault in faults):
            servers.ensure_running()
    return {"residents_per_fault": residents, "faults": results, "log": str(log)}
