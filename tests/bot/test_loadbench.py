"""The load bench's CPU count: the app's process and everything it started (its Rasa child)."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from bot.loadbench import _tree_cpu_seconds

# A parent that only waits for its child; the child burns 0.6 s of CPU, then waits for stdin to close.
CHILD = "import sys, time\nend = time.process_time() + 0.6\nwhile time.process_time() < end: pass\nsys.stdin.read()"
PARENT = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {CHILD!r}])"


def test_the_cpu_of_a_process_counts_its_children():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdin=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while _tree_cpu_seconds([parent.pid]) < 0.6 and time.monotonic() < deadline:
            time.sleep(0.1)
        own = psutil.Process(parent.pid).cpu_times()
        assert _tree_cpu_seconds([parent.pid]) >= 0.6 > own.user + own.system  # the child's CPU, not the parent's
        assert _tree_cpu_seconds([parent.pid, parent.pid]) < _tree_cpu_seconds([parent.pid]) + 0.2  # counted once
    finally:
        parent.communicate("", timeout=30)
    assert _tree_cpu_seconds([parent.pid]) == 0.0  # gone: nothing to count
