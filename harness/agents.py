"""Node agents as child processes, started as operators start them (`python -m node_agent`):
each registers with a join token on its first start and keeps its credential in its data dir."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

from harness.processes import ROOT, Child

READY = "camfleet node agent ready"
START_TIMEOUT_S = 120.0


def agent_argv(
    control_plane: str,
    data_dir: Path,
    rtmp_listen: str,
    http_listen: str,
    *,
    name: str | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """The command line of one agent of `control_plane` ("host:port"), named `name` (None:
    the agent's default, the host's name)."""
    named = [] if name is None else ["--name", name]
    return [
        sys.executable,
        "-m",
        "node_agent",
        "--control-plane",
        control_plane,
        "--data-dir",
        str(data_dir),
        *named,
        "--rtmp-listen",
        rtmp_listen,
        "--http-listen",
        http_listen,
        *extra,
    ]


def start_agent(
    argv: Sequence[str],
    env: Mapping[str, str] | None,
    log: Path | None,
    *,
    parent_death: bool = False,
    cwd: Path = ROOT,
) -> Child:
    """An agent (`agent_argv`) with `env` (None: ours; add CAMFLEET_JOIN_TOKEN on its first
    start), its output in `log` (None: ours), run from the checkout `cwd`."""
    return Child("node agent", argv, env, log, parent_death=parent_death, cwd=cwd)


async def first_start_env(
    data_dir: Path, join_token: Callable[[], Awaitable[str]]
) -> dict[str, str]:
    """Our environment with the agent logging at INFO, and on its first start (no credential
    in `data_dir` yet) a fresh join token from `join_token` to register with."""
    env = {"CAMFLEET_LOG_LEVEL": "INFO"}
    if not (data_dir / "credential.json").exists():
        env["CAMFLEET_JOIN_TOKEN"] = await join_token()
    return {**os.environ, **env}


async def wait_agent_ready(
    child: Child,
    within_s: float = START_TIMEOUT_S,
    check_alive: Callable[[], None] | None = None,
) -> None:
    """Until the agent logged its ready line (connected, nginx up). `check_alive` (by default
    the child's own: ChildExited) raises when what must run has exited; TimeoutError after
    `within_s`."""
    assert child.log is not None, "an agent's ready line is read from its log"
    alive = check_alive or child.check_alive
    deadline = time.monotonic() + within_s
    while READY not in child.log.read_text(errors="replace"):
        alive()
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{child.name} was not ready after {within_s:.0f} s:\n{child.tail()}"
            )
        await asyncio.sleep(0.1)
