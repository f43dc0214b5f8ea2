"""Free TCP ports on loopback: everything the harness starts listens on 127.0.0.1 only."""

from __future__ import annotations

import socket
import threading
from collections import deque

LOOPBACK = "127.0.0.1"

# Ports this process handed out lately. The kernel picks a free port at random, and one handed
# out a moment ago is free again until its caller binds it: three calls in a row (an agent's
# control plane, RTMP and HTTP ports) repeated a port about 3 times in 10,000, and nginx then
# cannot bind its second listener and exits. The last 1,000 are plenty to cover one setup.
_RECENT = 1000
_recent: deque[int] = deque(maxlen=_RECENT)
_lock = threading.Lock()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now and that this process has not
    handed out lately (another process may take it before the caller binds it: good enough on
    a test machine, retried by nobody)."""
    with _lock:
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((LOOPBACK, 0))
                port = int(sock.getsockname()[1])
            if port not in _recent:
                _recent.append(port)
                return port
