"""``lawline bench load``: simulated residents push signed, AES-encrypted messages to ``/wechat``.

The bench starts the real stack as a child process (``lawline serve``: the app, its action webhook and a
supervised Rasa server, on free loopback ports, with the configured database and index), points its WeChat
API at a local stand-in that records customer-service pushes, and then, for each concurrency level, lets
that many residents send messages one after another. It measures the HTTP latency of every delivery (what
WeChat waits for: a passive reply or ``success``), throughput, and whether every message got its answer
(passively or pushed) — and how late the latest answer was — and how many customer-service messages the
answers took (WeChat allows 5 per message a resident sends). Answers that came from the retrieval fallback
(Rasa slower than the engine timeout, or down) are counted apart: they carry the curated degraded note.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import string
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bot.answers import load_reply_texts
from channels.simulator import CallbackSimulator, WeChatApiStandIn
from nlu.process import free_port

__all__ = ["QUESTIONS", "random_key", "run_load_bench", "start_stack", "wait_ready"]

# Written by the team for this bench (not from any evaluation set).
QUESTIONS = (
    "老板欠了俺三个月工钱不给，咋办",
    "包工头跑了，工地上的工资找谁要",
    "在厂里干活没签合同，能要双倍工资吗",
    "儿子不给养老钱，我能告他吗",
    "离婚后孩子的抚养费他一直不给",
    "村里要收回俺家的责任田",
    "嫁到外村了，娘家的承包地还算我的吗",
    "邻居盖房子占了我家的路",
    "借给亲戚五万块钱打了欠条，他不还",
    "被邻居家的狗咬了，医药费谁出",
    "你好",
    "我能申请法律援助吗",
)


@dataclass
class _Delivery:
    openid: str
    msg_id: int
    seconds: float
    passive: str | None
    status: int


def random_key(alphabet: str, length: int) -> str:
    """A random secret for the bench's own account (token, AppID, EncodingAESKey)."""
    return "".join(secrets.choice(alphabet) for _ in range(length))


def start_stack(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """``lawline serve`` as a child process in its own session, its output appended to ``log_path``."""
    lawline = Path(sys.executable).with_name("lawline")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen([str(lawline), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def wait_ready(base: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Until ``/healthz`` says Rasa is up (or the process exits, or ``timeout`` passes)."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base, timeout=5) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"lawline serve exited with {process.returncode}")
            try:
                health = http.get("/healthz").json()
                if health.get("dialogue_engine") == "up":
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(1)
    raise RuntimeError("the stack did not become ready (Rasa up) in time")


async def _resident(http: httpx.AsyncClient, sim: CallbackSimulator, openid: str, count: int,
                    next_id: Callable[[], int]) -> list[_Delivery]:
    done = []
    for i in range(count):
        msg_id = next_id()
        query, body = sim.delivery(openid, QUESTIONS[(msg_id + i) % len(QUESTIONS)], msg_id)
        started = time.monotonic()
        response = await http.post("/wechat", params=query, content=body)
        elapsed = time.monotonic() - started
        passive = sim.reply_text(response.text) if response.status_code == 200 else None
        done.append(_Delivery(openid, msg_id, elapsed, passive, response.status_code))
    return done


async def _level(base: str, sim: CallbackSimulator, api: WeChatApiStandIn, residents: int,
                 per_resident: int, counter: list[int], degraded_note: str) -> dict[str, Any]:
    def next_id() -> int:
        counter[0] += 1
        return counter[0]

    limits = httpx.Limits(max_connections=residents + 5, max_keepalive_connections=residents + 5)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
        started = time.monotonic()
        runs = await asyncio.gather(*(
            _resident(http, sim, f"o-load-{residents}-{r}-{secrets.token_hex(3)}", per_resident, next_id)
            for r in range(residents)
        ))
        wall = time.monotonic() - started
    deliveries = [d for run in runs for d in run]
    # Answers that were not passive must arrive as pushes; give them a few seconds.
    waiting = [d for d in deliveries if d.passive is None and d.status == 200]
    deadline = time.monotonic() + 15
    while waiting and time.monotonic() < deadline:
        pushed = {o: len(api.pushed_to(o)) for o in {d.openid for d in waiting}}
        if all(pushed[o] >= sum(1 for d in waiting if d.openid == o) for o in pushed):
            break
        await asyncio.sleep(0.25)
    answered = sum(1 for d in deliveries if d.passive) + sum(
        min(len(api.pushed_to(o)), sum(1 for d in waiting if d.openid == o)) for o in {d.openid for d in waiting}
    )
    # Customer-service messages ("客服消息") the level cost: WeChat allows 5 per message a resident sends.
    # Follow-up parts go out after a short delay; count once the number has settled.
    openids = {d.openid for d in deliveries}
    settled, count = 0, -1
    while settled < 4 and time.monotonic() < deadline + 5:
        now = sum(len(api.pushed_to(o)) for o in openids)
        settled, count = (settled + 1 if now == count else 0), now
        await asyncio.sleep(0.25)
    texts = [d.passive for d in deliveries if d.passive] + [
        text for o in {d.openid for d in waiting} for text in api.pushed_to(o)
    ]
    latencies = np.asarray([d.seconds for d in deliveries]) * 1000
    return {
        "residents": residents,
        "messages": len(deliveries),
        "throughput_per_s": round(len(deliveries) / wall, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "p99_ms": round(float(np.percentile(latencies, 99)), 1),
        "max_ms": round(float(latencies.max()), 1),
        "passive": sum(1 for d in deliveries if d.passive),
        "pushed": len(waiting),
        "answered": answered,
        "cs_messages": count,
        "cs_per_message": round(count / len(deliveries), 2),
        "from_fallback": sum(1 for text in texts if text.startswith(degraded_note)),
        "errors": sum(1 for d in deliveries if d.status != 200),
    }


def _tree_cpu_seconds(pids: list[int]) -> float:
    """User and system CPU seconds so far of ``pids`` and all their descendants (the app and its Rasa child)."""
    import psutil

    total, seen = 0.0, set()
    for pid in pids:
        try:
            root = psutil.Process(pid)
            family = [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
        for process in family:
            if process.pid in seen:
                continue
            seen.add(process.pid)
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
    return total


def _stack_env(api: WeChatApiStandIn, token: str, appid: str, aes_key: str, port: int) -> dict[str, str]:
    env = {
        **os.environ,
        "LAWLINE_PORT": str(port),
        "LAWLINE_WECHAT_TOKEN": token,
        "LAWLINE_WECHAT_APPID": appid,
        "LAWLINE_WECHAT_APPSECRET": random_key(string.ascii_letters, 32),
        "LAWLINE_WECHAT_AES_KEY": aes_key,
        "LAWLINE_WECHAT_API_BASE": api.base_url,
        "LAWLINE_LOG_LEVEL": "WARNING",
    }
    env.pop("LAWLINE_RASA_URL", None)
    return env


def _run_levels(base: str, sim: CallbackSimulator, api: WeChatApiStandIn, levels: tuple[int, ...],
                per_resident: int, counter: list[int], pids: Callable[[], list[int]]) -> dict[str, Any]:
    """A warm-up, then each level with the CPU the stack's processes used for it, per message.

    ``cpu_ms_per_message`` overall counts only the levels where every answer went through Rasa: an answer
    from the retrieval fallback (Rasa too slow) skips Rasa's work and would make an overloaded stack look cheap.
    """
    note = load_reply_texts().degraded_note
    asyncio.run(_level(base, sim, api, 1, 2, counter, note))  # warm-up, not reported
    results = []
    for n in levels:
        before = _tree_cpu_seconds(pids())
        row = asyncio.run(_level(base, sim, api, n, per_resident, counter, note))
        row["cpu_seconds"] = round(_tree_cpu_seconds(pids()) - before, 3)
        row["cpu_ms_per_message"] = round(row["cpu_seconds"] * 1000 / max(row["messages"], 1), 1)
        results.append(row)
    return {"levels": results, "cpu_ms_per_message": _through_rasa(results)}


def _through_rasa(rows: list[dict[str, Any]]) -> float | None:
    """CPU milliseconds per message over the levels with no retrieval fallback (None when every level had one)."""
    clean = [row for row in rows if row["from_fallback"] == 0 and row["answered"] == row["messages"]]
    messages = sum(row["messages"] for row in clean)
    return round(sum(row["cpu_seconds"] for row in clean) * 1000 / messages, 1) if messages else None


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()


def run_load_bench(var_dir: Path, levels: tuple[int, ...] = (1, 10, 50), per_resident: int = 4,
                   startup_timeout: float = 600.0, *, plain: bool = True) -> dict[str, Any]:
    """Run each concurrency level on the stack as shipped; with ``plain``, again with Rasa's own ``rasa run``.

    The second stack is the same app, model, actions and tracker store behind a plain ``rasa run`` (none of
    ``nlu/rasa_runtime/lawline_rasa.py``'s fixes): ``cpu_ms_per_message`` of both and their ratio are the speed
    figures issue #16 asks for. CPU counts the app and Rasa processes only (not this bench or the stand-in).
    """
    from nlu.layout import RasaLayout
    from nlu.process import RasaServer
    from nlu.project import train_if_changed

    api = WeChatApiStandIn()
    api.start()
    token = random_key(string.ascii_letters + string.digits, 24)
    appid = "wx" + random_key("0123456789abcdef", 16)
    aes_key = random_key(string.ascii_letters + string.digits, 43)
    sim = CallbackSimulator(token, appid, aes_key)
    counter = [int(time.time()) * 1000]
    try:
        port = free_port()
        env = {**_stack_env(api, token, appid, aes_key, port), "LAWLINE_RASA_PORT": str(free_port())}
        process = start_stack(env, var_dir / "bench" / "load-serve.log")
        try:
            wait_ready(f"http://127.0.0.1:{port}", process, startup_timeout)
            shipped = _run_levels(f"http://127.0.0.1:{port}", sim, api, levels, per_resident, counter,
                                  lambda: [process.pid])
        finally:
            _stop(process)
        result: dict[str, Any] = {**shipped}
        if not plain:
            return result
        layout = RasaLayout.default(var_dir=var_dir)
        model = train_if_changed(layout.project_dir, layout.models_dir, layout.rasa_bin)  # the model just served
        port = free_port()
        env = _stack_env(api, token, appid, aes_key, port)
        with RasaServer(model, layout, lawline_port=port, plain=True, startup_timeout=startup_timeout) as rasa:
            process = start_stack({**env, "LAWLINE_RASA_URL": rasa.url}, var_dir / "bench" / "load-plain.log")
            try:
                wait_ready(f"http://127.0.0.1:{port}", process, startup_timeout)
                rasa_pid = rasa.pid or 0
                result["plain"] = _run_levels(f"http://127.0.0.1:{port}", sim, api, levels, per_resident, counter,
                                              lambda: [process.pid, rasa_pid])
            finally:
                _stop(process)
        # Over the levels both stacks answered wholly through Rasa, so that both did the same work.
        both = [i for i, (ours, theirs) in enumerate(zip(shipped["levels"], result["plain"]["levels"], strict=True))
                if _through_rasa([ours]) is not None and _through_rasa([theirs]) is not None]
        ours = _through_rasa([shipped["levels"][i] for i in both])
        theirs = _through_rasa([result["plain"]["levels"][i] for i in both])
        result["cpu_ratio"] = round(theirs / ours, 2) if ours and theirs else None
        result["cpu_ratio_levels"] = [shipped["levels"][i]["residents"] for i in both]
        return result
    finally:
        api.stop()
