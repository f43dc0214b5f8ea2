"""ListCameras filtered by placement: `node_id` and `handover_node_id`, so the nodes page and
integrators list one node's cameras instead of fetching every camera.

The cameras are placed by the real scheduler on nodes whose agents are connected (the agent
protocol spoken by tests/support/agent_stream): one camera per node, one waiting for a node no
one has, and one being handed over by a drain whose target never reports it ONLINE, so the
handover stays under way while the filters are read.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator

import grpc
from camfleet.v1 import agent_pb2, camera_pb2, node_pb2

from tests.support.agent_stream import beating, connect, hello
from tests.support.assertions import eventually, refused
from tests.support.platform import Platform


@contextlib.asynccontextmanager
async def _agent(platform: Platform, labels: dict[str, str]) -> AsyncIterator[str]:
    """A registered node whose agent is connected and heartbeats like a real one (READY for
    the scheduler); yields its id."""
    registered = await platform.agents.RegisterNode(
        agent_pb2.RegisterNodeRequest(
            join_token=await platform.join_token(),
            name=f"flt-{secrets.token_hex(4)}",
            labels=labels,
        )
    )
    async with connect(platform.channel, registered.credential, hello()) as stream:
        await stream.receive_kind("welcome")
        async with beating(stream, every_s=0.5):
            yield registered.node_id


async def _camera(platform: Platform, camera_id: str) -> camera_pb2.Camera:
    resp = await platform.cameras.GetCamera(
        camera_pb2.GetCameraRequest(id=camera_id), metadata=platform.admin
    )
    return resp.camera  # type: ignore[no-any-return]


async def _names(platform: Platform, prefix: str, filter_text: str) -> list[str]:
    """The names of this test's cameras (named `prefix`…) that `filter_text` selects."""
    resp = await platform.cameras.ListCameras(
        camera_pb2.ListCamerasRequest(filter=f'name = "{prefix}*" AND ({filter_text})'),
        metadata=platform.admin,
    )
    return [c.name for c in resp.cameras]


async def test_list_cameras_by_node_and_by_handover_node(platform: Platform) -> None:
    site, tag = secrets.token_hex(6), secrets.token_hex(4)
    prefix = f"nf-{tag}-"

    async def pull(name: str, selector: dict[str, str]) -> camera_pb2.Camera:
        return await platform.new_camera(
            f"{prefix}{name}",
            ingest_mode=camera_pb2.INGEST_MODE_PULL,
            source_url="rtsp://127.0.0.1:8554/none",
            node_selector=selector,
        )

    async with _agent(platform, {"test": site}) as first:
        moving = await pull("moving", {"test": site})
        placed = await eventually(
            lambda: _camera(platform, moving.id), lambda c: c.node_id == first, 30
        )
        assert placed.node_id == first, placed.placement_reason
        waiting = await pull("waiting", {"test": f"nowhere-{tag}"})
        unplaced = await eventually(
            lambda: _camera(platform, waiting.id), lambda c: c.placement_reason != "", 30
        )
        assert unplaced.node_id == "" and unplaced.placement_reason, unplaced

        async with _agent(platform, {"test": site, "pos": "second"}) as second:
            staying = await pull("staying", {"test": site, "pos": "second"})
            stayed = await eventually(
                lambda: _camera(platform, staying.id), lambda c: c.node_id == second, 30
            )
            assert stayed.node_id == second, stayed.placement_reason
            # The drain hands `moving` over to the second node, which never reports it ONLINE:
            # the camera stays on the first node with the second as its handover node.
            await platform.nodes.DrainNode(
                node_pb2.DrainNodeRequest(id=first), metadata=platform.admin
            )
            handing = await eventually(
                lambda: _camera(platform, moving.id), lambda c: c.handover_node_id == second, 30
            )
            assert (handing.node_id, handing.handover_node_id) == (first, second)

            def names(*suffixes: str) -> list[str]:
                return [f"{prefix}{s}" for s in suffixes]

            assert await _names(platform, prefix, f'node_id = "{first}"') == names("moving")
            assert await _names(platform, prefix, f'node_id = "{second}"') == names("staying")
            assert await _names(platform, prefix, f'handover_node_id = "{second}"') == names(
                "moving"
            )
            # What the second node runs: its own cameras and the one coming to it.
            both = f'node_id = "{second}" OR handover_node_id = "{second}"'
            assert await _names(platform, prefix, both) == names("moving", "staying")
            assert await _names(platform, prefix, "node_id != *") == names("waiting")
            assert await _names(platform, prefix, "node_id:*") == names("moving", "staying")
            assert await _names(platform, prefix, "handover_node_id:*") == names("moving")
            assert await _names(platform, prefix, f'NOT node_id = "{first}"') == names(
                "staying", "waiting"
            )
            assert await _names(platform, prefix, 'node_id = "no-such-node"') == []


async def test_an_unknown_field_names_the_node_fields(platform: Platform) -> None:
    refusal = await refused(
        platform.cameras.ListCameras(
            camera_pb2.ListCamerasRequest(filter='node = "x"'), metadata=platform.admin
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert 'unknown field "node"' in refusal.message
    assert "handover_node_id" in refusal.message and "node_id" in refusal.message
