"""A loopback TCP proxy a test can cut: every open connection is reset at once and, until
restored, new ones are refused — a dropped network, as a browser or a server's database and
Redis clients experience it."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress


class CuttableProxy:
    """Forwards 127.0.0.1:`port` to `target`; `cut()` resets everything, `restore()` re-opens."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._down = False
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def cut(self) -> None:
        """Reset every open connection; refuse new ones until restore()."""
        with self._lock:
            self._down = True
            socks, self._open = self._open, set()
        for s in socks:
            _reset(s)

    def restore(self) -> None:
        """Accept and forward new connections again."""
        with self._lock:
            self._down = False

    def close(self) -> None:
        """Cut everything and stop listening."""
        self._closed = True
        self.cut()
        self._listener.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                down = self._down
            if down:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def _reset(s: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), as a dead network or a crashed proxy would."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # close() alone would not wake a thread blocked in recv() on it (the connection would
        # live on); shutdown() does.
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


@contextmanager
def cuttable_proxy(target: tuple[str, int]) -> Iterator[CuttableProxy]:
    """A CuttableProxy to `target`, closed on exit."""
    proxy = CuttableProxy(target)
    try:
        yield proxy
    finally:
        proxy.close()
