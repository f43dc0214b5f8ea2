"""nginx processes an earlier run of this node left behind, ended before this run binds its
ports. A SIGKILL of the agent (its process group, or the agent alone) ends nginx's master
through the parent-death signal, but a worker the master forked during the kill is in no
group snapshot and has no parent-death signal of its own: it keeps the node's listening
sockets, and the next agent could not bind them ("Address already in use") for as long as it
lived. Ours are told apart from any other nginx on the machine by the files they hold open:
only an nginx started for this node has its logs (under its own nginx directory) open."""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

log = logging.getLogger(__name__)

GONE_WITHIN_S = 5.0


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _holds_file_under(pid: int, root: str) -> bool:
    """Whether process `pid` has a file under `root` open (False when we may not look)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith(root):
            return True
    return False


def _alive(pid: int) -> bool:
    """Running (a zombie holds no sockets: it counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def stale_nginx(nginx_root: Path) -> list[int]:
    """PIDs of nginx processes holding a file under `nginx_root` open."""
    root = f"{nginx_root.resolve()}/"
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _comm(int(entry)) == "nginx" and _holds_file_under(int(entry), root):
            found.append(int(entry))
    return found


def end_stale_nginx(nginx_root: Path, within_s: float = GONE_WITHIN_S) -> list[int]:
    """SIGKILL the nginx processes an earlier run of this node left (see the module's
    docstring) and wait until they are gone, so their ports are free; their PIDs. Call it
    before this run starts its own nginx."""
    pids = stale_nginx(nginx_root)
    if not pids:
        return []
    log.warning(
        "ending nginx processes %s left by an earlier run of this node (they hold its files "
        "and ports)",
        ", ".join(map(str, pids)),
    )
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
    deadline = time.monotonic() + within_s
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    return pids
