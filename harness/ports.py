"""Free TCP ports on loopback: everything the harness starts listens on 127.0.0.1 only."""

from __future__ import annotations

import os
import random
import socket
import threading
from collections import deque
from pathlib import Path

LOOPBACK = "127.0.0.1"

# Ports this process handed out lately. Each is picked at random, and one handed
# out a moment ago is free again until its caller binds it: three calls in a row (an agent's
# control plane, RTMP and HTTP ports) repeated a port about 3 times in 10,000, and nginx then
# cannot bind its second listener and exits. The last 1,000 are plenty to cover one setup.
_RECENT = 1000
_recent: deque[int] = deque(maxlen=_RECENT)
_lock = threading.Lock()


def _below_ephemeral() -> tuple[int, int]:
    """Ports below the kernel's ephemeral range (net.ipv4.ip_local_port_range). A port picked
    inside it is free only until its caller binds it, and any process's outgoing connection may
    take it meanwhile as its source port (CI: an agent's --metrics-listen port was taken so).
    Below it only listeners compete, and the bind below sees those."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return max(1024, low - 12768), low - 1


def _this_workers(lo: int, hi: int) -> tuple[int, int]:
    """The slice of [lo, hi] of this pytest-xdist worker (gw0, gw1, ...; inherited by the
    processes a test starts, such as ./start): workers never pick each other's ports. Random
    picks from the whole range by four workers met about once a run (CI: a local platform's
    agent found its --ingest-listen port taken, and two browser tests errored at setup). The
    whole range outside pytest-xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    try:
        index = int(worker.removeprefix("gw"))
        count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    except ValueError:
        return lo, hi
    if not worker.startswith("gw") or count < 2:
        return lo, hi
    size = (hi - lo + 1) // count
    start = lo + (index % count) * size
    return start, start + size - 1


_RANGE = _this_workers(*_below_ephemeral())
# Not the `random` module's shared generator: a test that seeds it must not make every
# process pick the same ports.
_rng = random.SystemRandom()


def reserve(port: int) -> None:
    """Never hand out `port` (one given to this process, which its listener has not bound
    yet): free_port's own picks are remembered the same way."""
    with _lock:
        _recent.append(port)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now and that this process has not
    handed out lately, below the ephemeral range (another process's free_port may still take
    it before the caller binds it: one chance in thousands, retried by nobody)."""
    with _lock:
        while True:
            port = _rng.randint(*_RANGE)
            if port in _recent:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind((LOOPBACK, port))
                except OSError:
                    continue  # listened on, or still in TIME_WAIT
            _recent.append(port)
            return port
