"""Every worker follows what editors publish: the retrieval index, the eligibility rules, the directory.

The console publishes by replacing files on disk (the index folder is swapped whole; rules and directory
files are written atomically). The worker that published swaps its own copy at once; every other worker
(and the publishing one, for data files) notices here: each ``interval`` seconds the files' signatures
(inode, size, modification time) are compared with the ones loaded, and what changed is loaded again,
checked by its own loader, and swapped in. A file that does not load (half-copied by hand, or broken) is
logged and the running copy is kept until a good one appears. Workers on other machines need the same
files (a shared folder); this does not copy anything between machines.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FileSignature", "LiveFiles", "Watched", "signature"]

log = logging.getLogger(__name__)

FileSignature = tuple[tuple[str, int, int, int], ...]


def signature(paths: Iterable[Path]) -> FileSignature:
    """What identifies these files' current contents without reading them (missing files count too)."""
    entries = []
    for path in sorted(paths):
        try:
            stat = path.stat()
        except OSError:
            entries.append((str(path), -1, -1, -1))
            continue
        entries.append((str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns))
    return tuple(entries)


@dataclass
class Watched:
    """One thing to keep current: read from ``files()``; ``load()`` reads and checks it, ``use`` swaps it in.

    ``load`` raises if the new files do not load; the running copy then stays.
    """

    name: str
    files: Callable[[], Iterable[Path]]
    load: Callable[[], Any]
    use: Callable[[Any], None]
    loaded: FileSignature = field(default=())
    failed: FileSignature = field(default=())

    def __post_init__(self) -> None:
        if not self.loaded:
            self.loaded = signature(self.files())


class LiveFiles:
    """Polls the watched files and reloads what changed (``check`` is synchronous: run it in a thread)."""

    def __init__(self, watched: Iterable[Watched], interval: float = 10.0) -> None:
        self.watched = list(watched)
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def check(self) -> list[str]:
        """Reload everything whose files changed since it was loaded; returns the names reloaded."""
        reloaded = []
        for item in self.watched:
            now = signature(item.files())
            if now == item.loaded or now == item.failed:
                continue
            try:
                value = item.load()
            except Exception as exc:  # the running copy stays; said once per broken state
                item.failed = now
                log.error("%s changed on disk but does not load (%s: %s); still using the copy loaded before",
                          item.name, type(exc).__name__, exc)
                continue
            if signature(item.files()) != now:
                continue  # replaced again while it was read: what was read may be mixed; read it next round
            item.use(value)
            item.loaded, item.failed = now, ()
            reloaded.append(item.name)
            log.info("%s reloaded from disk", item.name)
        return reloaded

    def start(self) -> None:
        """Poll on the running event loop (the app's lifespan) until ``aclose``."""
        if self.interval > 0 and self.watched:
            self._task = asyncio.get_running_loop().create_task(self._poll_forever(), name="live-files")

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await asyncio.to_thread(self.check)
            except Exception:  # never let the poller die; the next round tries again
                log.exception("checking published files failed")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
