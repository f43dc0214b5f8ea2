"""A node agent restarted with a backlog (the chaos soak's findings, issue 17 item 3): hundreds
of segment files it never indexed, and thousands of reports its spool still holds. Real
processes: the control plane (`python -m server`) and the agent (`python -m node_agent`).

- It connects, and the node is READY, at once; the files are indexed in the background and
  each reaches the control plane exactly once, also when the agent is killed halfway.
- Heartbeats never queue behind the resent reports: the node stays READY, its heartbeats stay
  fresh at the control plane, and its stream is never ended, while the backlog drains.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from camfleet.v1 import node_pb2

from harness.ports import free_port
from tests.support.backlog import (
    a_real_segment,
    agent_gauge,
    heartbeat_age_s,
    listed,
    node,
    node_index,
    recorded_camera,
    registered_and_stopped,
    spool_reports,
    unindexed_files,
)
from tests.support.stack import Stack, running_control_plane

pytestmark = pytest.mark.timeout(900)

# Enough that waiting for them would show (the node had 394: indexing them one by one
# before connecting kept it away for minutes), few enough that the background indexing ends in
# the test's time on a loaded machine (160: all listed 14 s after the start on a quiet one).
# 300 cost the suite twice the CPU (an ffprobe per file) and showed nothing more.
UNINDEXED_FILES = 160
# Reports waiting in the spool: 16 cameras' 2 s segments over three minutes away. They take a
# minute to deliver on a quiet machine (62 s, SQLite): sixty heartbeats that must stay fresh.
SPOOLED_REPORTS = 1500
UNINDEXED = "camfleet_agent_unindexed_segments"


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    # The control plane's own heartbeat terms (1 s, LOST after 3 s), not the suite's quick ones.
    def normal_heartbeats(env: dict[str, str]) -> None:
        env.pop("CAMFLEET_HEARTBEAT_INTERVAL", None)
        env.pop("CAMFLEET_NODE_LOST_AFTER", None)
        env["CAMFLEET_METRICS_LISTEN"] = f"127.0.0.1:{free_port()}"

    async with running_control_plane("sqlite", normal_heartbeats) as running:
        running.agent_args = ["--segment-seconds", "2"]
        yield running


async def test_a_restart_with_hundreds_of_unindexed_files_is_ready_at_once(stack: Stack) -> None:
    metrics = f"127.0.0.1:{free_port()}"
    stack.agent_args += ["--metrics-listen", metrics]
    camera = await recorded_camera(stack, "backlog-dock")
    await registered_and_stopped(stack)
    sample = stack.root / "sample.ts"
    await a_real_segment(sample)
    files = unindexed_files(stack, camera.id, sample, UNINDEXED_FILES)
    assert node_index(stack) == {}

    started = time.monotonic()
    await stack.start_agent()
    ready_s = time.monotonic() - started
    deadline = time.monotonic() + 60
    while (await node(stack)).state != node_pb2.NODE_STATE_READY:
        assert time.monotonic() < deadline, stack.log_text()
        await asyncio.sleep(0.1)
    node_ready_s = time.monotonic() - started
    indexed_when_ready = len(node_index(stack))
    # The operator sees the backlog on the agent's /metrics.
    remaining = await agent_gauge(metrics, UNINDEXED)
    assert remaining is not None and remaining > 0, remaining

    # Killed in the middle of it and started again: what was indexed stays, the rest is found
    # again, nothing is indexed twice.
    deadline = time.monotonic() + 300
    while len(node_index(stack)) < UNINDEXED_FILES // 8:
        assert time.monotonic() < deadline, stack.log_text()
        await asyncio.sleep(0.2)
    stack.kill_agent()
    indexed_at_kill = len(node_index(stack))
    await stack.start_agent()

    # Every file indexed by the node, and each listed once at the control plane.
    deadline = time.monotonic() + 600
    while len(found := await listed(stack, camera.id)) < UNINDEXED_FILES:
        assert time.monotonic() < deadline, f"{len(found)} listed\n{stack.log_text()}"
        await asyncio.sleep(0.5)
    all_listed_s = time.monotonic() - started
    await asyncio.sleep(2)  # anything sent twice would be listed by now
    found = await listed(stack, camera.id)
    index = node_index(stack)
    print(
        f"\n{UNINDEXED_FILES} unindexed files: ready line after {ready_s:.1f} s, node READY "
        f"after {node_ready_s:.1f} s with {indexed_when_ready} indexed; killed with "
        f"{indexed_at_kill} indexed; all listed after {all_listed_s:.1f} s"
    )
    assert sorted(index.values()) == sorted(files), "a file is missing or indexed twice"
    assert await agent_gauge(metrics, UNINDEXED) == 0
    assert sorted(r.id for r in found) == sorted(index)
    assert all(r.recovered for r in found)
    # Connected long before the files were: it did not wait for them.
    assert indexed_when_ready < UNINDEXED_FILES // 2, (indexed_when_ready, stack.log_text())
    assert node_ready_s < all_listed_s / 2


async def test_heartbeats_do_not_queue_behind_a_spooled_backlog(stack: Stack) -> None:
    camera = await recorded_camera(stack, "spooled-dock")
    await registered_and_stopped(stack)
    await spool_reports(stack, camera.id, SPOOLED_REPORTS)

    await stack.start_agent()
    started = time.monotonic()
    states: list[int] = []
    worst_age_s = 0.0
    deadline = time.monotonic() + 600
    while True:
        states.append((await node(stack)).state)
        age = await heartbeat_age_s(stack)
        if age is not None:
            worst_age_s = max(worst_age_s, age)
        count = len(await listed(stack, camera.id))
        if count >= SPOOLED_REPORTS:
            break
        assert time.monotonic() < deadline, f"{count} listed\n{stack.log_text()}"
        await asyncio.sleep(0.25)
    drained_s = time.monotonic() - started
    log = stack.logs[-1].read_text(errors="replace")
    ended = log.count("Connect stream to the control plane ended")
    print(
        f"\n{SPOOLED_REPORTS} spooled reports delivered in {drained_s:.1f} s; worst heartbeat "
        f"age {worst_age_s:.2f} s; node states seen {sorted(set(states))}; stream ended "
        f"{ended} times"
    )
    assert node_pb2.NODE_STATE_LOST not in states, stack.log_text()
    assert ended == 0, stack.log_text()
    # Heartbeats every second, LOST after three: none may wait behind the reports.
    assert worst_age_s < 2.5, stack.log_text()
