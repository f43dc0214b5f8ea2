"""WatchEvents as a dashboard uses it: list, watch from the list's revision, resume, filter."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
from camfleet.v1 import camera_pb2, common_pb2, event_pb2, event_pb2_grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from harness.databases import REDIS_URL, throwaway_postgres
from tests.conftest import PlatformFactory
from tests.support.platform import (
    Metadata,
    Platform,
    bearer,
    mask,
    settings_for_tests,
    start_platform,
    stop_platform,
)


async def _watch(
    platform: Platform, metadata: Metadata, count: int, after: int = 0, filter_text: str = ""
) -> list[event_pb2.Event]:
    """The first `count` non-bookmark events after `after` (fails after 10 s)."""
    stub = event_pb2_grpc.EventServiceStub(platform.channel)
    call = stub.WatchEvents(
        event_pb2.WatchEventsRequest(after_revision=after, filter=filter_text), metadata=metadata
    )
    out: list[event_pb2.Event] = []
    try:
        async with asyncio.timeout(10):
            async for resp in call:
                if resp.event.type != event_pb2.EVENT_TYPE_BOOKMARK:
                    out.append(resp.event)
                if len(out) == count:
                    break
    finally:
        call.cancel()
    return out


async def test_list_then_watch_sees_create_update_delete(platform: Platform) -> None:
    start = await platform.revision()
    cam = await platform.new_camera()
    await platform.cameras.UpdateCamera(
        camera_pb2.UpdateCameraRequest(
            camera=camera_pb2.Camera(id=cam.id, location="hall"), update_mask=mask("location")
        ),
        metadata=platform.admin,
    )
    await platform.cameras.DeleteCamera(
        camera_pb2.DeleteCameraRequest(id=cam.id), metadata=platform.admin
    )
    mine = f'subject = "cameras/{cam.id}"'
    events = await _watch(platform, platform.admin, 3, after=start, filter_text=mine)
    assert [e.type for e in events] == [
        event_pb2.EVENT_TYPE_CAMERA_CREATED,
        event_pb2.EVENT_TYPE_CAMERA_UPDATED,
        event_pb2.EVENT_TYPE_CAMERA_DELETED,
    ]
    revisions = [e.revision for e in events]
    assert revisions == sorted(revisions) and revisions[0] > start
    assert events[1].camera.location == "hall" and "location" in events[1].message
    assert events[0].camera.stream_key == cam.stream_key  # admins may see keys


async def test_a_resumed_watch_gets_exactly_what_it_missed(platform: Platform) -> None:
    first = await platform.new_camera()
    start = await platform.revision()
    names = []
    for i in range(5):
        names.append(f"{first.name}-r{i}")
        await platform.cameras.UpdateCamera(
            camera_pb2.UpdateCameraRequest(
                camera=camera_pb2.Camera(id=first.id, name=names[-1]), update_mask=mask("name")
            ),
            metadata=platform.admin,
        )
    mine = f'subject = "cameras/{first.id}"'
    seen = await _watch(platform, platform.admin, 2, after=start, filter_text=mine)
    # Disconnected after two; resume from the last revision it saw.
    rest = await _watch(platform, platform.admin, 3, after=seen[-1].revision, filter_text=mine)
    assert [e.camera.name for e in seen + rest] == names
    assert len({e.revision for e in seen + rest}) == 5


async def test_a_revision_that_cannot_be_replayed_says_relist(platform: Platform) -> None:
    future = await platform.revision() + 10_000
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _watch(platform, platform.admin, 1, after=future)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "list the resources again" in (err.value.details() or "")
    status = rpc_status.from_call(err.value)
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    assert any(d.Unpack(info) for d in status.details)
    assert info.reason == "REVISION_COMPACTED"


async def test_viewers_get_events_without_secrets(platform: Platform) -> None:
    viewer = await platform.as_role(common_pb2.ROLE_VIEWER)
    start = await platform.revision()
    cam = await platform.new_camera(
        ingest_mode=camera_pb2.INGEST_MODE_PULL, source_url="rtsp://user:hunter2@127.0.0.1:8554/x"
    )
    (event,) = await _watch(
        platform, viewer, 1, after=start, filter_text=f'subject = "cameras/{cam.id}"'
    )
    assert event.camera.name == cam.name
    assert event.camera.stream_key == ""
    assert "hunter2" not in event.camera.source_url
    assert event.camera.source_url == "rtsp://127.0.0.1"  # scheme and host only


async def test_filter_by_type(platform: Platform) -> None:
    start = await platform.revision()
    a = await platform.new_camera()
    b = await platform.new_camera()
    await platform.cameras.DeleteCamera(
        camera_pb2.DeleteCameraRequest(id=b.id), metadata=platform.admin
    )
    events = await _watch(
        platform,
        platform.admin,
        1,
        after=start,
        filter_text=f'type = CAMERA_DELETED AND subject = "cameras/{a.id}" OR subject = '
        f'"cameras/{b.id}"',
    )
    assert [(e.type, e.subject) for e in events] == [
        (event_pb2.EVENT_TYPE_CAMERA_DELETED, f"cameras/{b.id}")
    ]


@pytest.mark.parametrize("bad", ["name = x", "type = NOPE", "type : CAMERA_CREATED", "a\x00"])
async def test_a_bad_filter_is_invalid_argument(platform: Platform, bad: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _watch(platform, platform.admin, 1, filter_text=bad)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "filter" in (err.value.details() or "")


async def test_watching_needs_credentials_and_cameras_read(platform: Platform) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _watch(platform, (), 1)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    token = await platform.api_token(["users.read"])
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _watch(platform, bearer(token), 1)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_an_idle_watch_gets_bookmarks(make_platform: PlatformFactory) -> None:
    quiet = await make_platform(event_bookmark_interval=timedelta(seconds=0.3))
    start = await quiet.revision()
    stub = event_pb2_grpc.EventServiceStub(quiet.channel)
    call = stub.WatchEvents(
        event_pb2.WatchEventsRequest(after_revision=start), metadata=quiet.admin
    )
    try:
        async with asyncio.timeout(10):
            resp = await call.read()
    finally:
        call.cancel()
    assert resp.event.type == event_pb2.EVENT_TYPE_BOOKMARK
    assert resp.event.revision >= start


async def test_replicas_see_each_others_changes(redis_prefix: str, tmp_path: Path) -> None:
    """Two control planes on one PostgreSQL and Redis: a change through one reaches a watcher
    of the other (the embedded default is one process by design, so this is PostgreSQL only).
    Their own database: replicas on the shared plane's would relay its events to another Redis
    stream and take part in its leader election."""
    with throwaway_postgres() as url:
        await _two_replicas_see_each_others_changes(url, redis_prefix, tmp_path)


async def _two_replicas_see_each_others_changes(
    url: str, redis_prefix: str, tmp_path: Path
) -> None:
    settings = settings_for_tests(
        tmp_path,
        database_url=url,
        redis_url=REDIS_URL,
        redis_prefix=f"{redis_prefix}replicas-watch:",
    )
    one = await start_platform(settings, "postgres")
    two = await start_platform(settings, "postgres")
    try:
        start = await two.revision()
        cam = await one.new_camera()
        (event,) = await _watch(
            two, two.admin, 1, after=start, filter_text=f'subject = "cameras/{cam.id}"'
        )
        assert event.type == event_pb2.EVENT_TYPE_CAMERA_CREATED
    finally:
        await stop_platform(two)
        await stop_platform(one)


async def _locate(platform: Platform, camera_id: str, location: str) -> None:
    await platform.cameras.UpdateCamera(
        camera_pb2.UpdateCameraRequest(
            camera=camera_pb2.Camera(id=camera_id, location=location), update_mask=mask("location")
        ),
        metadata=platform.admin,
    )


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
async def test_a_watch_resumes_across_a_restart(database: str, tmp_path: Path) -> None:
    """Without Redis the event log is in the database: a watcher that was away while the control
    plane restarted resumes from its last revision and gets exactly what it missed."""
    with contextlib.ExitStack() as databases:
        try:
            overrides: dict[str, object] = {}
            if database == "postgres":
                overrides["database_url"] = await asyncio.to_thread(
                    databases.enter_context, throwaway_postgres()
                )
            settings = settings_for_tests(tmp_path, **overrides)
            assert not settings.redis_url  # the embedded event log

            before = await start_platform(settings, database)
            try:
                start = await before.revision()
                cam = await before.new_camera()
                await _locate(before, cam.id, "hall")
                await _locate(before, cam.id, "roof")
                mine = f'subject = "cameras/{cam.id}"'
                # The watcher sees the create and the first update, then goes away.
                seen = await _watch(before, before.admin, 2, after=start, filter_text=mine)
            finally:
                await stop_platform(before)

            after = await start_platform(settings, database)  # same database: a restart
            try:
                await _locate(after, cam.id, "yard")
                rest = await _watch(
                    after, after.admin, 2, after=seen[-1].revision, filter_text=mine
                )
                assert await after.revision() >= rest[-1].revision
            finally:
                await stop_platform(after)
        finally:  # dropping the database blocks: keep it off the event loop
            await asyncio.to_thread(databases.close)

    assert [e.type for e in seen] == [
        event_pb2.EVENT_TYPE_CAMERA_CREATED,
        event_pb2.EVENT_TYPE_CAMERA_UPDATED,
    ]
    # Exactly what it missed: the update from before the restart and the one after, once each.
    assert [(e.type, e.camera.location) for e in rest] == [
        (event_pb2.EVENT_TYPE_CAMERA_UPDATED, "roof"),
        (event_pb2.EVENT_TYPE_CAMERA_UPDATED, "yard"),
    ]
    revisions = [e.revision for e in seen + rest]
    assert revisions == sorted(set(revisions))
