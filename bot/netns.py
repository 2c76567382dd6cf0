"""The project's own test hosts (``scripts/netns.sh``) from Python: bring them up, run on them, enter one.

``NetnsHosts.up()`` runs ``scripts/netns.sh up`` and keeps the environment it prints (the data host's
PostgreSQL and Redis, each host's address). ``command(host, argv)`` is ``argv`` run on a host under its own
host name; ``entered(host)`` moves the calling thread into the host's network namespace (``setns(2)``), so
that the sockets it opens from then on — and those of the threads it starts meanwhile — are that host's.
``down()`` stops whatever still runs on the hosts and removes them. Linux, as root.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SCRIPT", "NetnsHosts", "hosts_unavailable"]

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "netns.sh"
_CLONE_NEWNET = 0x40000000  # setns(2): join a network namespace


def hosts_unavailable() -> str | None:
    """Why the test hosts cannot be made on this machine (not Linux, not root, no iproute2), or None."""
    if sys.platform != "linux":
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "network namespaces (ip netns) need root"
    for tool, package in (("ip", "iproute2"), ("unshare", "util-linux"), ("redis-server", "redis-server")):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian's {package})"
    if not list(Path("/usr/lib/postgresql").glob("*/bin/postgres")):
        return "PostgreSQL is not installed (scripts/postgres.sh installs Debian's package)"
    return None


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


@dataclass
class NetnsHosts:
    """One set of hosts, named ``<prefix>-data``, ``<prefix>-client``, ``<prefix>-node1`` … (see the script)."""

    prefix: str = "lawline"
    nodes: int = 2
    env: dict[str, str] = field(default_factory=dict)

    def _run(self, *args: str) -> str:
        environment = {**os.environ, "LAWLINE_NETNS_PREFIX": self.prefix, "LAWLINE_NETNS_NODES": str(self.nodes)}
        done = subprocess.run([str(SCRIPT), *args], env=environment, capture_output=True, text=True, timeout=180)
        if done.returncode != 0:
            raise RuntimeError(f"scripts/netns.sh {' '.join(args)} failed: {done.stderr.strip()[-2000:]}")
        return done.stdout

    def up(self) -> dict[str, str]:
        """Make the hosts and start the data host's servers; the printed ``KEY=VALUE`` environment."""
        output = self._run("up")
        self.env = dict(line.split("=", 1) for line in output.splitlines() if "=" in line)
        return self.env

    def down(self) -> None:
        self._run("down")

    def namespace(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    def address(self, host: str) -> str:
        """The host's address on the bridge (``data``, ``client``, ``node1`` …)."""
        return self.env[f"LAWLINE_NETNS_{host.upper()}"]

    @property
    def node_names(self) -> list[str]:
        return [f"node{n}" for n in range(1, self.nodes + 1)]

    @property
    def shared_env(self) -> dict[str, str]:
        """What every app node needs to reach the data host (database, Redis, Rasa's tracker and lock store)."""
        return {k: v for k, v in self.env.items() if not k.startswith("LAWLINE_NETNS_")}

    def command(self, host: str, argv: list[str]) -> list[str]:
        """``argv`` run on ``host`` (same process id: every step of the script execs)."""
        return ["env", f"LAWLINE_NETNS_PREFIX={self.prefix}", str(SCRIPT), "exec", host, *argv]

    def pids(self, host: str) -> list[int]:
        """Every process running on ``host`` now."""
        done = subprocess.run(["ip", "netns", "pids", self.namespace(host)], capture_output=True, text=True)
        return [int(pid) for pid in done.stdout.split()]

    @contextmanager
    def entered(self, host: str) -> Iterator[None]:
        """Run the calling thread in ``host``'s network namespace until the block ends."""
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            target = os.open(f"/run/netns/{self.namespace(host)}", os.O_RDONLY)
            try:
                _setns(target)
            finally:
                os.close(target)
            try:
                yield
            finally:
                _setns(own)
        finally:
            os.close(own)
