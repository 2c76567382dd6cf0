"""``lawline bench handoff``: time from a resident's message to the case card in the work group.

The bench starts the real server (``lawline serve --no-rasa``: escalation never waits for the dialogue
engine) on a free loopback port with a fresh SQLite database in ``var/bench``, the configured retrieval
index, a local stand-in of the WeChat API and one of the WeChat Work group robots (``handoff.simulator``,
which enforces 20 messages a minute per robot itself). The service directory is generated for the bench:
``towns`` × ``villages`` villages (a town name and a village name each, fictional), one legal adviser for
every two villages and one work group per adviser — as 一村一法律顾问 is staffed in practice, where an
adviser serves a few villages — on duty around the clock so the result does not depend on the time of day.

Each of ``residents`` residents picks a different village at random; all of them first send 转人工 (the bot
asks for the village), then all send their village name at once: that message opens the ticket. Latency is
from sending it to the stand-in robot receiving the card with that ticket's number. A ticket without a card
after ``wait`` seconds is lost.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import create_engine, text

from channels.simulator import CallbackSimulator, WeChatApiStandIn
from handoff.directory import load_directory
from handoff.simulator import WeComStandIn
from nlu.process import free_port

__all__ = ["bench_directory", "run_handoff_bench"]

_TOWN = "甲乙丙丁戊己庚辛壬癸"
_VILLAGE = "东南西北中上下前后新"


def bench_directory(path: Path, towns: int = 10, villages: int = 8) -> Path:
    """Write a fictional directory (sample: true) for the bench; returns its path."""
    lines = ["version: 1", "sample: true", "county: {code: bench, name: 压测县, configured: true}",
             "hotline_group: g-hotline", "towns:"]
    people, groups, adviser = [], ["  - {id: g-hotline, name: 热线群, robot_key: bench-hotline}"], 0
    for t in range(towns):
        lines += [f"  - code: t{t}", f"    name: 压测{_TOWN[t % 10]}{t}镇", "    villages:"]
        for v in range(villages):
            if v % 2 == 0:
                adviser += 1
                people.append(f"  - {{id: a{adviser}, name: 顾问{adviser}, role: village_adviser, group: g{adviser}}}")
                groups.append(f"  - {{id: g{adviser}, name: 顾问{adviser}群, robot_key: bench-{adviser}}}")
            lines += [f"      - {{code: t{t}v{v}, name: {_VILLAGE[v % 10]}{t}x{v}村, adviser: a{adviser}}}"]
    people.append("  - {id: l1, name: 值班律师, role: hotline_lawyer, specialties: [civil], group: g-hotline}")
    lines += ["people:", *people, "groups:", *groups,
              "calendar:", '  office_hours: ["00:00-24:00"]', '  rest_day_hours: ["00:00-24:00"]',
              "roster:", "  shifts:", '    - {days: all, hours: ["00:00-24:00"], people: [l1]}']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    load_directory(path)  # the bench's own file must pass the same checks
    return path


def _wait_up(base: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"lawline serve exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("lawline serve did not start in time")


async def _escalate(base: str, sim: CallbackSimulator, residents: list[tuple[str, str]], first_id: int
                    ) -> dict[str, float]:
    """Every resident asks for a person, then names their village (timed); openid → send time."""
    limits = httpx.Limits(max_connections=len(residents) + 5, max_keepalive_connections=len(residents) + 5)
    started: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
        async def say(openid: str, words: str, msg_id: int, timed: bool) -> None:
            query, body = sim.delivery(openid, words, msg_id)
            if timed:
                started[openid] = time.time()
            response = await http.post("/wechat", params=query, content=body)
            response.raise_for_status()

        await asyncio.gather(*(say(o, "转人工", first_id + i, False) for i, (o, _) in enumerate(residents)))
        await asyncio.gather(*(say(o, v, first_id + 10_000 + i, True) for i, (o, v) in enumerate(residents)))
    return started


def run_handoff_bench(settings: Any, residents: int = 50, towns: int = 10, villages: int = 8, wait: float = 120.0,
                      seed: int = 5, startup_timeout: float = 300.0) -> dict[str, Any]:
    """Run the bench once; returns latencies (ms), counts and how the cards spread over the groups."""
    folder = Path(settings.var_dir) / "bench" / f"handoff-{int(time.time())}"
    folder.mkdir(parents=True, exist_ok=True)
    directory = load_directory(bench_directory(folder / "directory.yaml", towns, villages))
    if residents + 1 > len(directory.villages()):
        raise RuntimeError(f"{residents} residents need as many villages; the bench county has "
                           f"{len(directory.villages())}")
    rng = random.Random(seed)
    chosen = rng.sample(directory.villages(), residents + 1)  # one more for the warm-up
    people = [(f"o-bench-{i}-{rng.randrange(10**6)}", directory.full_name(v.code)) for i, v in enumerate(chosen)]
    wecom, wechat = WeComStandIn(), WeChatApiStandIn()
    wecom.start()
    wechat.start()
    port = free_port()
    database = folder / "bench.sqlite3"
    token, appid, aes_key = "benchtoken", "wxbench0000000001", "b" * 43
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LAWLINE_")},
        "LAWLINE_VAR_DIR": str(folder / "var"), "LAWLINE_DATABASE_URL": f"sqlite:///{database}",
        "LAWLINE_INDEX_DIR": str(settings.index_dir), "LAWLINE_EMBEDDING_MODEL": settings.embedding_model,
        "LAWLINE_DANGER_MODEL": str(settings.danger_model),
        "LAWLINE_CORPUS_DIR": str(settings.corpus_dir), "LAWLINE_PORT": str(port),
        "LAWLINE_RASA_URL": f"http://127.0.0.1:{free_port()}", "LAWLINE_LOG_LEVEL": "WARNING",
        "LAWLINE_DIRECTORY": str(folder / "directory.yaml"), "LAWLINE_WECOM_API_BASE": wecom.base_url,
        "LAWLINE_WECHAT_TOKEN": token, "LAWLINE_WECHAT_APPID": appid, "LAWLINE_WECHAT_APPSECRET": "benchsecret",
        "LAWLINE_WECHAT_AES_KEY": aes_key, "LAWLINE_WECHAT_API_BASE": wechat.base_url,
    }
    lawline = Path(sys.executable).with_name("lawline")
    with (folder / "serve.log").open("ab") as log:
        process = subprocess.Popen([str(lawline), "serve", "--no-rasa"], env=env, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_up(base, process, startup_timeout)
        sim = CallbackSimulator(token, appid, aes_key)
        asyncio.run(_escalate(base, sim, people[:1], int(time.time() * 1000) % 10**9))  # warm-up, not reported
        warm = {m.content for m in wecom.messages}
        started = asyncio.run(_escalate(base, sim, people[1:], int(time.time() * 1000) % 10**9 + 100_000))
        engine = create_engine(f"sqlite:///{database}")
        deadline = time.monotonic() + wait
        tickets: dict[str, int] = {}
        arrived: dict[str, float] = {}
        while True:
            with engine.connect() as connection:
                tickets = dict(connection.execute(text(
                    "SELECT conversation_key, id FROM handoff_tickets")).tuples().all())
            cards = {m.content: m for m in wecom.messages if m.content not in warm}
            arrived = {}
            for openid in started:
                ticket = tickets.get(f"official_account:{openid}")
                for content, message in cards.items():
                    if ticket is not None and f"#{ticket} " in content.replace("（", " "):
                        arrived[openid] = message.at
                        break
            if len(arrived) == len(started) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        engine.dispose()
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        wecom.stop()
        wechat.stop()
    latencies = np.asarray([(arrived[o] - started[o]) * 1000 for o in arrived]) if arrived else np.asarray([0.0])
    per_group: dict[str, int] = {}
    for message in wecom.messages:
        per_group[message.key] = per_group.get(message.key, 0) + 1
    return {
        "residents": residents, "villages": len(directory.villages()), "groups": len(directory.groups),
        "tickets": sum(1 for o in started if f"official_account:{o}" in tickets),
        "cards": len(arrived), "lost": len(started) - len(arrived),
        "groups_used": len(per_group), "max_cards_per_group": max(per_group.values(), default=0),
        "p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "p99_ms": round(float(np.percentile(latencies, 99)), 1),
        "max_ms": round(float(latencies.max()), 1),
        "robot_refusals": wecom.refused,
    }
