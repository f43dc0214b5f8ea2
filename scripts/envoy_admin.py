"""Envoy's admin interface, which listens on a Unix socket (mode 0600), never on a TCP port:
HTTP over that socket, and the readiness check ./start and the tests wait on; and the open
file limit Envoy inherits.

    curl --unix-socket data/run/envoy-admin.sock http://envoy/clusters   (the same by hand)
"""

from __future__ import annotations

import http.client
import os
import resource
import socket
from pathlib import Path

# What ./start and the tests name the socket, in the directory Envoy runs in (relative, so that
# a deep data directory cannot exceed the 107 bytes a socket path may have).
ADMIN_SOCKET = "envoy-admin.sock"


class _UnixConnection(http.client.HTTPConnection):
    """HTTP/1.1 to a Unix socket, reached through an O_PATH descriptor of its directory: the
    path the kernel sees is then /proc/self/fd/N/<name>, short whatever the directory's depth."""

    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("envoy", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        directory = os.open(self._path.parent, os.O_PATH)
        try:
            sock.connect(f"/proc/self/fd/{directory}/{self._path.name}")
        except OSError:
            sock.close()
            raise
        finally:
            os.close(directory)
        self.sock = sock


def admin_request(path: Path, method: str, url: str, timeout: float = 2.0) -> tuple[int, str]:
    """(status, body) of `method url` on the admin socket at `path`; OSError when nothing
    listens there (yet)."""
    conn = _UnixConnection(path, timeout)
    try:
        conn.request(method, url)
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")
    except http.client.HTTPException as exc:
        raise OSError(f"envoy admin at {path}: {exc}") from exc
    finally:
        conn.close()


def routes_to_control_plane(path: Path) -> bool:
    """True once Envoy has a control plane that passed its gRPC health check (the UI cluster
    has no health check, so it always looks healthy: it does not count)."""
    try:
        status, text = admin_request(path, "GET", "/clusters")
    except OSError:
        return False
    return status == 200 and any(
        line.startswith("control_plane::") and line.endswith("health_flags::healthy")
        for line in text.splitlines()
    )


def raise_open_file_limit() -> None:
    """This process's soft limit on open files up to the hard one (at most 65,536), for an
    Envoy started from it to inherit: Envoy holds a descriptor per client connection, and a
    soft limit of 1,024 would refuse everyone long before its own connection limit (10,000 in
    envoy.yaml) refuses a flood. A plain syscall: safe with gRPC threads running."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65_536 if hard == resource.RLIM_INFINITY else min(hard, 65_536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
