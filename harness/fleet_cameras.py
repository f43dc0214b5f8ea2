"""What cameras do to a test fleet (harness.fleet): a push camera that publishes a test pattern
with ffmpeg and, like a real camera, publishes again whenever its connection ends, and the
fleet ingest address it publishes to: Envoy as a TCP proxy on the RTMP port in front of every
node's nginx-rtmp, with active TCP health checks, so a camera that reconnects after its node
died lands on a healthy one. Every process is ended by PID."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.processes import Child

FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"
# A write that blocks this long (a link gone silent) ends the publisher, which then reconnects.
RW_TIMEOUT_US = 3_000_000
RECONNECT_S = 0.5


def publish_argv(url: str, *, size: str = "320x180", fps: int = 15) -> list[str]:
    """A live H.264 test pattern, a keyframe every second, to `url` until stopped."""
    return [
        FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error",
        "-re", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}",
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", str(fps),
        "-rw_timeout", str(RW_TIMEOUT_US),
        "-f", "flv", url,
    ]  # fmt: skip


@dataclass
class PushCamera:
    """A camera publishing to `url` (through the fleet ingest), reconnecting after every end of
    its connection; `connects` counts its publishes."""

    name: str
    url: str
    log: Path
    connects: int = 0
    child: Child | None = None
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.child = Child(f"push camera {self.name}", publish_argv(self.url), None, self.log)
            self.connects += 1
            # Cancelling stops waiting at once; stop() then ends the ffmpeg, which ends the wait.
            await asyncio.to_thread(self.child.proc.wait)
            await asyncio.sleep(RECONNECT_S)

    async def stop(self) -> None:
        """Stop publishing for good (its ffmpeg by PID)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.child is not None:
            self.child.stop(grace_s=5)


def ingest_config(
    listen: tuple[str, int], nodes: Sequence[tuple[str, int]], admin: str
) -> dict[str, Any]:
    """Envoy as a TCP proxy on `listen` over the nodes' RTMP listeners, with the design's active
    TCP health checks (every 1 s, out after 2 failures, back after 1 success, also while no
    traffic flows) and connections to a node that fails them closed, so its publishers
    reconnect to another."""
    endpoints = [
        {"endpoint": {"address": {"socket_address": {"address": h, "port_value": p}}}}
        for h, p in nodes
    ]
    return {
        "admin": {"address": {"pipe": {"path": admin}}},
        "static_resources": {
            "listeners": [
                {
                    "name": "rtmp_ingest",
                    "address": {"socket_address": {"address": listen[0], "port_value": listen[1]}},
                    "filter_chains": [
                        {
                            "filters": [
                                {
                                    "name": "envoy.filters.network.tcp_proxy",
                                    "typed_config": {
                                        "@type": "type.googleapis.com/envoy.extensions.filters."
                                        "network.tcp_proxy.v3.TcpProxy",
                                        "stat_prefix": "rtmp_ingest",
                                        "cluster": "rtmp_nodes",
                                    },
                                }
                            ]
                        }
                    ],
                }
            ],
            "clusters": [
                {
                    "name": "rtmp_nodes",
                    "type": "STATIC",
                    "connect_timeout": "1s",
                    "close_connections_on_host_health_failure": True,
                    "load_assignment": {
                        "cluster_name": "rtmp_nodes",
                        "endpoints": [{"lb_endpoints": endpoints}],
                    },
                    "health_checks": [
                        {
                            "timeout": "1s",
                            "interval": "1s",
                            "no_traffic_interval": "1s",
                            "unhealthy_threshold": 2,
                            "healthy_threshold": 1,
                            "tcp_health_check": {},
                        }
                    ],
                }
            ],
        },
    }


def _write_config(workdir: Path, config: dict[str, Any]) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "ingest.json").write_text(json.dumps(config))


@asynccontextmanager
async def running_ingest(
    host: str, port: int, nodes: Sequence[tuple[str, int]], workdir: Path, envoy: str
) -> AsyncIterator[None]:
    """The fleet ingest on `host`:`port` over `nodes`, once Envoy accepts connections there.
    Ended by PID."""
    _write_config(workdir, ingest_config((host, port), nodes, "ingest-admin.sock"))
    argv = [envoy, "-c", "ingest.json", "--disable-hot-restart", "--log-level", "warning"]
    child = Child("fleet ingest", argv, None, workdir.parent / "envoy-ingest.log", cwd=workdir)
    try:
        deadline = time.monotonic() + 30
        while True:
            child.check_alive()
            try:
                _, writer = await asyncio.open_connection(host, port)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
                continue
            writer.close()
            await writer.wait_closed()
            break
        yield
    finally:
        child.stop(grace_s=10)
