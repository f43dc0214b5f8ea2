"""A node agent restarted with a backlog (issue 17 item 3, the chaos soak's two findings), one
commit beside another in the same run (by default: this checkout's HEAD beside the last commit
before the fix).

1. `--files` segment files the agent never indexed (copies of a real 2 s segment): time from
   the agent's exec to its ready line and to its node READY at the control plane, how many
   were indexed by then, and when the last one was listed.
2. `--reports` segment reports waiting in its spool, heartbeats at the control plane's default
   terms (1 s, LOST after 3 s): for `--seconds` at most, the worst heartbeat age the control
   plane's /metrics showed, the node LOST samples, the Connect streams ended, and how many
   reports were listed (and when all).

Each commit runs from its own `git archive` in a temporary directory (control plane and agent
both), on SQLite, every process ended by PID at the end.

    .venv/bin/python -m bench.bench_agent_restart [--files 394] [--reports 3000]
        [--baseline-rev 78f7aca] [--rev HEAD] [--seconds 240]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import subprocess
import tarfile
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from camfleet.v1 import node_pb2

from harness.ports import free_port
from harness.processes import ROOT
from tests.support.backlog import (
    a_real_segment,
    heartbeat_age_s,
    listed,
    node,
    node_index,
    recorded_camera,
    spool_reports,
    unindexed_files,
)
from tests.support.platform import ADMIN_PASSWORD
from tests.support.stack import Stack

# The last commit before the agent indexed in the background and sent with flow control.
BEFORE = "78f7aca"
# Waits for the processes to start: long, for the agent with a backlog on a loaded machine.
SERVER_START_S = 180.0
AGENT_START_S = 900.0


def extract(rev: str, into: Path) -> Path:
    """`git archive` of `rev` unpacked under `into`."""
    data = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev],
        check=True,
        capture_output=True,
    ).stdout
    tree = into / rev.replace("/", "_")
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(tree, filter="data")
    return tree


@asynccontextmanager
async def stack_of(tree: Path) -> AsyncIterator[Stack]:
    """A control plane (SQLite) and the agent's data dir, both processes run from `tree`."""
    with tempfile.TemporaryDirectory(prefix="camfleet-bench-restart-") as tmp:
        root = Path(tmp)
        port = free_port()
        env = {
            "CAMFLEET_LISTEN": f"127.0.0.1:{port}",
            "CAMFLEET_DATA_DIR": str(root / "control-plane"),
            "CAMFLEET_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "CAMFLEET_LOG_LEVEL": "INFO",
            "CAMFLEET_METRICS_LISTEN": f"127.0.0.1:{free_port()}",
            # The agent's imports come from `tree`, the protos too.
            "PYTHONPATH": f"{tree}:{tree / 'clients' / 'python'}",
        }
        stack = Stack("sqlite", root, env, port, free_port(), free_port(), tree=tree)
        stack.agent_args = ["--segment-seconds", "2"]
        try:
            await stack.start_server(SERVER_START_S)
            yield stack
        finally:
            stack.stop()
            if stack.channel is not None:
                await stack.channel.close()


async def unindexed(stack: Stack, files: int, limit_s: float) -> str:
    camera = await recorded_camera(stack, "restart-files")
    await stack.start_agent(AGENT_START_S)
    assert stack.agent is not None
    stack.agent.stop(grace_s=15)
    sample = stack.root / "sample.ts"
    await a_real_segment(sample)
    unindexed_files(stack, camera.id, sample, files)
    started = time.monotonic()
    await stack.start_agent(AGENT_START_S)
    ready_s = time.monotonic() - started
    while True:  # polled: the control plane's view, as an operator's client sees it
        if (await node(stack)).state == node_pb2.NODE_STATE_READY:
            break
        await asyncio.sleep(0.1)
    node_ready_s = time.monotonic() - started
    at_ready = len(node_index(stack))
    deadline = started + limit_s
    while (count := len(await listed(stack, camera.id))) < files:
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    all_s = f"{time.monotonic() - started:.1f} s" if count >= files else f"not in {limit_s:.0f} s"
    assert stack.agent is not None
    stack.agent.stop(grace_s=15)
    return (
        f"ready line {ready_s:6.1f} s, node READY {node_ready_s:6.1f} s with {at_ready:3d} "
        f"indexed; all {files} listed: {all_s} ({count} listed)"
    )


async def spooled(stack: Stack, reports: int, limit_s: float) -> str:
    camera = await recorded_camera(stack, "restart-reports")
    await spool_reports(stack, camera.id, reports)
    before = len(stack.logs)
    await stack.start_agent(AGENT_START_S)
    started = time.monotonic()
    worst = 0.0
    lost = samples = count = 0
    while time.monotonic() - started < limit_s:
        samples += 1
        lost += (await node(stack)).state == node_pb2.NODE_STATE_LOST
        worst = max(worst, await heartbeat_age_s(stack) or 0.0)
        if (count := len(await listed(stack, camera.id))) >= reports:
            break
        await asyncio.sleep(0.25)
    took = time.monotonic() - started
    log = stack.logs[before].read_text(errors="replace")
    ended = log.count("Connect stream to the control plane ended")
    done = f"all in {took:.1f} s" if count >= reports else f"{count} in {took:.0f} s"
    return (
        f"worst heartbeat age {worst:5.2f} s, LOST in {lost}/{samples} samples, stream ended "
        f"{ended} times; reports listed: {done}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=394)
    parser.add_argument("--reports", type=int, default=3000)
    parser.add_argument("--rev", default="HEAD")
    parser.add_argument("--baseline-rev", default=BEFORE)
    parser.add_argument("--seconds", type=float, default=240.0, help="limit of each phase")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}; {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="camfleet-bench-trees-") as tmp:
        for label, rev in (("before", args.baseline_rev), ("after", args.rev)):
            tree = extract(rev, Path(tmp))
            async with stack_of(tree) as stack:
                files = await unindexed(stack, args.files, args.seconds)
                print(f"{label:6} {rev:8} {args.files} unindexed files: {files}", flush=True)
            async with stack_of(tree) as stack:
                await stack.start_agent(AGENT_START_S)  # registers
                assert stack.agent is not None
                stack.agent.stop(grace_s=15)
                reports = await spooled(stack, args.reports, args.seconds)
                print(f"{label:6} {rev:8} {args.reports} spooled reports: {reports}", flush=True)
            print(f"load average {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
