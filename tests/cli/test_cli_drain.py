"""`camfleet nodes drain` follows a real drain to its end: two real agents (python -m node_agent
with nginx), two pull cameras of a real RTSP source (GStreamer) ONLINE on the first; the command
drains it, reports the cameras moved as they move, and returns once none is left, with both
cameras ONLINE on the other node. With a control plane of its own, on SQLite (the drain itself
is tested on both backends in tests/server/placement/test_scheduler_agents.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from camfleet.v1 import camera_pb2

from harness.rtsp_source import RtspSource, rtsp_source
from tests.cli.cli_process import Cli
from tests.support.fleet_nodes import (
    FleetAgent,
    eventually,
    get_camera,
    new_pull_camera,
    start_fleet_agent,
    stop_all,
    unique_name,
)
from tests.support.platform import ADMIN_PASSWORD
from tests.support.stack import Stack, running_control_plane

pytestmark = pytest.mark.timeout(420)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RtspSource]:
    # Unshared media, as in tests/server/conftest.py (two nodes read it during a handover).
    with rtsp_source(tmp_path_factory.mktemp("rtsp"), shared=False) as s:
        yield s


@pytest.fixture
async def plane() -> AsyncIterator[Stack]:
    async with running_control_plane("sqlite") as stack:
        yield stack


async def _all_online_on(
    stack: Stack, camera_ids: list[str], node_id: str
) -> list[camera_pb2.Camera] | None:
    cameras = [await get_camera(stack, c) for c in camera_ids]
    ok = all(
        c.node_id == node_id
        and c.handover_node_id == ""
        and c.status == camera_pb2.CAMERA_STATUS_ONLINE
        for c in cameras
    )
    return cameras if ok else None


async def test_drain_follows_the_cameras_until_none_is_left(
    plane: Stack, source: RtspSource, tmp_path: Path
) -> None:
    agents: list[FleetAgent] = []
    try:
        old = await start_fleet_agent(plane, unique_name("old"))
        agents.append(old)
        ids = [
            (await new_pull_camera(plane, unique_name("drained"), source.url)).id for _ in range(2)
        ]
        await eventually(
            lambda: _all_online_on(plane, ids, old.node_id),
            what=f"both cameras ONLINE on {old.name}\n{plane.log_text()}",
        )
        new = await start_fleet_agent(plane, unique_name("new"))
        agents.append(new)

        cli = Cli(tmp_path / "cli")
        await cli.login(plane.target, "admin", ADMIN_PASSWORD)
        drained = await cli.run(
            "-o", "json", "nodes", "drain", old.name, "--timeout", "5m", within_s=360
        )
        assert drained.code == 0, f"{drained}\n{plane.log_text()}"
        node = json.loads(drained.stdout)
        assert node["name"] == old.name and node["draining"] is True
        assert node["drain_remaining"] == 0 and node["schedulable"] is False
        # The progress as it went (stderr, not a terminal: a line per change), ending done.
        progress = [line for line in drained.stderr.splitlines() if line.startswith("Draining")]
        assert progress, drained
        assert progress[-1].endswith("moved.") and " 0 of " not in progress[-1], progress
        moved, total = progress[-1].split(": ")[1].split(" pull")[0].split(" of ")
        assert moved == total and total in ("1", "2"), progress

        done = await eventually(
            lambda: _all_online_on(plane, ids, new.node_id),
            what=f"both cameras ONLINE on {new.name}\n{plane.log_text()}",
        )
        assert {c.node_id for c in done} == {new.node_id}
        table = await cli.run("nodes", "list")
        rows = {line.split()[0]: line for line in table.stdout.splitlines()[2:]}
        assert "draining" in rows[old.name] and "ok" in rows[new.name].split(), table
    finally:
        stop_all(agents)
