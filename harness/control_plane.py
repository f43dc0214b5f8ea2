"""The control plane as a child process, started as operators start it (`python -m server`,
configured through CAMFLEET_* variables), and the wait until grpc.health.v1 says SERVING."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from harness.databases import REDIS_URL
from harness.ports import LOOPBACK
from harness.processes import Child

START_TIMEOUT_S = 60.0


class NotServing(RuntimeError):
    """The control plane did not say SERVING in time."""


def server_env(
    data_dir: Path,
    port: int,
    admin_password: str,
    database_url: str = "",
    redis_prefix: str = "",
) -> dict[str, str]:
    """This process's environment without any CAMFLEET_* of ours, plus a control plane on
    127.0.0.1:`port` with `data_dir`, `admin_password` and logging at WARNING; with
    `database_url` on that database and with `redis_prefix` on the local Redis."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMFLEET_")}
    env.update(
        CAMFLEET_LISTEN=f"{LOOPBACK}:{port}",
        CAMFLEET_DATA_DIR=str(data_dir),
        CAMFLEET_ADMIN_PASSWORD=admin_password,
        CAMFLEET_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    if database_url:
        env["CAMFLEET_DATABASE_URL"] = database_url
    if redis_prefix:
        env["CAMFLEET_REDIS_URL"] = REDIS_URL
        env["CAMFLEET_REDIS_PREFIX"] = redis_prefix
    return env


def start_control_plane(
    env: Mapping[str, str] | None,
    log: Path | None,
    *,
    args: Sequence[str] = (),
    parent_death: bool = False,
) -> Child:
    """`python -m server *args` with `env` (None: ours), its output in `log` (None: ours)."""
    return Child(
        "control plane",
        [sys.executable, "-m", "server", *args],
        env,
        log,
        parent_death=parent_death,
    )


async def wait_serving(
    target: str,
    child: Child,
    within_s: float = START_TIMEOUT_S,
    check_alive: Callable[[], None] | None = None,
) -> None:
    """Poll the standard health check on `target` until it says SERVING. `check_alive` (by
    default the child's own) raises when what must run has exited; NotServing after `within_s`."""
    alive = check_alive or child.check_alive
    deadline = time.monotonic() + within_s
    async with grpc.aio.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            alive()
            with contextlib.suppress(grpc.aio.AioRpcError):
                reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            await asyncio.sleep(0.1)
    raise NotServing(
        f"{child.name} was not SERVING on {target} after {within_s:.0f} s:\n{child.tail()}"
    )
