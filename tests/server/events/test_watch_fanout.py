"""WatchEvents' shared fan-out: watchers of different permission classes and filters, attached
to one follower or reading on their own, each get exactly their events; a slow watcher is
detached and reads on from the log where it was."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from camfleet.v1 import camera_pb2, common_pb2, event_pb2, event_pb2_grpc

from server.config import sqlite_url
from server.db.engine import create_engine
from server.db.migrate import upgrade_to_head
from server.eventlog.sql_log import SqlEventLog
from server.events.delivery import Kind, Preparer, View
from server.events.fanout import Fanout
from tests.conftest import PlatformFactory
from tests.support.platform import Metadata, Platform, mask

UPDATES = 6
BOOKMARK = event_pb2.EVENT_TYPE_BOOKMARK


async def _watch_until(
    platform: Platform, metadata: Metadata, after: int, filter_text: str, last: str
) -> list[event_pb2.Event]:
    """Every non-bookmark event after `after` up to the camera update that sets location
    `last` (fails after 20 s)."""
    call = event_pb2_grpc.EventServiceStub(platform.channel).WatchEvents(
        event_pb2.WatchEventsRequest(after_revision=after, filter=filter_text), metadata=metadata
    )
    out: list[event_pb2.Event] = []
    try:
        async with asyncio.timeout(20):
            async for resp in call:
                if resp.event.type == event_pb2.EVENT_TYPE_BOOKMARK:
                    continue
                out.append(resp.event)
                if resp.event.camera.location == last:
                    return out
    finally:
        call.cancel()
    return out


async def test_watchers_of_each_kind_get_their_own_events_once(platform: Platform) -> None:
    viewer = await platform.as_role(common_pb2.ROLE_VIEWER)
    before = await platform.revision()
    key_cam = await platform.new_camera()  # push: its stream key is a secret
    other = await platform.new_camera()
    start = await platform.revision()
    mine = f'subject = "cameras/{key_cam.id}"'
    last = f"done-{key_cam.id}"
    # Three watchers of each kind from the list's revision (the shared follower), and one of
    # each from before the cameras existed (behind it: they read alone, then attach).
    kinds = {
        "admin": (platform.admin, ""),
        "viewer": (viewer, ""),
        "admin, mine": (platform.admin, mine),
        "viewer, mine": (viewer, mine),
    }
    watchers = {
        (name, i): asyncio.create_task(_watch_until(platform, md, start, text, last))
        for name, (md, text) in kinds.items()
        for i in range(3)
    }
    await asyncio.sleep(0.5)  # most of them attached; the rest catch up, as any watcher may
    expected = [(cam.id, f"{cam.id}-{n}") for n in range(UPDATES) for cam in (key_cam, other)] + [
        (key_cam.id, last)
    ]  # the last one ends every watch
    for camera_id, location in expected:
        await platform.cameras.UpdateCamera(
            camera_pb2.UpdateCameraRequest(
                camera=camera_pb2.Camera(id=camera_id, location=location),
                update_mask=mask("location"),
            ),
            metadata=platform.admin,
        )
    late = {
        (name, "late"): asyncio.create_task(_watch_until(platform, md, before, text, last))
        for name, (md, text) in kinds.items()
    }
    seen = {key: await task for key, task in {**watchers, **late}.items()}

    for (name, which), events in seen.items():
        revisions = [e.revision for e in events]
        assert revisions == sorted(set(revisions)), (name, which)  # in order, each once
        updates = [
            (e.subject.removeprefix("cameras/"), e.camera.location)
            for e in events
            if e.type == event_pb2.EVENT_TYPE_CAMERA_UPDATED and e.revision > start
        ]
        if "mine" in name:
            assert {e.subject for e in events} == {f"cameras/{key_cam.id}"}, (name, which)
            assert updates == [u for u in expected if u[0] == key_cam.id], (name, which)
        else:
            assert updates == expected, (name, which)
        for e in events:
            if e.subject != f"cameras/{key_cam.id}" or not e.HasField("camera"):
                continue
            if name.startswith("viewer"):
                assert e.camera.stream_key == "", (name, which)
            else:
                assert e.camera.stream_key == key_cam.stream_key != "", (name, which)
    # The watchers of one kind that started together saw the very same events.
    for name in kinds:
        firsts = {tuple(e.SerializeToString() for e in seen[(name, i)]) for i in range(3)}
        assert len(firsts) == 1, name
    # Viewers get what admins got at the same time, less what they may not read (nodes,
    # alerts, settings and storage tier changes).
    hidden_types = {
        event_pb2.EVENT_TYPE_SETTINGS_CHANGED,
        event_pb2.EVENT_TYPE_STORAGE_TIER_CHANGED,
    }
    for which in (0, 1, 2, "late"):
        shown = [
            e.revision
            for e in seen[("admin", which)]
            if e.WhichOneof("resource") not in {"node", "alert"} and e.type not in hidden_types
        ]
        assert [e.revision for e in seen[("viewer", which)]] == shown, which


def _payload(subject: str) -> bytes:
    return event_pb2.Event(
        type=event_pb2.EVENT_TYPE_CAMERA_UPDATED, subject=subject
    ).SerializeToString()


async def test_a_slow_watcher_is_detached_and_reads_on_from_where_it_was(tmp_path: Path) -> None:
    engine = create_engine(sqlite_url(tmp_path))
    await upgrade_to_head(engine)
    log = SqlEventLog(engine)
    await log.start()
    try:
        everyone = View(frozenset(), frozenset(), show_secrets=True, may_edit=True)
        kind = Kind(everyone, "", lambda facts: True)
        fanout = Fanout(log, Preparer(), limit=3)
        start = await log.current_revision()
        sub = fanout.attach(kind, start)
        assert sub is not None
        revisions = [
            await log.append("test", f"cameras/c{i}", _payload(f"cameras/c{i}")) for i in range(5)
        ]
        for _ in range(1000):  # never read from, it falls behind (10 s at most)
            if sub.resume_after is not None:
                break
            await asyncio.sleep(0.01)
        # Handed the first three; detached at the third, the rest is read from the log.
        assert [revision for revision, _ in sub.pending] == revisions[:3]
        assert sub.resume_after == revisions[2]
        handed = [event_pb2.WatchEventsResponse.FromString(data).event for _, data in sub.pending]
        assert [(e.revision, e.subject) for e in handed] == [
            (r, f"cameras/c{i}") for i, r in enumerate(revisions[:3])
        ]
        rest = []
        async with asyncio.timeout(10):
            async for stored in log.watch(sub.resume_after):
                rest.append(stored.revision)
                if len(rest) == 2:
                    break
        assert rest == revisions[3:]
        # Its last watcher gone, the follower stopped: the next one may start it anywhere.
        assert fanout.can_attach(start)
    finally:
        await log.close()
        await engine.dispose()


async def test_an_idle_watcher_on_the_shared_follower_gets_bookmarks(
    make_platform: PlatformFactory,
) -> None:
    quiet = await make_platform(event_bookmark_interval=timedelta(seconds=0.3))
    start = await quiet.revision()
    call = event_pb2_grpc.EventServiceStub(quiet.channel).WatchEvents(
        event_pb2.WatchEventsRequest(after_revision=start), metadata=quiet.admin
    )
    try:
        async with asyncio.timeout(20):
            cam = await quiet.new_camera()
            responses = []
            async for resp in call:  # its first event attaches it; then it idles
                responses.append(resp.event)
                kinds = [e.type for e in responses]
                created_at = (
                    kinds.index(event_pb2.EVENT_TYPE_CAMERA_CREATED)
                    if event_pb2.EVENT_TYPE_CAMERA_CREATED in kinds
                    else None
                )
                # Two bookmarks after the event (a loaded machine may send one before it).
                if created_at is not None and kinds[created_at:].count(BOOKMARK) >= 2:
                    break
    finally:
        call.cancel()
    created = next(e for e in responses if e.type == event_pb2.EVENT_TYPE_CAMERA_CREATED)
    assert created.camera.id == cam.id
    after = responses[responses.index(created) + 1 :]
    assert [e.type for e in after][-2:] == [BOOKMARK, BOOKMARK]
    assert all(e.revision >= created.revision for e in after)
