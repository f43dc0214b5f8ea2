"""The control plane as a child process, started as operators start it (`python -m server`,
configured through CAMFLEET_* variables), and the wait until grpc.health.v1 says SERVING."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from harness.databases import REDIS_URL, TEST_POOL_SIZE
from harness.ports import LOOPBACK
from harness.processes import ROOT, Child, clean_env, stop_by_pid

START_TIMEOUT_S = 120.0


class NotServing(TimeoutError):
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
    env = clean_env()
    env.update(
        CAMFLEET_LISTEN=f"{LOOPBACK}:{port}",
        CAMFLEET_DATA_DIR=str(data_dir),
        CAMFLEET_ADMIN_PASSWORD=admin_password,
        CAMFLEET_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    if database_url:
        env["CAMFLEET_DATABASE_URL"] = database_url
        env["CAMFLEET_DATABASE_POOL_SIZE"] = str(TEST_POOL_SIZE)
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
    cwd: Path = ROOT,
) -> Child:
    """`python -m server *args` with `env` (None: ours), its output in `log` (None: ours), run
    from the checkout `cwd`."""
    return Child(
        "control plane",
        [sys.executable, "-m", "server", *args],
        env,
        log,
        parent_death=parent_death,
        cwd=cwd,
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


@contextlib.contextmanager
def server_process(env: Mapping[str, str], *args: str) -> Iterator[subprocess.Popen[str]]:
    """`python -m server *args` with `env` added to ours (logging at WARNING unless `env` says),
    its stdout and stderr pipes in text mode for the caller to read (wait_for_line); ended by
    PID on exit, SIGTERM then SIGKILL."""
    proc = subprocess.Popen(  # noqa: S603 (our own interpreter and module, no shell)
        [sys.executable, "-m", "server", *args],
        cwd=ROOT,
        env={**os.environ, "CAMFLEET_LOG_LEVEL": "WARNING", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        stop_by_pid(proc, grace_s=15)


def run_server(
    *args: str, env: Mapping[str, str], timeout: float | None = 60.0
) -> subprocess.CompletedProcess[str]:
    """`python -m server *args` to its end (a command such as `migrate` or
    `create-join-token`, or a start that must fail), with `env` added to ours; its exit status
    and output, never raising for a non-zero status."""
    return subprocess.run(  # noqa: S603 (our own interpreter and module, no shell)
        [sys.executable, "-m", "server", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
