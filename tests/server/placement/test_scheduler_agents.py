"""The scheduler with real agents (python -m node_agent with nginx) pulling a real RTSP camera
(GStreamer, harness.rtsp_source), on both backends: a pull camera created while a node is READY
is placed there and goes ONLINE, with its placement in the history; a killed node's pull camera
moves to the other node at once and goes ONLINE there; a drained node hands its cameras over
make-before-break and ends with none; a node that joins takes half the cameras of the busy one,
make-before-break, and no more."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from camfleet.v1 import camera_pb2, node_pb2

from harness.rtsp_source import RtspSource
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
from tests.support.stack import Stack, running_control_plane

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
