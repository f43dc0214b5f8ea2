"""A drain's progress as node events: a watcher of `type = NODE_UPDATED` sees the drained
node's drain_remaining count down to 0 as its pull cameras are handed over, and the target's
camera_count take them, without polling GetNode.

Real agents (python -m node_agent with nginx) pull a real RTSP camera (GStreamer,
harness.rtsp_source) on both backends; the handovers finish when the new node reports each
camera ONLINE (server/cameras/status.py), which is when a camera leaves the drained node.
"""

from __future__ import annotations

import asyncio

import pytest
from camfleet.v1 import camera_pb2, event_pb2, node_pb2

from harness.rtsp_source import RtspSource
from tests.support.fleet_nodes import (
    FleetAgent,
    eventually,
    get_camera,
    new_pull_camera,
    start_fleet_agent,
    stop_all,
    unique_name,
)
from tests.support.stack import Stack

pytestmark = pytest.mark.timeout(300)


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


async def _node_events_until_drained(
    stack: Stack, revision: int, node_id: str
) -> list[node_pb2.Node]:
    """The nodes of the NODE_UPDATED events from `revision` on, up to the one that shows
    `node_id` draining with nothing left to move."""
    call = stack.watch(revision, "type = NODE_UPDATED")
    seen: list[node_pb2.Node] = []
    try:
        async with asyncio.timeout(120):
            async for response in call:
                event = response.event
                if not event.HasField("node"):
                    continue  # a bookmark
                assert event.type == event_pb2.EVENT_TYPE_NODE_UPDATED, event
                seen.append(event.node)
                node = event.node
                if node.id == node_id and node.draining and node.drain_remaining == 0:
                    return seen
    except TimeoutError:
        summary = [(n.name, n.draining, n.drain_remaining, n.camera_count) for n in seen]
        raise AssertionError(
            f"no NODE_UPDATED showed the drain done; seen: {summary}\n{stack.log_text()}"
        ) from None
    finally:
        call.cancel()
    raise AssertionError("the watch ended before the drain was done")


async def test_a_watcher_sees_a_drain_count_down_to_zero(plane: Stack, source: RtspSource) -> None:
    agents: list[FleetAgent] = []
    try:
        old = await start_fleet_agent(plane, unique_name("old"))
        agents.append(old)
        cameras = [
            await new_pull_camera(plane, unique_name("drained"), source.url) for _ in range(2)
        ]
        ids = [c.id for c in cameras]
        await eventually(
            lambda: _all_online_on(plane, ids, old.node_id),
            what=f"both cameras ONLINE on {old.name}\n{plane.log_text()}",
        )
        new = await start_fleet_agent(plane, unique_name("new"))
        agents.append(new)

        revision = await plane.revision()
        watching = asyncio.create_task(_node_events_until_drained(plane, revision, old.node_id))
        drained = await plane.nodes.DrainNode(
            node_pb2.DrainNodeRequest(id=old.node_id), metadata=plane.admin
        )
        started_with = drained.node.drain_remaining
        # A rebalance toward the new node may have taken one camera already; never both.
        assert started_with in (1, 2), drained.node
        seen = await watching

        progress = [n.drain_remaining for n in seen if n.id == old.node_id and n.draining]
        assert progress[0] == started_with, progress
        assert progress[-1] == 0
        assert progress == sorted(progress, reverse=True), f"drain went backwards: {progress}"
        # Every camera that left was an event of its own: one count per finished handover.
        assert set(range(started_with + 1)) <= set(progress), progress
        last = seen[-1]
        assert last.camera_count == 0, last
        assert last.name == old.name
        # The target's events carried the cameras it took over.
        taken = [n.camera_count for n in seen if n.id == new.node_id]
        assert taken and taken[-1] == 2, taken

        done = await eventually(
            lambda: _all_online_on(plane, ids, new.node_id),
            what=f"both cameras ONLINE on {new.name}\n{plane.log_text()}",
        )
        assert {c.node_id for c in done} == {new.node_id}
        node = await plane.nodes.GetNode(
            node_pb2.GetNodeRequest(id=old.node_id), metadata=plane.admin
        )
        assert (node.node.drain_remaining, node.node.camera_count) == (0, 0)
    finally:
        stop_all(agents)
