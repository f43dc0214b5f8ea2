"""A restarted agent does not pull its stored assignment's cameras before the control plane
has had its say: while it was down its node may have been declared lost and its cameras moved,
and pulling them again recorded them on two nodes until the Connect stream caught up
(bench_chaos: a restarted agent and the node its camera moved to, both recording it). The
stored pulls wait for the first assignment, at most a hold; without a control plane they
run after it (recording goes on without one)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from pathlib import Path

from node_agent.assignment import CurrentAssignment
from node_agent.desired import AssignedCamera, Assignment, Ingest
from node_agent.outbox import Outbox
from node_agent.pull.manager import PullManager
from node_agent.pull.puller import PullSettings
from node_agent.spool import Spool
from node_agent.state import DataDir, save_assignment
from node_agent.streams import StreamTracker
from tests.support.agent_node import FFMPEG

# A source nobody serves: its ffmpeg fails and is retried, which is all these tests need.
SOURCE = "rtsp://127.0.0.1:9/none"


def _camera(camera_id: str, epoch: int) -> AssignedCamera:
    return AssignedCamera(
        camera_id, ingest=Ingest.PULL, stream_key=secrets.token_hex(8), source_url=SOURCE,
        epoch=epoch,
    )  # fmt: skip


async def _until(check: Callable[[], bool], within_s: float) -> None:
    for _ in range(int(within_s / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {within_s:.0f} s")


def _manager(tmp_path: Path, hold_s: float) -> tuple[PullManager, CurrentAssignment]:
    data_dir = DataDir(tmp_path / "node")
    data_dir.create()
    save_assignment(data_dir, Assignment(3, (_camera("cam-moved", 1),)))
    current = CurrentAssignment(data_dir)
    current.load()
    settings = PullSettings(FFMPEG, "127.0.0.1:1", tmp_path / "logs")
    outbox = Outbox(Spool(tmp_path / "spool"))
    return PullManager(settings, current, StreamTracker(), outbox, hold_s), current


async def test_stored_pulls_wait_for_the_first_assignment_which_may_have_moved_them(
    tmp_path: Path,
) -> None:
    pulls, current = _manager(tmp_path, hold_s=30.0)
    await pulls.start()
    try:
        await asyncio.sleep(1.0)
        assert pulls.pullers == {}  # the stored camera is not pulled yet
        # The control plane's first assignment: the camera moved away, another came here.
        result = await current.apply(Assignment(4, (_camera("cam-new", 2),)))
        assert result.accepted
        pulls.assignment_applied(current.assignment)
        await _until(lambda: "cam-new" in pulls.pullers, within_s=10)
        assert set(pulls.pullers) == {"cam-new"}  # cam-moved was never pulled here
    finally:
        await pulls.stop()


async def test_without_a_control_plane_the_stored_pulls_run_after_the_hold(
    tmp_path: Path,
) -> None:
    pulls, _ = _manager(tmp_path, hold_s=1.0)
    await pulls.start()
    try:
        assert pulls.pullers == {}
        await _until(lambda: "cam-moved" in pulls.pullers, within_s=20)
    finally:
        await pulls.stop()
