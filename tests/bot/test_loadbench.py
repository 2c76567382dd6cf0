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


def test_cpu_per_message_counts_only_levels_answered_wholly_through_rasa():
    from bot.loadbench import _through_rasa

    rows = [{"messages": 4, "answered": 4, "from_fallback": 0, "cpu_seconds": 0.4},
            {"messages": 40, "answered": 40, "from_fallback": 0, "cpu_seconds": 3.6},
            {"messages": 200, "answered": 191, "from_fallback": 155, "cpu_seconds": 10.0}]  # overloaded: skipped
    assert _through_rasa(rows) == 90.9  # (0.4 + 3.6) s over 44 messages
    assert _through_rasa(rows[2:]) is None
