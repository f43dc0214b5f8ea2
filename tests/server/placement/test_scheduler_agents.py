"""The scheduler with real agents (python -m node_agent with nginx) pulling a real RTSP camera
(GStreamer, harness.rtsp_source), on both backends: a pull camera created while a node is READY
is placed there and goes ONLINE, with its placement in the history; a killed node's pull camera
moves to the other node at once and goes ONLINE there; a drained node hands its cameras over
make-before-break and ends with none (a recording camera only once the new node writes: its
segments overlap, the timeline has no gap); a node that joins takes half the cameras of the busy
one, make-before-break, and no more."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from camfleet.v1 import camera_pb2, node_pb2, recording_pb2

from harness.rtsp_source import RtspSource, rtsp_source
from tests.support.fleet_nodes import (
    FleetAgent,
    eventually,
    get_camera,
    list_nodes,
    new_pull_camera,
    placements,
    start_fleet_agent,
    stop_all,
    unique_name,
)
from tests.support.recordings import all_recordings, timestamp
from tests.support.stack import Stack, recordings, running_control_plane

pytestmark = pytest.mark.timeout(300)


async def _online_on(stack: Stack, camera_id: str, node_id: str) -> camera_pb2.Camera | None:
    camera = await get_camera(stack, camera_id)
    ok = camera.node_id == node_id and camera.status == camera_pb2.CAMERA_STATUS_ONLINE
    return camera if ok else None


async def test_a_pull_camera_is_placed_on_the_ready_node_and_goes_online(
    plane: Stack, source: RtspSource
) -> None:
    agents: list[FleetAgent] = []
    try:
        agents.append(await start_fleet_agent(plane, unique_name("node")))
        node = agents[0]
        revision = await plane.revision()
        camera = await new_pull_camera(plane, unique_name("pulled"), source.url)

        online = await eventually(
            lambda: _online_on(plane, camera.id, node.node_id),
            what=f"camera ONLINE on {node.name}\n{plane.log_text()}",
        )
        assert online.placement_epoch >= 1
        assert online.placement_reason == ""
        [placed] = await placements(plane, camera.id)
        assert placed.reason == camera_pb2.PLACEMENT_REASON_PLACED
        assert (placed.from_node_id, placed.to_node_id) == ("", node.node_id)
        assert placed.epoch == online.placement_epoch
        # Watchers see the decision as a CAMERA_PLACED event.
        call = plane.watch(revision, "type = CAMERA_PLACED")
        try:
            async with asyncio.timeout(30):
                async for response in call:
                    if response.event.placement.camera_id == camera.id:
                        break
        finally:
            call.cancel()
        assert response.event.subject == f"cameras/{camera.id}"
        assert response.event.placement.to_node_id == node.node_id
        assert response.event.message == placed.message
    finally:
        stop_all(agents)


async def test_a_pull_camera_with_no_node_waits_with_a_reason(plane: Stack) -> None:
    camera = await new_pull_camera(plane, unique_name("alone"), "rtsp://127.0.0.1:9/none")
    waiting = await eventually(
        lambda: _waiting(plane, camera.id), what="the camera's placement reason"
    )
    assert waiting.placement_reason == "no READY node"
    assert waiting.node_id == ""


async def _waiting(stack: Stack, camera_id: str) -> camera_pb2.Camera | None:
    camera = await get_camera(stack, camera_id)
    return camera if camera.placement_reason else None


async def test_a_lost_nodes_pull_camera_moves_and_goes_online_elsewhere(
    plane: Stack, source: RtspSource
) -> None:
    agents: list[FleetAgent] = []
    try:
        first = await start_fleet_agent(plane, unique_name("first"))
        agents.append(first)
        camera = await new_pull_camera(plane, unique_name("moving"), source.url)
        await eventually(
            lambda: _online_on(plane, camera.id, first.node_id), what="ONLINE on the first node"
        )
        second = await start_fleet_agent(plane, unique_name("second"))
        agents.append(second)

        first.child.kill()
        moved = await eventually(
            lambda: _online_on(plane, camera.id, second.node_id),
            what=f"camera ONLINE on the second node\n{plane.log_text()}",
        )
        history = await placements(plane, camera.id)
        assert history[0].reason == camera_pb2.PLACEMENT_REASON_NODE_LOST
        assert (history[0].from_node_id, history[0].to_node_id) == (first.node_id, second.node_id)
        assert history[0].epoch == moved.placement_epoch
        assert "lost" in history[0].message
    finally:
        stop_all(agents)


async def test_draining_a_node_hands_its_cameras_over_before_stopping_them(
    plane: Stack, source: RtspSource
) -> None:
    agents: list[FleetAgent] = []
    try:
        old = await start_fleet_agent(plane, unique_name("old"))
        agents.append(old)
        camera = await new_pull_camera(plane, unique_name("drained"), source.url)
        await eventually(lambda: _online_on(plane, camera.id, old.node_id), what="ONLINE on old")
        new = await start_fleet_agent(plane, unique_name("new"))
        agents.append(new)

        await plane.nodes.DrainNode(node_pb2.DrainNodeRequest(id=old.node_id), metadata=plane.admin)
        done = await eventually(
            lambda: _online_on(plane, camera.id, new.node_id),
            what=f"camera handed over to the new node\n{plane.log_text()}",
        )
        assert done.handover_node_id == ""
        reasons = [p.reason for p in await placements(plane, camera.id)]
        assert reasons[:2] == [
            camera_pb2.PLACEMENT_REASON_HANDOVER_DONE,
            camera_pb2.PLACEMENT_REASON_DRAIN,
        ]
        drained = {n.id: n for n in await list_nodes(plane)}[old.node_id]
        assert drained.draining and drained.drain_remaining == 0
    finally:
        stop_all(agents)


async def _segments(stack: Stack, camera_id: str) -> list[recording_pb2.Recording]:
    """The camera's indexed segments, oldest first."""
    request = recording_pb2.ListRecordingsRequest(
        camera_id=camera_id,
        start_time=timestamp(datetime.now(UTC) - timedelta(hours=1)),
        end_time=timestamp(datetime.now(UTC) + timedelta(minutes=1)),
        page_size=500,
    )
    listed = await all_recordings(recordings(stack), request, stack.admin)
    return sorted(listed, key=lambda r: (r.start_time.ToDatetime(UTC), r.node_id))


async def _old_segment(stack: Stack, camera_id: str) -> list[recording_pb2.Recording] | None:
    return await _segments(stack, camera_id) or None


def _span_line(r: recording_pb2.Recording) -> str:
    start, end = r.start_time.ToDatetime(UTC), r.end_time.ToDatetime(UTC)
    return f"{r.node_id[:8]} {start:%H:%M:%S.%f} .. {end:%H:%M:%S.%f}"


@pytest.fixture
def own_source(tmp_path: Path) -> Iterator[RtspSource]:
    """A camera serving each client its own pipeline: GStreamer's shared media stalls the
    timestamps of a client's stream when another client joins or leaves (the old node's
    last segment then holds seconds of video stamped as a fraction of one), which would show
    as a hole made by the test's source rather than by the handover."""
    with rtsp_source(tmp_path, shared=False) as s:
        yield s


async def test_draining_a_recording_camera_hands_it_over_without_a_hole(
    plane: Stack, own_source: RtspSource
) -> None:
    source = own_source
    segment_s = ["--segment-seconds", "2"]
    agents: list[FleetAgent] = []
    try:
        old = await start_fleet_agent(plane, unique_name("old"), segment_s)
        agents.append(old)
        created = await plane.cameras.CreateCamera(
            camera_pb2.CreateCameraRequest(
                camera=camera_pb2.Camera(
                    name=unique_name("recorded"),
                    ingest_mode=camera_pb2.INGEST_MODE_PULL,
                    source_url=source.url,
                    recording_enabled=True,
                )
            ),
            metadata=plane.admin,
        )
        camera = created.camera
        await eventually(lambda: _online_on(plane, camera.id, old.node_id), what="ONLINE on old")
        await eventually(
            lambda: _old_segment(plane, camera.id), what=f"a segment on old\n{plane.log_text()}"
        )
        new = await start_fleet_agent(plane, unique_name("new"), segment_s)
        agents.append(new)

        await plane.nodes.DrainNode(node_pb2.DrainNodeRequest(id=old.node_id), metadata=plane.admin)
        done = await eventually(
            lambda: _online_on(plane, camera.id, new.node_id),
            what=f"camera handed over to the new node\n{plane.log_text()}",
        )
        assert done.handover_node_id == ""
        [finished, drained] = (await placements(plane, camera.id))[:2]
        assert (finished.reason, drained.reason) == (
            camera_pb2.PLACEMENT_REASON_HANDOVER_DONE,
            camera_pb2.PLACEMENT_REASON_DRAIN,
        )
        assert "recording on its new node" in finished.message
        # Finished only once the new node had indexed a segment under the handover's epoch.
        at_finish = await _segments(plane, camera.id)
        handover_time = finished.time.ToDatetime(UTC)
        assert any(
            r.node_id == new.node_id and r.start_time.ToDatetime(UTC) <= handover_time
            for r in at_finish
        ), [_span_line(r) for r in at_finish]

        seen: list[recording_pb2.Recording] = []

        async def both_sides() -> list[recording_pb2.Recording] | None:
            """Once the old node's last (cut short) segment is indexed and the new node has
            recorded past it: the old node stopped only after the new one started."""
            listed = seen[:] = await _segments(plane, camera.id)
            olds = [r for r in listed if r.node_id == old.node_id]
            news = [r for r in listed if r.node_id == new.node_id]
            if not olds or len(news) < 3:
                return None
            old_end = max(r.end_time.ToDatetime(UTC) for r in olds)
            new_start = min(r.start_time.ToDatetime(UTC) for r in news)
            return listed if old_end >= new_start else None

        try:
            listed = await eventually(
                both_sides, what="the old node's last segment reaching the new node's first"
            )
        except AssertionError as failed:  # name the segments: where is the hole?
            spans = [_span_line(r) for r in seen]
            raise AssertionError(f"{failed}: {spans}\n{plane.log_text()}") from None
        new_first = min(r.start_time.ToDatetime(UTC) for r in listed if r.node_id == new.node_id)
        old_last = max(r.end_time.ToDatetime(UTC) for r in listed if r.node_id == old.node_id)
        assert old_last >= new_first, [_span_line(r) for r in listed]

        # The timeline over all of it (first segment to last) has no gap and no hole.
        start = listed[0].start_time.ToDatetime(UTC)
        end = max(r.end_time.ToDatetime(UTC) for r in listed)
        timeline = await recordings(plane).GetTimeline(
            recording_pb2.GetTimelineRequest(
                camera_id=camera.id, start_time=timestamp(start), end_time=timestamp(end)
            ),
            metadata=plane.admin,
        )
        assert list(timeline.gaps) == [], [_span_line(r) for r in listed]
        assert len(timeline.spans) == 1, [_span_line(r) for r in listed]
    finally:
        stop_all(agents)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_joining_node_takes_half_the_cameras_make_before_break(
    backend: str, source: RtspSource
) -> None:
    def fast_rebalance(env: dict[str, str]) -> None:
        env["CAMFLEET_REBALANCE_MOVES_PER_MINUTE"] = "600"
        env["CAMFLEET_REBALANCE_QUIET_PERIOD"] = "0"

    agents: list[FleetAgent] = []
    async with running_control_plane(backend, fast_rebalance) as stack:
        try:
            busy = await start_fleet_agent(stack, unique_name("busy"))
            agents.append(busy)
            cameras = [
                await new_pull_camera(stack, unique_name("cam"), source.url) for _ in range(4)
            ]
            for camera in cameras:
                await eventually(
                    lambda c=camera: _online_on(stack, c.id, busy.node_id), what="ONLINE on busy"
                )
            idle = await start_fleet_agent(stack, unique_name("idle"))
            agents.append(idle)

            async def spread() -> list[camera_pb2.Camera] | None:
                now = [await get_camera(stack, c.id) for c in cameras]
                on = Counter(c.node_id for c in now if c.status == camera_pb2.CAMERA_STATUS_ONLINE)
                done = on == {busy.node_id: 2, idle.node_id: 2}
                return now if done and not any(c.handover_node_id for c in now) else None

            now = await eventually(spread, what=f"two cameras on each node\n{stack.log_text()}")
            for camera in now:
                if camera.node_id == idle.node_id:
                    reasons = [p.reason for p in await placements(stack, camera.id)]
                    assert reasons[:2] == [
                        camera_pb2.PLACEMENT_REASON_HANDOVER_DONE,
                        camera_pb2.PLACEMENT_REASON_REBALANCE,
                    ]
        finally:
            stop_all(agents)
