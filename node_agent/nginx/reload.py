"""Reloading the node's nginx with a new nginx.conf, its master process kept.

nginx's reload (SIGHUP to the master) starts workers on the new configuration and asks the old
ones to finish gracefully. With nginx-rtmp that is not enough, as measured here (nginx 1.22 +
nginx-rtmp 1.2.2): an old worker stays "shutting down" for as long as one RTMP publisher is
connected to it (worker_shutdown_timeout does not close RTMP sessions), its streams keep the
old HLS settings, and the new worker's /stat and /control cannot see them: the agent would
think every stream gone and could not drop a revoked publisher. So once the new workers run,
the old ones are told to stop at once (SIGTERM to a worker ends just that worker): their
publishers reconnect, as after any network cut, to the new worker and its settings. HTTP
viewers never notice: the new worker serves the playlists and fragments on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from pathlib import Path

log = logging.getLogger(__name__)

_WORKER = "nginx: worker process"


def _children(master: int) -> dict[int, str]:
    """The master's child processes and their titles (nginx sets them in argv)."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            # The name in parentheses may hold spaces: the parent is the 2nd field after it.
            if int(stat.rsplit(")", 1)[1].split()[1]) != master:
                continue
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except (OSError, ValueError, IndexError):
            continue
        found[int(entry.name)] = title
    return found


def workers(master: int) -> set[int]:
    """PIDs of the master's workers, those running and those shutting down."""
    return {pid for pid, title in _children(master).items() if title.startswith(_WORKER)}


def serving_workers(master: int) -> set[int]:
    """PIDs of the master's workers that accept new connections (not shutting down)."""
    return {pid for pid, title in _children(master).items() if title == _WORKER}


async def reload(
    master: int, *, within_s: float = 30.0, grace_s: float = 1.0, stop_within_s: float = 5.0
) -> bool:
    """Reload the master's configuration; once new workers serve, end the old ones after
    `grace_s` (requests in flight finish) and return when they are gone. False when no new
    worker came within `within_s` (nginx refused the configuration: its error.log says why, and
    the old one stays)."""
    old = await asyncio.to_thread(workers, master)
    os.kill(master, signal.SIGHUP)
    deadline = time.monotonic() + within_s
    while not (await asyncio.to_thread(serving_workers, master)) - old:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    await asyncio.sleep(grace_s)
    still = old & await asyncio.to_thread(workers, master)
    if still:
        await _end(master, still, stop_within_s)
        log.info("ended %d nginx worker(s) of the old configuration", len(still))
    return True


async def _end(master: int, pids: set[int], within_s: float) -> None:
    """SIGTERM the old workers (with live RTMP sessions: see above), SIGKILL any still there
    after `within_s`; returns once they are gone (the master reaps them)."""
    for how in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, how)
        deadline = time.monotonic() + within_s
        while pids & await asyncio.to_thread(workers, master):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        else:
            return
