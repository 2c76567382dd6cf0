"""``lawline bench multinode``: two app nodes that share only PostgreSQL and Redis, on the project's test hosts.

``scripts/netns.sh`` makes the hosts (``bot.netns``): a data host with PostgreSQL (the app's database and
Rasa's tracker store) and Redis (the app's shared store and Rasa's lock store); two app nodes, each running
``lawline serve`` — the app and its own Rasa child — with its own ``LAWLINE_VAR_DIR`` and Rasa model; and a
client host for everything outside: WeChat's servers (the stand-in of ``channels.simulator``, which every
node's ``LAWLINE_WECHAT_API_BASE`` and ``LAWLINE_WECOM_API_BASE`` point at), the residents, the operator.
Nothing can reach beyond these hosts. Each node reads the published index and corpus files from one folder
(``LAWLINE_INDEX_DIR``, ``LAWLINE_CORPUS_DIR``): the hosts share this machine's file system, which stands for
the shared storage of a deployment (``docs/DEPLOY.md``); that is how the code spreads a publish today.

Residents write signed, AES-encrypted messages spread over both nodes (``bot.multinode_traffic``: a retry of
a MsgId may reach the other node). Phases:

- ``normal``: each resident asks a question, then "1" (the articles in full), then other questions, each once
  the answer to the one before has arrived.
- ``kill_node1``: each resident asks; once node 1 works on one of the messages, ``kill -9`` of every process
  on node 1 (the app and its Rasa). Node 2 finishes them through the inbox: a retry takes over a dead
  owner's row, or node 2's sweeper does by push once node 1's heartbeat has expired and WeChat's retries are
  over. Node 1 is then started again when a later phase needs it.
- ``publish``: on node 1 an editor changes an answer card's title in the console and a reviewer publishes it
  while residents keep writing to both nodes; node 2 must answer from the new index within
  ``LAWLINE_RELOAD_SECONDS`` (its ``/healthz`` corpus version, and the card's new title in its answer).

Per phase: sent, answered, lost, duplicated, slowest first text, messages per second and per core (every
host runs on this machine's cores), and CPU milliseconds per message of the hosts' processes. Then whether
both Rasa servers hold Redis lock-store connections, the conversations in the shared tracker store, and what
each node's ``/metrics`` says.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import string
import subprocess
import sys
import time
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy import Engine, create_engine, select, text

from bot.db import make_engine, make_sessions, upgrade_schema
from bot.loadbench import QUESTIONS, random_key, wait_ready
from bot.multinode_console import Operator, publish_card_title
from bot.multinode_traffic import Message, Traffic
from bot.netns import NetnsHosts, hosts_unavailable
from channels.simulator import CallbackSimulator, WeChatApiStandIn
from channels.storage import channel_inbox

__all__ = ["PHASES", "PUBLISHED_VIA", "BenchInputs", "run_multinode_bench"]

PHASES = ("normal", "kill_node1", "publish")
CARD_SLUG = "wages-unpaid-wages"
CARD_QUESTION = "老板欠俺三个月工资不给咋整"  # one of that card's own questions
PUBLISHED_VIA = ("shared folder: LAWLINE_INDEX_DIR (the index, swapped whole by the publishing node and "
                 "reloaded by the others' watchers) and LAWLINE_CORPUS_DIR (corpus files, eligibility rules); "
                 "the database holds the corpus rows and drafts, not the index")
_TOPICS = [q for q in QUESTIONS if q not in ("你好", "我能申请法律援助吗")]
_PROXIES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


@dataclass(frozen=True, slots=True)
class BenchInputs:
    """What the nodes serve: copied (index, corpus, models) so that the bench never changes the originals."""

    index_dir: Path
    corpus_dir: Path
    danger_model: Path
    rasa_model: Path


class _Node:
    """``lawline serve`` on one test host, started, killed and started again by the bench."""

    def __init__(self, hosts: NetnsHosts, name: str, env: dict[str, str], log: Path) -> None:
        self.hosts, self.name, self.env, self.log = hosts, name, env, log
        self.hostname = hosts.namespace(name)
        self.base = f"http://{hosts.address(name)}:8000"
        self._argv = hosts.command(name, [str(Path(sys.executable).with_name("lawline")), "serve"])
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self._argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)

    def ready(self, timeout: float) -> None:
        assert self.process is not None
        wait_ready(self.base, self.process, timeout)

    def kill(self) -> None:
        """``kill -9`` of every process on the host, the app and its Rasa server, as when the machine fails."""
        for pid in self.hosts.pids(self.name):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.process is not None:
            self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)


@dataclass
class _Run:
    hosts: NetnsHosts
    nodes: list[_Node]
    traffic: Traffic
    engine: Engine
    operator: Operator
    residents: int
    messages: int  # per resident in the normal phase
    reload_seconds: float
    startup_timeout: float
    cores: int


def _copy_inputs(work: Path, inputs: BenchInputs, names: list[str]) -> Path:
    """The shared folder (index, corpus) and each node's var folder (Rasa model, danger model)."""
    shutil.rmtree(work, ignore_errors=True)
    shared = work / "shared"
    shutil.copytree(inputs.index_dir, shared / "index")
    shutil.copytree(inputs.corpus_dir, shared / "corpus")
    for name in names:
        var = work / name / "var"
        (var / "rasa" / "models").mkdir(parents=True)
        shutil.copy2(inputs.rasa_model, var / "rasa" / "models" / inputs.rasa_model.name)
        (var / "danger").mkdir()
        for source in (inputs.danger_model, inputs.danger_model.with_suffix(".json")):
            if source.is_file():
                shutil.copy2(source, var / "danger" / source.name)
    return shared


def _node_env(base: Mapping[str, str], hosts: NetnsHosts, var: Path, shared: Path, common: dict[str, str],
              ) -> dict[str, str]:
    """A node's environment: no LAWLINE_* of the caller's but the encoder; the data host; its own var folder."""
    env = {k: v for k, v in base.items() if not k.startswith("LAWLINE_") and k.lower() not in _PROXIES}
    env.update({k: base[k] for k in ("LAWLINE_EMBEDDING_MODEL", "LAWLINE_EMBEDDING_BATCH_SIZE") if k in base})
    env.update(hosts.shared_env)
    env.update(common)
    env.update({"LAWLINE_VAR_DIR": str(var), "LAWLINE_INDEX_DIR": str(shared / "index"),
                "LAWLINE_CORPUS_DIR": str(shared / "corpus"),
                "LAWLINE_DANGER_MODEL": str(var / "danger" / "model.joblib")})
    return env


def _role(process: psutil.Process) -> str:
    command = " ".join(process.cmdline())
    for marker, role in (("lawline_rasa", "rasa"), ("postgres", "postgres"), ("redis", "redis"), ("lawline", "app")):
        if marker in command:
            return role
    return "other"


def _cpu_seconds(hosts: NetnsHosts) -> dict[int, tuple[str, float]]:
    """CPU time so far of every process on the data host and the nodes, with what it is."""
    seen = {}
    for host in ("data", *hosts.node_names):
        for pid in hosts.pids(host):
            try:
                process = psutil.Process(pid)
                times = process.cpu_times()
                seen[pid] = (_role(process), times.user + times.system)
            except psutil.Error:
                continue
    return seen


async def _measured(run: _Run, phase: str, messages: list[Message], work: Awaitable[dict[str, Any] | None],
                    settle: float = 120.0) -> dict[str, Any]:
    """Run ``work`` (the residents' part of a phase), wait until it settles, and tally it.

    CPU is what the hosts' processes used meanwhile (a process that died in the phase is not counted).
    """
    before = await asyncio.to_thread(_cpu_seconds, run.hosts)
    extra = await work
    await run.traffic.settle(run.engine, messages, timeout=settle)
    after = await asyncio.to_thread(_cpu_seconds, run.hosts)
    used: dict[str, float] = {}
    for pid, (role, seconds) in after.items():
        used[role] = used.get(role, 0.0) + seconds - before.get(pid, (role, 0.0))[1]
    row = {"phase": phase, **await asyncio.to_thread(run.traffic.tally, run.engine, messages)}
    row["msg_per_s_per_core"] = round(row["msg_per_s"] / run.cores, 2)
    answered = row["answered"] or 1
    row["cpu_ms_per_msg"] = round(1000 * sum(used.values()) / answered, 1)
    row["cpu_ms_per_msg_by_role"] = {role: round(1000 * spent / answered, 1) for role, spent in sorted(used.items())}
    return {**row, **(extra or {})}


def _openid(phase: str, n: int) -> str:
    return f"o-multi-{phase}-{n}-{secrets.token_hex(3)}"


def _normal_texts(n: int, count: int) -> list[str]:
    """A question, "1" (the articles in full: an answer of several parts), then other questions."""
    texts = [_TOPICS[n % len(_TOPICS)], "1"]
    texts += [_TOPICS[(n + 3 * k) % len(_TOPICS)] for k in range(1, count - 1)]
    return texts[:count]


async def _normal(run: _Run) -> dict[str, Any]:
    messages: list[Message] = []

    async def residents() -> None:
        await asyncio.gather(*(
            run.traffic.converse(_openid("normal", n), n % len(run.nodes), _normal_texts(n, run.messages),
                                 into=messages)
            for n in range(run.residents)))

    return await _measured(run, "normal", messages, residents())


async def _working_on(engine: Engine, hostname: str, openids: list[str], timeout: float = 30.0) -> list[str]:
    """Keys of the messages ``hostname``'s app has recorded and still works on, once there is one."""
    def keys() -> list[str]:
        with engine.connect() as connection:
            return list(connection.scalars(select(channel_inbox.c.key).where(
                channel_inbox.c.openid.in_(openids), channel_inbox.c.state.in_(("working", "pushing")),
                channel_inbox.c.owner.like(f"{hostname}/%"))))

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await asyncio.to_thread(keys)
        if found:
            return found
        await asyncio.sleep(0.02)
    return []


def _finished_by(engine: Engine, keys: list[str], hostname: str) -> int:
    with engine.connect() as connection:
        return len(list(connection.scalars(select(channel_inbox.c.key).where(
            channel_inbox.c.key.in_(keys), channel_inbox.c.state.in_(("replied", "done")),
            channel_inbox.c.owner.like(f"{hostname}/%")))))


async def _kill_node1(run: _Run, restart: bool) -> dict[str, Any]:
    first, second = run.nodes[0], run.nodes[1]
    messages: list[Message] = []
    openids = [_openid("kill", n) for n in range(run.residents)]

    async def residents() -> dict[str, Any]:
        sending = asyncio.gather(*(run.traffic.converse(openid, n % len(run.nodes), [_TOPICS[n % len(_TOPICS)]],
                                                        into=messages) for n, openid in enumerate(openids)))
        owned = await _working_on(run.engine, first.hostname, openids)
        first.kill()
        await sending
        return {"node1_unfinished_at_kill": len(owned), "_owned": owned}

    row = await _measured(run, "kill_node1", messages, residents(), settle=180.0)
    owned = row.pop("_owned")
    row["finished_by_node2"] = await asyncio.to_thread(_finished_by, run.engine, owned, second.hostname)
    row["node1_restart_s"] = None
    if restart:
        started = time.monotonic()
        first.start()
        await asyncio.to_thread(first.ready, run.startup_timeout)
        row["node1_restart_s"] = round(time.monotonic() - started, 1)
    return row


async def _corpus_version(http: httpx.AsyncClient, node: _Node) -> str:
    return str((await http.get(f"{node.base}/healthz")).json().get("corpus_version"))


async def _publish(run: _Run) -> dict[str, Any]:
    first, second = run.nodes[0], run.nodes[1]
    messages: list[Message] = []
    marker = f"（{secrets.token_hex(2)}号修订）"

    async def residents() -> None:  # they keep writing to both nodes while node 1 publishes
        await asyncio.gather(*(
            run.traffic.converse(_openid("publish", n), n % len(run.nodes),
                                 [_TOPICS[(n + 5) % len(_TOPICS)], _TOPICS[(n + 7) % len(_TOPICS)]], into=messages)
            for n in range(run.residents)))

    async def publish_and_follow() -> dict[str, Any]:
        writing = asyncio.ensure_future(residents())
        try:
            async with httpx.AsyncClient(timeout=10.0, trust_env=False) as http:
                before = await _corpus_version(http, second)
                started = time.monotonic()
                await publish_card_title(first.base, run.operator, CARD_SLUG, marker)
                published = time.monotonic()
                version = await _corpus_version(http, first)
                deadline = published + run.reload_seconds + 60
                seen = before
                while seen != version and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                    seen = await _corpus_version(http, second)
                followed = time.monotonic() - published
        except BaseException:
            writing.cancel()
            raise
        await writing
        # The card's own question on each node: its first message carries the card's (new) title.
        asked = await asyncio.gather(*(run.traffic.converse(_openid("card", n), n, [CARD_QUESTION])
                                       for n in range(len(run.nodes))))
        shows = {}
        for n, (message,) in enumerate(asked):
            messages.append(message)
            texts = [message.passive or "", *run.traffic.api.pushed_to(message.openid)]
            shows[f"node{n + 1}"] = any(marker in t for t in texts)
        return {"publish_s": round(published - started, 1), "version_changed": version != before,
                "node2_followed": seen == version and version != before,
                "node2_followed_after_s": round(followed, 1), "edit_in_answer": shows}

    return await _measured(run, "publish", messages, publish_and_follow())


def _lock_clients(hosts: NetnsHosts) -> dict[str, int]:
    """Connections each node holds to Rasa's lock store (Redis database 1): its Rasa server locks there."""
    import redis

    client = redis.Redis.from_url(hosts.env["LAWLINE_REDIS_URL"])
    try:
        lock_clients = [c for c in client.client_list() if str(c.get("db")) == "1"]
    finally:
        client.close()
    return {name: sum(1 for c in lock_clients if str(c.get("addr", "")).split(":")[0] == hosts.address(name))
            for name in hosts.node_names}


def _tracker_store(url: str) -> dict[str, int]:
    """The events and conversations in the shared tracker store (database ``lawline_rasa``)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            events, senders = connection.execute(text("SELECT count(*), count(DISTINCT sender_id) FROM events")).one()
    finally:
        engine.dispose()
    return {"tracker_events": int(events), "tracker_conversations": int(senders)}


async def _metrics(nodes: list[_Node], token: str) -> dict[str, Any]:
    """A few of each node's ``/metrics`` figures, read as Prometheus would (bearer token, from elsewhere)."""
    from prometheus_client.parser import text_string_to_metric_families

    wanted = {"lawline_inbox_unfinished", "lawline_outbox", "lawline_answer_seconds"}
    seen: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as http:
        for node in nodes:
            response = await http.get(f"{node.base}/metrics", headers={"Authorization": f"Bearer {token}"})
            figures: dict[str, float] = {"outbox_pending": 0.0, "outbox_awaiting": 0.0, "outbox_held": 0.0}
            for family in text_string_to_metric_families(response.text):
                if family.name not in wanted:
                    continue
                for sample in family.samples:
                    if sample.name == "lawline_answer_seconds_count":
                        figures["answers_this_process"] = figures.get("answers_this_process", 0) + sample.value
                    elif sample.name == "lawline_inbox_unfinished":
                        figures["inbox_unfinished"] = sample.value
                    elif sample.name == "lawline_outbox" and sample.labels.get("queue") == "resident":
                        figures[f"outbox_{sample.labels.get('state')}"] = sample.value
            seen[node.name] = {"status": response.status_code, **figures}
    return seen


async def _phases(run: _Run, phases: tuple[str, ...], metrics_token: str) -> dict[str, Any]:
    try:
        results: list[dict[str, Any]] = []
        lock_clients: dict[str, int] = {}
        for n, phase in enumerate(phases):
            if phase == "kill_node1":
                results.append(await _kill_node1(run, restart=n < len(phases) - 1))
            else:
                results.append(await {"normal": _normal, "publish": _publish}[phase](run))
            if not lock_clients and phase != "kill_node1":  # while both Rasa servers are up
                lock_clients = await asyncio.to_thread(_lock_clients, run.hosts)
        alive = [node for node in run.nodes if node.process is not None and node.process.poll() is None]
        return {"phases": results, "metrics": await _metrics(alive, metrics_token),
                "rasa": {"lock_store_clients": lock_clients}}
    finally:
        await run.traffic.aclose()


def _prepare_database(url: str, corpus: Path, operator: Operator) -> Engine:
    """The shared database: schema, the corpus (from the shared folder), the console's editor and reviewer."""
    from bot.console.accounts import create_account
    from corpus import import_corpus

    engine = make_engine(url)
    try:
        upgrade_schema(engine)  # before the nodes start: two nodes migrating at once would race
        sessions = make_sessions(engine)
        report = import_corpus(corpus, sessions)
        if report.failed:
            raise RuntimeError(f"the corpus did not import: {len(report.failed)} files failed")
        with sessions.begin() as session:
            create_account(session, operator.editor, operator.password, "editor", display_name="多节点编辑")
            create_account(session, operator.reviewer, operator.password, "reviewer", display_name="多节点审核")
    except BaseException:
        engine.dispose()
        raise
    return engine


def run_multinode_bench(work: Path, inputs: BenchInputs, *, residents: int = 20, messages: int = 5,
                        reload_seconds: float = 10.0, phases: tuple[str, ...] = PHASES, startup_timeout: float = 600.0,
                        prefix: str | None = None, base_env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Make the test hosts, serve two nodes, run the phases, tear everything down; the results.

    ``residents`` write at once in each phase; in the normal phase each writes ``messages`` messages. Node 1
    is started again after ``kill_node1`` only when a later phase needs it.
    """
    unavailable = hosts_unavailable()
    if unavailable:
        raise RuntimeError(f"cannot make the test hosts: {unavailable}")
    unknown = [p for p in phases if p not in PHASES]
    if unknown:
        raise ValueError(f"unknown phases: {', '.join(unknown)} (known: {', '.join(PHASES)})")
    hosts = NetnsHosts(prefix or f"lwm{secrets.token_hex(2)}", nodes=2)
    shared = _copy_inputs(work, inputs, hosts.node_names)
    hosts.up()
    try:
        with hosts.entered("client"):
            result = _serve_and_measure(hosts, work, shared, phases, residents=residents, messages=max(2, messages),
                                        reload_seconds=reload_seconds, startup_timeout=startup_timeout,
                                        base_env=os.environ if base_env is None else base_env)
    finally:
        hosts.down()
        _drop_copies(work, hosts.node_names)
    return {**result, "logs": str(work)}


def _drop_copies(work: Path, names: list[str]) -> None:
    """Remove the copied index, corpus and models (hundreds of MB); the nodes' and Rasa's logs stay."""
    shutil.rmtree(work / "shared", ignore_errors=True)
    for name in names:
        for folder in ("rasa/models", "danger", "index"):
            shutil.rmtree(work / name / "var" / folder, ignore_errors=True)


def _serve_and_measure(hosts: NetnsHosts, work: Path, shared: Path, phases: tuple[str, ...], *, residents: int,
                       messages: int, reload_seconds: float, startup_timeout: float, base_env: Mapping[str, str],
                       ) -> dict[str, Any]:
    """On the client host: WeChat's stand-in, the shared database, both nodes, the phases; stops what it started."""
    from bot.answers import load_reply_texts

    token, appid = random_key(string.ascii_letters + string.digits, 24), "wx" + random_key("0123456789abcdef", 16)
    aes_key = random_key(string.ascii_letters + string.digits, 43)
    metrics_token = secrets.token_urlsafe(24)
    operator = Operator("mn-editor", "mn-reviewer", secrets.token_urlsafe(16))
    api = WeChatApiStandIn()
    api.start(hosts.address("client"))
    nodes: list[_Node] = []
    engine: Engine | None = None
    try:
        engine = _prepare_database(hosts.env["LAWLINE_DATABASE_URL"], shared / "corpus", operator)
        common = {  # the same on every node, as one environment file gives them (deploy/lawline.env.example)
            "LAWLINE_HOST": "0.0.0.0", "LAWLINE_PORT": "8000", "LAWLINE_RASA_PORT": "5005",
            "LAWLINE_PUBLIC_URL": "https://lawline.example.invalid", "LAWLINE_LOG_LEVEL": "WARNING",
            "LAWLINE_RELOAD_SECONDS": str(reload_seconds), "LAWLINE_WECHAT_TOKEN": token,
            "LAWLINE_WECHAT_APPID": appid, "LAWLINE_WECHAT_APPSECRET": random_key(string.ascii_letters, 32),
            "LAWLINE_WECHAT_AES_KEY": aes_key, "LAWLINE_WECHAT_API_BASE": api.base_url,
            "LAWLINE_WECOM_API_BASE": api.base_url, "LAWLINE_METRICS_TOKEN": metrics_token,
            "LAWLINE_CONSOLE_SECRET": secrets.token_urlsafe(32), "LAWLINE_ACTION_SECRET": secrets.token_hex(32)}
        for name in hosts.node_names:
            var = work / name / "var"
            nodes.append(_Node(hosts, name, _node_env(base_env, hosts, var, shared, common), work / name / "serve.log"))
        for node in nodes:
            node.start()
        started = time.monotonic()
        for node in nodes:
            node.ready(startup_timeout)
        ready_s = time.monotonic() - started
        traffic = Traffic(CallbackSimulator(token, appid, aes_key), api, appid, [n.base for n in nodes],
                          degraded_note=load_reply_texts().degraded_note)
        run = _Run(hosts, nodes, traffic, engine, operator, residents, messages, reload_seconds, startup_timeout,
                   len(os.sched_getaffinity(0)))
        measured = asyncio.run(_phases(run, phases, metrics_token))
        measured["rasa"].update(_tracker_store(hosts.env["LAWLINE_DATABASE_URL"].rsplit("/", 1)[0] + "/lawline_rasa"))
        return {"nodes": len(nodes), "residents_per_phase": residents, "messages_per_resident": messages,
                "cores": run.cores, "reload_seconds": reload_seconds, "startup_s": round(ready_s, 1),
                "published_via": PUBLISHED_VIA, **measured}
    finally:
        for node in nodes:
            node.stop()
        api.stop()
        if engine is not None:
            engine.dispose()
