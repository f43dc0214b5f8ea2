"""CheckStreamKey behind the fleet ingest: any node takes any active push camera's key, and the
camera's home moves there as a `published` placement (epoch bumped, history, audit); a camera
live on another node that still heartbeats, and a pull camera's key, are refused. The agent
side is a test-driven gRPC client; tests/e2e/test_fleet_ingest.py runs real agents behind
Envoy."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from camfleet.v1 import (
    agent_pb2,
    camera_pb2,
    event_pb2,
    event_pb2_grpc,
    node_pb2,
    recording_pb2_grpc,
)
from camfleet.v1 import recording_pb2 as R

from tests.conftest import PlatformFactory
from tests.support.agent_stream import connect, heartbeat, hello, report
from tests.support.assertions import audit_since, eventually, now_filter
from tests.support.platform import Platform, bearer
from tests.support.recordings import recorder_changed, segment_closed, send_acked, timestamp


async def _camera(platform: Platform, camera_id: str) -> camera_pb2.Camera:
    resp = await platform.cameras.GetCamera(
        camera_pb2.GetCameraRequest(id=camera_id), metadata=platform.admin
    )
    return resp.camera


async def _check(platform: Platform, credential: str, key: str) -> agent_pb2.CheckStreamKeyResponse:
    return await platform.agents.CheckStreamKey(
        agent_pb2.CheckStreamKeyRequest(stream_key=key, remote_address="127.0.0.9"),
        metadata=bearer(credential),
    )


async def test_a_camera_homed_on_one_node_publishes_through_another(platform: Platform) -> None:
    home, other = await platform.register_node(), await platform.register_node()
    camera = await platform.new_camera()
    assert (await _check(platform, home.credential, camera.stream_key)).allowed
    homed = await _camera(platform, camera.id)
    assert homed.node_id == home.node_id
    since = now_filter()
    listed = await platform.cameras.ListCameras(
        camera_pb2.ListCamerasRequest(page_size=1), metadata=platform.admin
    )
    watch = event_pb2_grpc.EventServiceStub(platform.channel).WatchEvents(
        event_pb2.WatchEventsRequest(
            after_revision=listed.revision, filter=f'subject = "nodes/{other.node_id}"'
        ),
        metadata=platform.admin,
    )

    # Its node died; the camera reconnected through the fleet ingest and landed on `other`.
    moved = await _check(platform, other.credential, camera.stream_key)

    assert (moved.allowed, moved.camera_id) == (True, camera.id)
    now = await _camera(platform, camera.id)
    assert now.node_id == other.node_id
    assert now.placement_epoch == homed.placement_epoch + 1
    history = await platform.cameras.ListPlacements(
        camera_pb2.ListPlacementsRequest(camera_id=camera.id), metadata=platform.admin
    )
    latest = history.placements[0]
    assert (latest.from_node_id, latest.to_node_id) == (home.node_id, other.node_id)
    assert latest.reason == camera_pb2.PLACEMENT_REASON_PUBLISHED
    assert latest.epoch == now.placement_epoch
    [audited] = await audit_since(platform, since, "camera.placed")
    assert audited.target == f"cameras/{camera.id}"
    # The node it moved to announces its new load.
    try:
        async with asyncio.timeout(10):
            async for resp in watch:
                if resp.event.node.camera_count == 1:
                    break
    finally:
        watch.cancel()
    # Asked again (ffmpeg retrying), nothing moves twice.
    assert (await _check(platform, other.credential, camera.stream_key)).allowed
    assert (await _camera(platform, camera.id)).placement_epoch == now.placement_epoch


async def test_a_pull_cameras_key_is_refused_on_any_node(platform: Platform) -> None:
    node = await platform.register_node()
    camera = await platform.new_camera(
        ingest_mode=camera_pb2.INGEST_MODE_PULL, source_url="rtsp://127.0.0.1:8554/cam"
    )
    resp = await _check(platform, node.credential, camera.stream_key)
    assert not resp.allowed
    assert resp.camera_id == camera.id
    assert resp.reason == f"camera {camera.name} is a pull camera: its node pulls it"


async def test_a_camera_of_a_silent_node_is_taken_before_the_node_is_lost(
    make_platform: PlatformFactory,
) -> None:
    """Its node stopped heartbeating (killed, cut off): after two missed heartbeats the camera,
    reaching another node through the ingest, is taken there; the node is not LOST yet."""
    plane = await make_platform(
        heartbeat_interval=timedelta(seconds=0.5), node_lost_after=timedelta(seconds=60)
    )
    home, other = await plane.register_node(), await plane.register_node()
    camera = await plane.new_camera()
    async with connect(plane.channel, home.credential, hello(report(camera.id))) as stream:
        await stream.receive_kind("welcome")

        async def beat() -> None:
            # Heartbeating while the first check is made: on a loaded worker, seeing ONLINE can
            # take longer than the two missed heartbeats (1 s) that free the key.
            while True:
                await stream.send(heartbeat(report(camera.id)))
                await asyncio.sleep(0.2)

        beating = asyncio.create_task(beat())
        try:
            await eventually(
                lambda: _camera(plane, camera.id),
                lambda c: c.status == camera_pb2.CAMERA_STATUS_ONLINE,
                10,
            )
            refused = await _check(plane, other.credential, camera.stream_key)
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
        assert not refused.allowed and "already publishing" in refused.reason
        # No heartbeat follows from here: within a few seconds the key is taken.
        taken = await eventually(
            lambda: _check(plane, other.credential, camera.stream_key), lambda r: r.allowed, 10
        )
        assert taken.camera_id == camera.id
        node = await plane.nodes.GetNode(
            node_pb2.GetNodeRequest(id=home.node_id), metadata=plane.admin
        )
        assert node.node.state == node_pb2.NODE_STATE_READY
    assert (await _camera(plane, camera.id)).node_id == other.node_id


async def test_a_recording_camera_leaving_a_silent_node_leaves_a_node_lost_gap(
    make_platform: PlatformFactory,
) -> None:
    """Taken from its silent node before that node is declared lost (so the loss sweep never
    sees it there), the camera's hole is still a node-lost gap naming both nodes, from the
    silent node's last heartbeat to its first segment on the new one."""
    plane = await make_platform(
        heartbeat_interval=timedelta(seconds=0.5), node_lost_after=timedelta(seconds=60)
    )
    home, other = await plane.register_node(), await plane.register_node()
    camera = await plane.new_camera(recording_enabled=True)
    t0 = datetime.now(UTC) - timedelta(seconds=10)
    async with connect(plane.channel, home.credential, hello(report(camera.id))) as stream:
        await stream.receive_kind("welcome")
        await send_acked(
            stream,
            recorder_changed(camera.id, R.RECORDING_STATE_RECORDING, "recording"),
            segment_closed(camera.id, t0, t0 + timedelta(seconds=9)),
        )
        # No heartbeat follows: within a few seconds the key is taken by `other`.
        await eventually(
            lambda: _check(plane, other.credential, camera.stream_key), lambda r: r.allowed, 10
        )
    resumed = datetime.now(UTC)
    async with connect(plane.channel, other.credential, hello()) as stream:
        await stream.receive_kind("welcome")
        await send_acked(stream, segment_closed(camera.id, resumed, resumed + timedelta(seconds=1)))
    line = await recording_pb2_grpc.RecordingServiceStub(plane.channel).GetTimeline(
        R.GetTimelineRequest(
            camera_id=camera.id,
            start_time=timestamp(t0),
            end_time=timestamp(resumed + timedelta(seconds=1)),
        ),
        metadata=plane.admin,
    )
    lost = [g for g in line.gaps if g.cause == R.GAP_CAUSE_NODE_LOST]
    assert [(g.reason, list(g.node_ids)) for g in lost] == [
        ("node lost", [home.node_id, other.node_id])
    ]
    assert abs(lost[0].end_time.ToDatetime(UTC) - resumed) < timedelta(milliseconds=2)
    assert t0 + timedelta(seconds=9) <= lost[0].start_time.ToDatetime(UTC) < resumed


async def test_a_node_back_from_a_cut_does_not_take_back_a_camera_that_moved_on(
    make_platform: PlatformFactory,
) -> None:
    """Its link was cut; the camera reconnected through the ingest to another node. When the
    link returns, the node's Hello still lists the camera (nginx has not noticed the dead
    connection yet): the camera stays where it publishes now."""
    plane = await make_platform(
        heartbeat_interval=timedelta(seconds=0.5), node_lost_after=timedelta(seconds=60)
    )
    home, other = await plane.register_node(), await plane.register_node()
    camera = await plane.new_camera()

    def live_on(node_id: str) -> Callable[[camera_pb2.Camera], bool]:
        return lambda c: c.status == camera_pb2.CAMERA_STATUS_ONLINE and c.node_id == node_id

    async with connect(plane.channel, home.credential, hello(report(camera.id))) as cut_off:
        await cut_off.receive_kind("welcome")
        await eventually(lambda: _camera(plane, camera.id), live_on(home.node_id), 10)
        await eventually(
            lambda: _check(plane, other.credential, camera.stream_key), lambda r: r.allowed, 10
        )
    async with connect(plane.channel, other.credential, hello(report(camera.id))) as moved:
        await moved.receive_kind("welcome")
        await eventually(lambda: _camera(plane, camera.id), live_on(other.node_id), 10)
        epoch = (await _camera(plane, camera.id)).placement_epoch
        async with connect(plane.channel, home.credential, hello(report(camera.id))) as back:
            await back.receive_kind("welcome")  # sent once its Hello is recorded
            now = await _camera(plane, camera.id)
            assert live_on(other.node_id)(now), now
            assert now.placement_epoch == epoch
