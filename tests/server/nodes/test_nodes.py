"""Nodes and the agent protocol, from the control plane's side: join tokens, node credentials,
Connect (Hello/Welcome, heartbeats, stream events stored once, assignments with ACK/NACK),
lost nodes, CheckStreamKey, StreamService. The agent here is a test-driven gRPC client; the
end-to-end tests with nginx and ffmpeg are in tests/e2e/."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import grpc
import pytest
from camfleet.v1 import (
    agent_pb2,
    camera_pb2,
    common_pb2,
    event_pb2,
    event_pb2_grpc,
    node_pb2,
    stream_pb2,
)
from google.protobuf import duration_pb2
from sqlalchemy import text

from server.db.engine import create_engine
from tests.conftest import PlatformFactory
from tests.support.agent_stream import connect, heartbeat, hello, message, report, stream_event
from tests.support.assertions import audit_since, eventually, now_filter, refused
from tests.support.platform import Metadata, Platform, bearer

S = stream_pb2


async def _camera_status(platform: Platform, camera_id: str) -> camera_pb2.Camera:
    resp = await platform.cameras.GetCamera(
        camera_pb2.GetCameraRequest(id=camera_id), metadata=platform.admin
    )
    return resp.camera


async def _wait_status(
    platform: Platform, camera_id: str, status: int, within_s: float = 10.0
) -> camera_pb2.Camera:
    camera = await eventually(
        lambda: _camera_status(platform, camera_id), lambda c: c.status == status, within_s
    )
    assert camera.status == status, (
        f"camera is {camera_pb2.CameraStatus.Name(camera.status)}, expected "
        f"{camera_pb2.CameraStatus.Name(status)} ({camera.status_reason})"
    )
    return camera


async def _node(platform: Platform, node_id: str) -> node_pb2.Node:
    resp = await platform.nodes.GetNode(
        node_pb2.GetNodeRequest(id=node_id), metadata=platform.admin
    )
    return resp.node


async def _join_refused(platform: Platform, join_token: str, name: str) -> str:
    """RegisterNode with `join_token` must be refused as UNAUTHENTICATED; the refusal's message."""
    err = await refused(
        platform.agents.RegisterNode(
            agent_pb2.RegisterNodeRequest(join_token=join_token, name=name)
        ),
        grpc.StatusCode.UNAUTHENTICATED,
    )
    return err.message


# --- join tokens and registration -----------------------------------------------------------


async def test_a_join_token_registers_one_node_and_is_then_used_up(platform: Platform) -> None:
    token = await platform.join_token()
    name = f"edge-{uuid.uuid4().hex[:6]}"
    first = await platform.agents.RegisterNode(
        agent_pb2.RegisterNodeRequest(join_token=token, name=name)
    )
    assert first.credential.startswith("cfn_") and first.node_id
    node = await _node(platform, first.node_id)
    assert (node.name, node.state) == (name, node_pb2.NODE_STATE_OFFLINE)
    since = now_filter()
    assert "used up" in await _join_refused(platform, token, name + "-2")
    rows = await audit_since(platform, since, "node.register_refused")
    assert len(rows) == 1 and "used up" in rows[0].details["reason"]


@pytest.mark.parametrize(
    ("token", "says"),
    [
        ("", "malformed"),
        ("cfj_nothex_abc", "malformed"),
        (f"cfj_{uuid.uuid4().hex}_forged", "not valid"),
    ],
    # Fixed ids: pytest-xdist workers must collect the same names (the forged one is random).
    ids=["empty", "not-hex", "forged"],
)
async def test_a_bad_join_token_is_refused(platform: Platform, token: str, says: str) -> None:
    assert says in await _join_refused(platform, token, "x")


async def test_revoked_and_expired_join_tokens_are_refused(platform: Platform) -> None:
    created = await platform.nodes.CreateJoinToken(
        node_pb2.CreateJoinTokenRequest(join_token=node_pb2.JoinToken(description="spare")),
        metadata=platform.admin,
    )
    await platform.nodes.RevokeJoinToken(
        node_pb2.RevokeJoinTokenRequest(id=created.join_token.id), metadata=platform.admin
    )
    assert "revoked" in await _join_refused(platform, created.secret, "late")
    short = await platform.nodes.CreateJoinToken(
        node_pb2.CreateJoinTokenRequest(ttl=duration_pb2.Duration(nanos=1_000_000)),
        metadata=platform.admin,
    )
    await asyncio.sleep(0.05)
    assert "expired" in await _join_refused(platform, short.secret, "later")
    listed = await platform.nodes.ListJoinTokens(
        node_pb2.ListJoinTokensRequest(page_size=1000), metadata=platform.admin
    )
    assert created.join_token.id in {t.id for t in listed.join_tokens}
    assert all(not hasattr(t, "secret") for t in listed.join_tokens)


async def test_node_names_are_unique_and_host_like(platform: Platform) -> None:
    node = await platform.register_node()
    name = (await _node(platform, node.node_id)).name
    err = await refused(
        platform.agents.RegisterNode(
            agent_pb2.RegisterNodeRequest(join_token=await platform.join_token(), name=name.upper())
        ),
        grpc.StatusCode.ALREADY_EXISTS,
    )
    assert "--name" in err.message
    await refused(
        platform.agents.RegisterNode(
            agent_pb2.RegisterNodeRequest(join_token=await platform.join_token(), name="a b/c")
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )


async def test_node_credentials_open_only_the_agent_api(platform: Platform) -> None:
    node = await platform.register_node()
    forged = f"cfn_{uuid.UUID(node.node_id).hex}_not-the-secret"
    async with connect(platform.channel, forged, hello()) as stream:
        assert await stream.status() is grpc.StatusCode.UNAUTHENTICATED
    err = await refused(
        platform.cameras.ListCameras(
            camera_pb2.ListCamerasRequest(), metadata=bearer(node.credential)
        ),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert "node credential" in err.message
    async with connect(platform.channel, platform.admin[0][1].split()[1], hello()) as stream:
        assert await stream.status() is grpc.StatusCode.PERMISSION_DENIED


# --- Connect ---------------------------------------------------------------------------------


async def test_hello_gets_welcome_and_an_assignment_then_heartbeats_show(
    platform: Platform,
) -> None:
    node = await platform.register_node()
    async with connect(platform.channel, node.credential, hello()) as stream:
        welcome = (await stream.receive()).welcome
        assert welcome.node_id == node.node_id
        assert welcome.heartbeat_interval.ToTimedelta() == timedelta(seconds=1)
        assert welcome.lost_after.ToTimedelta() == timedelta(seconds=3)
        assert len(bytes.fromhex(welcome.playback_secret)) >= 32
        assignment = (await stream.receive()).assignment
        assert assignment.version >= 1 and not assignment.cameras
        await stream.send(message(ack=agent_pb2.AssignmentAck(version=assignment.version)))
        await stream.send(heartbeat())
        ready = await eventually(
            lambda: _node(platform, node.node_id),
            lambda n: n.host.cpu_percent > 0 and n.acked_assignment_version > 0,
        )
        assert ready.state == node_pb2.NODE_STATE_READY
        assert ready.http_url == "http://127.0.0.1:18080"
        assert ready.host.memory_total_bytes == 8 << 30
        assert ready.acked_assignment_version == assignment.version
        listed = await platform.nodes.ListNodes(
            node_pb2.ListNodesRequest(filter="state = READY", page_size=1000),
            metadata=platform.admin,
        )
        assert node.node_id in {n.id for n in listed.nodes}
        await stream.finish()
        assert await stream.status() is grpc.StatusCode.OK
    gone = await eventually(
        lambda: _node(platform, node.node_id), lambda n: n.state == node_pb2.NODE_STATE_OFFLINE
    )
    assert gone.state_reason == "the agent shut down"


async def test_stream_events_move_the_camera_and_are_stored_once(platform: Platform) -> None:
    node = await platform.register_node()
    camera = await platform.new_camera()
    async with connect(platform.channel, node.credential, hello()) as stream:
        await stream.receive_kind("assignment")
        publish = stream_event(S.STREAM_EVENT_TYPE_PUBLISH, camera.id, remote_address="127.0.0.9")
        await stream.send(publish)
        acked = await stream.receive_kind("event_ack")
        assert list(acked.event_ack.event_ids) == [publish.event_id]
        connecting = await _wait_status(platform, camera.id, camera_pb2.CAMERA_STATUS_CONNECTING)
        assert connecting.node_id == node.node_id
        # The camera now belongs to this node: its assignment follows.
        pushed = await stream.receive_kind("assignment")
        assert [c.camera_id for c in pushed.assignment.cameras] == [camera.id]
        assert pushed.assignment.cameras[0].stream_key == camera.stream_key
        await stream.send(stream_event(S.STREAM_EVENT_TYPE_MEDIA, camera.id))
        await _wait_status(platform, camera.id, camera_pb2.CAMERA_STATUS_ONLINE)
        await stream.send(heartbeat(report(camera.id, clients=2)))
        live = await eventually(
            lambda: platform.streams.GetStream(
                S.GetStreamRequest(camera_id=camera.id), metadata=platform.admin
            ),
            lambda r: r.stream.clients == 2,
        )
        assert (live.stream.width, live.stream.video_codec) == (1280, "H264")
        assert live.stream.node_id == node.node_id
        # The same event again (a replay from the agent's spool) is acknowledged, not repeated.
        await stream.send(publish)
        await stream.acked(publish)
        await stream.send(stream_event(S.STREAM_EVENT_TYPE_UNPUBLISH, camera.id))
        offline = await _wait_status(platform, camera.id, camera_pb2.CAMERA_STATUS_OFFLINE)
        assert offline.status_reason == "the publisher disconnected"
    history = await platform.streams.ListStreamEvents(
        S.ListStreamEventsRequest(camera_id=camera.id), metadata=platform.admin
    )
    assert [e.type for e in history.events] == [
        S.STREAM_EVENT_TYPE_UNPUBLISH,
        S.STREAM_EVENT_TYPE_MEDIA,
        S.STREAM_EVENT_TYPE_PUBLISH,
    ]
    assert history.events[-1].id == publish.event_id
    assert history.events[-1].remote_address == "127.0.0.9"
    listed = await platform.streams.ListStreams(S.ListStreamsRequest(), metadata=platform.admin)
    assert camera.id not in {s.camera_id for s in listed.streams}


async def test_a_replayed_old_event_does_not_undo_a_newer_state(platform: Platform) -> None:
    """After a reconnect, the Hello says what is live; older events from the spool are stored
    but do not move the camera back."""
    node = await platform.register_node()
    camera = await platform.new_camera()
    stale_unpublish = stream_event(S.STREAM_EVENT_TYPE_UNPUBLISH, camera.id)
    await asyncio.sleep(0.01)
    async with connect(platform.channel, node.credential, hello(report(camera.id))) as stream:
        await stream.receive_kind("welcome")
        await _wait_status(platform, camera.id, camera_pb2.CAMERA_STATUS_ONLINE)
        await stream.send(stale_unpublish)
        await stream.receive_kind("event_ack")
        await asyncio.sleep(0.2)
        assert (await _camera_status(platform, camera.id)).status == (
            camera_pb2.CAMERA_STATUS_ONLINE
        )
    history = await platform.streams.ListStreamEvents(
        S.ListStreamEventsRequest(camera_id=camera.id), metadata=platform.admin
    )
    assert [e.id for e in history.events] == [stale_unpublish.event_id]


async def test_a_reconnect_reconciles_cameras_to_what_the_node_streams(
    platform: Platform,
) -> None:
    node = await platform.register_node()
    kept, dropped = await platform.new_camera(), await platform.new_camera()
    async with connect(
        platform.channel, node.credential, hello(report(kept.id), report(dropped.id))
    ) as stream:
        await stream.receive_kind("welcome")
        await _wait_status(platform, dropped.id, camera_pb2.CAMERA_STATUS_ONLINE)
    async with connect(platform.channel, node.credential, hello(report(kept.id))) as stream:
        await stream.receive_kind("welcome")
        gone = await _wait_status(platform, dropped.id, camera_pb2.CAMERA_STATUS_OFFLINE)
        assert "reconnected" in gone.status_reason
        assert (await _camera_status(platform, kept.id)).status == camera_pb2.CAMERA_STATUS_ONLINE


async def test_protocol_violations_end_the_stream_with_a_clear_status(
    platform: Platform,
) -> None:
    node = await platform.register_node()
    async with connect(platform.channel, node.credential) as stream:
        await stream.send(heartbeat())
        assert await stream.status() is grpc.StatusCode.INVALID_ARGUMENT
        assert "Hello" in (await stream.call.details() or "")
    async with connect(platform.channel, node.credential, hello()) as stream:
        version = (await stream.receive_kind("assignment")).assignment.version
        await stream.send(message(ack=agent_pb2.AssignmentAck(version=version + 5)))
        assert await stream.status() is grpc.StatusCode.INVALID_ARGUMENT
        assert "never sent" in (await stream.call.details() or "")
    async with connect(platform.channel, node.credential, hello()) as stream:
        await stream.receive_kind("assignment")
        await stream.send(agent_pb2.ConnectRequest(event_id="x"))
        assert await stream.status() is grpc.StatusCode.INVALID_ARGUMENT
    async with connect(platform.channel, node.credential, hello()) as stream:
        await stream.receive_kind("assignment")
        # An event no one can use is acknowledged (so it leaves the spool) and dropped.
        junk = stream_event(99, "not-a-camera")
        await stream.send(junk)
        assert list((await stream.receive_kind("event_ack")).event_ack.event_ids) == [junk.event_id]
        await stream.send(heartbeat())
        await stream.finish()
        assert await stream.status() is grpc.StatusCode.OK


async def test_a_nack_keeps_the_acked_version_and_is_audited(platform: Platform) -> None:
    node = await platform.register_node()
    since = now_filter()
    async with connect(platform.channel, node.credential, hello()) as stream:
        version = (await stream.receive_kind("assignment")).assignment.version
        await stream.send(
            message(nack=agent_pb2.AssignmentNack(version=version, error="bad source url"))
        )
        rows = await eventually(
            lambda: audit_since(platform, since, "node.assignment_refused"), bool
        )
        assert rows and rows[0].details["error"] == "bad source url"
        assert (await _node(platform, node.node_id)).acked_assignment_version == 0


async def test_a_silent_node_is_lost_and_its_cameras_go_offline(
    make_platform: PlatformFactory,
) -> None:
    plane = await make_platform(
        heartbeat_interval=timedelta(seconds=0.2), node_lost_after=timedelta(seconds=0.6)
    )
    node = await plane.register_node()
    camera = await plane.new_camera()
    listed = await plane.cameras.ListCameras(
        camera_pb2.ListCamerasRequest(page_size=1), metadata=plane.admin
    )
    watch = event_pb2_grpc.EventServiceStub(plane.channel).WatchEvents(
        event_pb2.WatchEventsRequest(
            after_revision=listed.revision, filter=f'subject = "nodes/{node.node_id}"'
        ),
        metadata=plane.admin,
    )
    try:
        async with connect(plane.channel, node.credential, hello(report(camera.id))) as stream:
            await stream.receive_kind("welcome")
            await _wait_status(plane, camera.id, camera_pb2.CAMERA_STATUS_ONLINE)
            # Heartbeats stop (a hung agent); the stream itself stays open.
            lost = await _wait_status(plane, camera.id, camera_pb2.CAMERA_STATUS_OFFLINE)
            assert "was lost" in lost.status_reason
            assert await stream.status() is grpc.StatusCode.UNAVAILABLE
        state = await _node(plane, node.node_id)
        assert state.state == node_pb2.NODE_STATE_LOST
        assert "no heartbeat" in state.state_reason
        seen = []
        async with asyncio.timeout(10):
            async for resp in watch:
                seen.append(resp.event.node.state)
                if resp.event.node.state == node_pb2.NODE_STATE_LOST:
                    break
        assert seen[-2:] == [node_pb2.NODE_STATE_READY, node_pb2.NODE_STATE_LOST]
    finally:
        watch.cancel()


async def test_heartbeats_keep_a_node_ready(make_platform: PlatformFactory) -> None:
    plane = await make_platform(
        heartbeat_interval=timedelta(seconds=0.2), node_lost_after=timedelta(seconds=0.6)
    )
    node = await plane.register_node()
    async with connect(plane.channel, node.credential, hello()) as stream:
        await stream.receive_kind("welcome")
        for _ in range(12):  # 2.4 s, four times the grace
            await stream.send(heartbeat())
            await asyncio.sleep(0.2)
        assert (await _node(plane, node.node_id)).state == node_pb2.NODE_STATE_READY


# On PostgreSQL, where a row can be held while the rest of the database works (SQLite's one
# write lock would hold up the node's READY with the cameras, and the window with it).
@pytest.mark.parametrize("platform", ["postgres"], indirect=True)
async def test_a_hello_that_waits_for_the_database_does_not_lose_the_node(
    make_platform: PlatformFactory,
) -> None:
    """Under a connect storm a Hello's writes wait their turn for seconds; the node sends
    heartbeats only after its Welcome. The node must not be declared LOST once its READY is
    written while its cameras still wait (bench_heartbeats: 28-32 of 1,000 nodes were, after
    5-7 s, at the storm's end). Here another transaction holds the camera the node reports for
    six times the loss timeout, after the node's READY is written."""
    plane = await make_platform(
        heartbeat_interval=timedelta(seconds=0.2), node_lost_after=timedelta(seconds=0.6)
    )
    node = await plane.register_node()
    camera = await plane.new_camera()
    engine = create_engine(plane.settings.resolved_database_url)
    try:
        async with engine.connect() as holder:
            held = await holder.begin()
            await holder.execute(
                text("SELECT id FROM cameras WHERE id = :id FOR UPDATE"), {"id": camera.id}
            )
            async with connect(plane.channel, node.credential, hello(report(camera.id))) as stream:
                welcome = asyncio.create_task(stream.receive_kind("welcome"))
                await eventually(
                    lambda: _node(plane, node.node_id),
                    lambda n: n.state == node_pb2.NODE_STATE_READY,
                    10,
                )
                await asyncio.sleep(3.6)
                assert not welcome.done(), "the Hello did not wait for the held camera"
                await held.commit()
                await welcome
                for _ in range(10):  # 2 s of heartbeats after the Welcome
                    await stream.send(heartbeat(report(camera.id)))
                    await asyncio.sleep(0.2)
                state = await _node(plane, node.node_id)
                assert state.state == node_pb2.NODE_STATE_READY, state.state_reason
    finally:
        await engine.dispose()


# --- CheckStreamKey ---------------------------------------------------------------------------


async def test_check_stream_key(platform: Platform) -> None:
    node = await platform.register_node()
    metadata = bearer(node.credential)
    camera = await platform.new_camera()
    since = now_filter()
    unknown = await platform.agents.CheckStreamKey(
        agent_pb2.CheckStreamKeyRequest(stream_key="guess-123456", remote_address="127.0.0.7"),
        metadata=metadata,
    )
    assert (unknown.allowed, unknown.reason) == (False, "unknown stream key")
    rows = await audit_since(platform, since, "stream.publish_refused")
    assert rows[0].details["publisher_address"] == "127.0.0.7"
    assert rows[0].details["key_prefix"] == "guess-"
    ok = await platform.agents.CheckStreamKey(
        agent_pb2.CheckStreamKeyRequest(stream_key=camera.stream_key, remote_address="127.0.0.7"),
        metadata=metadata,
    )
    assert (ok.allowed, ok.camera_id) == (True, camera.id)
    assert (await _camera_status(platform, camera.id)).node_id == node.node_id
    await platform.cameras.DeactivateCamera(
        camera_pb2.DeactivateCameraRequest(id=camera.id), metadata=platform.admin
    )
    off = await platform.agents.CheckStreamKey(
        agent_pb2.CheckStreamKeyRequest(stream_key=camera.stream_key), metadata=metadata
    )
    assert not off.allowed and "deactivated" in off.reason


async def test_unknown_keys_are_rate_limited_per_address(make_platform: PlatformFactory) -> None:
    plane = await make_platform(unknown_key_limit=3)
    node = await plane.register_node()
    metadata = bearer(node.credential)
    for i in range(3):
        resp = await plane.agents.CheckStreamKey(
            agent_pb2.CheckStreamKeyRequest(stream_key=f"guess{i}", remote_address="127.0.0.66"),
            metadata=metadata,
        )
        assert not resp.allowed
    limited = await refused(
        plane.agents.CheckStreamKey(
            agent_pb2.CheckStreamKeyRequest(stream_key="guess9", remote_address="127.0.0.66"),
            metadata=metadata,
        ),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    )
    assert limited.retry_delay_seconds is not None and limited.reason == "RATE_LIMITED"
    other = await plane.agents.CheckStreamKey(
        agent_pb2.CheckStreamKeyRequest(stream_key="guess9", remote_address="127.0.0.67"),
        metadata=metadata,
    )
    assert other.reason == "unknown stream key"


async def test_a_camera_live_on_one_node_is_refused_on_another(platform: Platform) -> None:
    first, second = await platform.register_node(), await platform.register_node()
    camera = await platform.new_camera()
    async with connect(platform.channel, first.credential, hello(report(camera.id))) as stream:
        await stream.receive_kind("welcome")
        await _wait_status(platform, camera.id, camera_pb2.CAMERA_STATUS_ONLINE)
        resp = await platform.agents.CheckStreamKey(
            agent_pb2.CheckStreamKeyRequest(stream_key=camera.stream_key),
            metadata=bearer(second.credential),
        )
        assert not resp.allowed and "already publishing" in resp.reason


# --- URLs, cordon, drain, delete --------------------------------------------------------------


async def test_stream_urls_point_at_the_cameras_node(platform: Platform) -> None:
    node = await platform.register_node()
    camera = await platform.new_camera()
    async with connect(platform.channel, node.credential, hello(report(camera.id))) as stream:
        await stream.receive_kind("welcome")
        await _wait_status(platform, camera.id, camera_pb2.CAMERA_STATUS_ONLINE)
        urls = await platform.cameras.GetStreamUrls(
            camera_pb2.GetStreamUrlsRequest(id=camera.id), metadata=platform.admin
        )
        assert urls.rtmp_publish_url == f"rtmp://127.0.0.1:19350/live/{camera.stream_key}"
        assert urls.hls_playback_url.startswith(f"http://127.0.0.1:18080/hls/{camera.id}/")


async def test_cordon_drain_and_delete(platform: Platform) -> None:
    node = await platform.register_node()
    camera = await platform.new_camera()
    async with connect(platform.channel, node.credential, hello(report(camera.id))) as stream:
        await stream.receive_kind("welcome")
        cordoned = await platform.nodes.CordonNode(
            node_pb2.CordonNodeRequest(id=node.node_id), metadata=platform.admin
        )
        assert not cordoned.node.schedulable
        back = await platform.nodes.UncordonNode(
            node_pb2.UncordonNodeRequest(id=node.node_id), metadata=platform.admin
        )
        assert back.node.schedulable
        drained = await platform.nodes.DrainNode(
            node_pb2.DrainNodeRequest(id=node.node_id), metadata=platform.admin
        )
        assert drained.node.draining and not drained.node.schedulable
        assert (await stream.receive_kind("drain")).drain.reason
        await platform.nodes.DeleteNode(
            node_pb2.DeleteNodeRequest(id=node.node_id), metadata=platform.admin
        )
        assert await stream.status() is grpc.StatusCode.UNAUTHENTICATED
    offline = await _wait_status(platform, camera.id, camera_pb2.CAMERA_STATUS_OFFLINE)
    assert "deleted" in offline.status_reason and not offline.node_id
    await refused(
        platform.nodes.GetNode(node_pb2.GetNodeRequest(id=node.node_id), metadata=platform.admin),
        grpc.StatusCode.NOT_FOUND,
    )
    await asyncio.sleep(2.1)  # the credential cache's life
    async with connect(platform.channel, node.credential, hello()) as again:
        assert await again.status() is grpc.StatusCode.UNAUTHENTICATED


async def test_node_events_need_nodes_read(platform: Platform) -> None:
    """A viewer's watch carries camera and stream events but never node events."""
    viewer = await platform.as_role(common_pb2.ROLE_VIEWER)
    revision = (
        await platform.cameras.ListCameras(
            camera_pb2.ListCamerasRequest(page_size=1), metadata=platform.admin
        )
    ).revision
    node = await platform.register_node()
    camera = await platform.new_camera()
    async with connect(platform.channel, node.credential, hello(report(camera.id))) as stream:
        await stream.receive_kind("welcome")
        await _wait_status(platform, camera.id, camera_pb2.CAMERA_STATUS_ONLINE)

    async def first_events(metadata: Metadata) -> list[event_pb2.Event]:
        return await platform.events_until(
            metadata,
            revision,
            lambda e: (
                e.camera.id == camera.id and e.camera.status == camera_pb2.CAMERA_STATUS_ONLINE
            ),
        )

    admin_sees = {
        e.WhichOneof("resource")
        for e in await first_events(platform.admin)
        if e.subject == f"nodes/{node.node_id}" or e.camera.id == camera.id
    }
    viewer_sees = {e.WhichOneof("resource") for e in await first_events(viewer)}
    assert "node" in admin_sees
    assert "node" not in viewer_sees and "camera" in viewer_sees
