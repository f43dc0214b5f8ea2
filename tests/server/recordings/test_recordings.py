"""RecordingService and the recording side of AgentService.Connect, on both backends: segment
events indexed once (replays, second reports), tiers, deletes through the node (at once, or on
its next Hello), recorder state and gaps, timelines, signed URLs and bad input (test_gaps.py
has the gaps' causes, lost nodes and overlapping nodes). The node here is a test-driven Connect
stream; tests/e2e/test_recording.py has the real one."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import grpc
import pytest
from camfleet.playback import (
    GRANT_PATTERN,
    Grant,
    clip_resource,
    recording_resource,
    verify_playback,
    verify_resource,
    vod_resource,
)
from camfleet.v1 import (
    agent_pb2,
    camera_pb2,
    common_pb2,
    event_pb2,
    node_pb2,
    recording_pb2,
    recording_pb2_grpc,
    stream_pb2,
)
from google.protobuf import duration_pb2, timestamp_pb2

from server.common.secrets_store import load_or_create_secret
from server.db.engine import session_factory
from tests.support.agent_stream import AgentStream, connect, hello, message, report, stream_event
from tests.support.assertions import audit_since, eventually, now_filter, refused
from tests.support.platform import Metadata, Platform, mask
from tests.support.recordings import all_recordings
from tests.support.stack import ts

R = recording_pb2
Code = grpc.StatusCode
# Far enough in the past that nothing else writes there; each test uses its own camera.
BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)


def at(seconds: float) -> datetime:
    return BASE + timedelta(seconds=seconds)


def stub(platform: Platform) -> recording_pb2_grpc.RecordingServiceStub:
    return recording_pb2_grpc.RecordingServiceStub(platform.channel)


def closed(
    camera_id: str, start_s: float, length_s: float = 10.0, recording_id: str = ""
) -> agent_pb2.ConnectRequest:
    """A CLOSED SegmentEvent of a segment [start_s, start_s + length_s) after BASE."""
    return message(
        segment_event=agent_pb2.SegmentEvent(
            type=agent_pb2.SEGMENT_EVENT_TYPE_CLOSED,
            segment=R.Recording(
                id=recording_id or str(uuid.uuid4()),
                camera_id=camera_id,
                start_time=ts(at(start_s)),
                end_time=ts(at(start_s + length_s)),
                duration=duration_pb2.Duration(seconds=int(length_s), nanos=0),
                size_bytes=1_000_000,
                sha256="ab" * 32,
                tier=R.STORAGE_TIER_HOT,
                profile=R.RECORDING_PROFILE_ORIGINAL,
                container="mpegts",
            ),
        )
    )


def segment_change(kind: int, camera_id: str, recording_id: str, **fields: object):  # type: ignore[no-untyped-def]
    return message(
        segment_event=agent_pb2.SegmentEvent(
            type=kind,
            segment=R.Recording(id=recording_id, camera_id=camera_id, **fields),  # type: ignore[arg-type]
        )
    )


def recorder(
    camera_id: str, state: int, text: str = "", gap: tuple[float, float, str] | None = None
) -> agent_pb2.ConnectRequest:
    event = agent_pb2.RecorderEvent(camera_id=camera_id, state=state, message=text)
    if gap is not None:
        event.gap.CopyFrom(
            R.RecordingGap(
                camera_id=camera_id,
                start_time=ts(at(gap[0])),
                end_time=ts(at(gap[1])),
                reason=gap[2],
            )
        )
    return message(recorder_event=event)


async def send_all(stream: AgentStream, *messages: agent_pb2.ConnectRequest) -> None:
    for msg in messages:
        await stream.send(msg)
        await stream.acked(msg)


async def listed(
    platform: Platform, camera_id: str, start_s: float = -60, end_s: float = 3600, size: int = 0
) -> list[R.Recording]:
    return await all_recordings(
        stub(platform),
        R.ListRecordingsRequest(
            camera_id=camera_id,
            start_time=ts(at(start_s)),
            end_time=ts(at(end_s)),
            page_size=size,
        ),
        platform.admin,
    )


async def timeline(
    platform: Platform, camera_id: str, start: datetime, end: datetime
) -> R.GetTimelineResponse:
    return await stub(platform).GetTimeline(
        R.GetTimelineRequest(camera_id=camera_id, start_time=ts(start), end_time=ts(end)),
        metadata=platform.admin,
    )


def seconds(d: duration_pb2.Duration) -> float:
    return d.ToTimedelta().total_seconds()


def offsets(items: object) -> list[tuple[float, float]]:
    return [
        (
            (i.start_time.ToDatetime(UTC) - BASE).total_seconds(),
            (i.end_time.ToDatetime(UTC) - BASE).total_seconds(),
        )  # type: ignore[attr-defined]
        for i in items  # type: ignore[attr-defined]
    ]


async def node_with_camera(
    platform: Platform, **camera_fields: object
) -> tuple[agent_pb2.RegisterNodeResponse, camera_pb2.Camera]:
    return await platform.register_node(), await platform.new_camera(**camera_fields)


# --- ingest ---------------------------------------------------------------------------------


async def test_closed_segments_are_listed_once_whatever_is_replayed(platform: Platform) -> None:
    node, camera = await node_with_camera(platform)
    async with connect(platform.channel, node.credential, hello()) as stream:
        segments = [closed(camera.id, 10 * i) for i in range(3)]
        await send_all(stream, *segments)
        # The same event again (a spool replay), and the same segment under a new event id
        # (a rescan after a restart that did not know it was reported).
        again = agent_pb2.ConnectRequest()
        again.CopyFrom(segments[1])
        rescan = closed(camera.id, 20, recording_id=segments[2].segment_event.segment.id)
        await send_all(stream, again, rescan)
    found = await listed(platform, camera.id)
    assert [r.id for r in found] == [s.segment_event.segment.id for s in segments]
    assert offsets(found) == [(0, 10), (10, 20), (20, 30)]
    first = found[0]
    assert first.node_id == node.node_id and first.camera_id == camera.id
    assert (first.size_bytes, first.sha256, first.container) == (1_000_000, "ab" * 32, "mpegts")
    assert (first.tier, first.profile, seconds(first.duration)) == (
        R.STORAGE_TIER_HOT,
        R.RECORDING_PROFILE_ORIGINAL,
        10.0,
    )
    assert first.HasField("create_time")
    got = await stub(platform).GetRecording(
        R.GetRecordingRequest(id=first.id), metadata=platform.admin
    )
    assert got.recording == first


async def test_recording_added_events_need_recordings_read(platform: Platform) -> None:
    revision = (
        await platform.cameras.ListCameras(
            camera_pb2.ListCamerasRequest(page_size=1), metadata=platform.admin
        )
    ).revision
    node, camera = await node_with_camera(platform)
    async with connect(platform.channel, node.credential, hello()) as stream:
        segment = closed(camera.id, 0)
        await send_all(stream, segment, recorder(camera.id, R.RECORDING_STATE_RECORDING))

    async def seen(metadata: Metadata) -> list[event_pb2.Event]:
        return await platform.events_until(
            metadata,
            revision,
            lambda e: (
                e.type == event_pb2.EVENT_TYPE_RECORDING_STATE_CHANGED and e.camera.id == camera.id
            ),
        )

    viewer = await seen(await platform.as_role(common_pb2.ROLE_VIEWER))
    added = [e for e in viewer if e.type == event_pb2.EVENT_TYPE_RECORDING_ADDED]
    assert [e.recording.id for e in added if e.recording.camera_id == camera.id] == [
        segment.segment_event.segment.id
    ]
    token = await platform.api_token(["cameras.read"])
    blind = await seen((("authorization", f"Bearer {token}"),))
    assert not [e for e in blind if e.WhichOneof("resource") == "recording"]
    states = [e for e in blind if e.type == event_pb2.EVENT_TYPE_RECORDING_STATE_CHANGED]
    assert states[-1].camera.recording_state == R.RECORDING_STATE_RECORDING


async def test_moved_and_deleted_segments(platform: Platform) -> None:
    node, camera = await node_with_camera(platform)
    async with connect(platform.channel, node.credential, hello()) as stream:
        a, b = closed(camera.id, 0), closed(camera.id, 10)
        await send_all(stream, a, b)
        a_id, b_id = a.segment_event.segment.id, b.segment_event.segment.id
        await send_all(
            stream,
            segment_change(
                agent_pb2.SEGMENT_EVENT_TYPE_MOVED, camera.id, a_id, tier=R.STORAGE_TIER_WARM
            ),
            segment_change(agent_pb2.SEGMENT_EVENT_TYPE_DELETED, camera.id, b_id),
        )
    found = await listed(platform, camera.id)
    assert [(r.id, r.tier) for r in found] == [(a_id, R.STORAGE_TIER_WARM)]


async def test_unusable_events_are_acknowledged_and_dropped(platform: Platform) -> None:
    node, camera = await node_with_camera(platform)
    async with connect(platform.channel, node.credential, hello()) as stream:
        bad_id = closed(camera.id, 0, recording_id="not-a-uuid")
        backwards = closed(camera.id, 0)
        backwards.segment_event.segment.end_time.CopyFrom(ts(at(-5)))
        no_state = recorder(camera.id, R.RECORDING_STATE_UNSPECIFIED)
        await send_all(stream, bad_id, backwards, no_state)
        good = closed(camera.id, 20)
        await send_all(stream, good)  # the stream still works
    assert [r.id for r in await listed(platform, camera.id)] == [good.segment_event.segment.id]


# --- deletes --------------------------------------------------------------------------------


async def test_delete_reaches_a_connected_node_and_an_offline_one_on_hello(
    platform: Platform,
) -> None:
    node, camera = await node_with_camera(platform)
    a, b = closed(camera.id, 0), closed(camera.id, 10)
    a_id, b_id = a.segment_event.segment.id, b.segment_event.segment.id
    since = now_filter()
    async with connect(platform.channel, node.credential, hello()) as stream:
        await send_all(stream, a, b)
        await stub(platform).DeleteRecording(
            R.DeleteRecordingRequest(id=a_id), metadata=platform.admin
        )
        told = await stream.receive_kind("delete_segments")
        assert list(told.delete_segments.recording_ids) == [a_id]
        # The node confirms; a late CLOSED report of the same segment does not bring it back.
        await send_all(
            stream,
            segment_change(agent_pb2.SEGMENT_EVENT_TYPE_DELETED, camera.id, a_id),
            closed(camera.id, 0, recording_id=a_id),
        )
    assert [r.id for r in await listed(platform, camera.id)] == [b_id]
    await refused(
        stub(platform).GetRecording(R.GetRecordingRequest(id=a_id), metadata=platform.admin),
        Code.NOT_FOUND,
    )
    # The node is away: the index forgets at once, the node hears it when it says Hello.
    await stub(platform).DeleteRecording(R.DeleteRecordingRequest(id=b_id), metadata=platform.admin)
    assert await listed(platform, camera.id) == []
    async with connect(platform.channel, node.credential, hello()) as stream:
        told = await stream.receive_kind("delete_segments")
        assert list(told.delete_segments.recording_ids) == [b_id]
    rows = await audit_since(platform, since, "recording.delete")
    assert {r.target for r in rows} == {f"recordings/{a_id}", f"recordings/{b_id}"}
    assert all(r.details["camera_id"] == camera.id for r in rows)
    viewer = await platform.as_role(common_pb2.ROLE_VIEWER)
    await refused(
        stub(platform).DeleteRecording(R.DeleteRecordingRequest(id=b_id), metadata=viewer),
        Code.PERMISSION_DENIED,
    )
    await refused(
        stub(platform).DeleteRecording(R.DeleteRecordingRequest(id=b_id), metadata=platform.admin),
        Code.NOT_FOUND,
    )


# --- recorder state, gaps and the timeline ---------------------------------------------------


async def test_recorder_state_and_reason_reach_the_camera(platform: Platform) -> None:
    node, camera = await node_with_camera(platform)
    assert camera.recording_state == R.RECORDING_STATE_IDLE
    async with connect(platform.channel, node.credential, hello()) as stream:
        await send_all(stream, recorder(camera.id, R.RECORDING_STATE_RECORDING))
        got = await platform.cameras.GetCamera(
            camera_pb2.GetCameraRequest(id=camera.id), metadata=platform.admin
        )
        assert got.camera.recording_state == R.RECORDING_STATE_RECORDING
        await send_all(
            stream, recorder(camera.id, R.RECORDING_STATE_ERROR, "recorder crash loop: exit 1")
        )
    got = await platform.cameras.GetCamera(
        camera_pb2.GetCameraRequest(id=camera.id), metadata=platform.admin
    )
    assert got.camera.recording_state == R.RECORDING_STATE_ERROR
    assert got.camera.recording_state_reason == "recorder crash loop: exit 1"


async def test_timeline_spans_gaps_and_coverage(platform: Platform) -> None:
    node, camera = await node_with_camera(platform)
    async with connect(platform.channel, node.credential, hello()) as stream:
        await send_all(
            stream,
            closed(camera.id, 0),
            closed(camera.id, 10.004),  # rounding between segments is no gap
            # The recorder died at 20 and was back at 25 (it says so); 25..30 nobody explains.
            recorder(
                camera.id,
                R.RECORDING_STATE_RECORDING,
                "restarted",
                (20, 25, "recorder exited (signal 9)"),
            ),
            closed(camera.id, 30),
            closed(camera.id, 40),
        )
        # The camera stopped publishing at 51 and came back at 60: not a gap.
        unpublish = stream_event(stream_pb2.STREAM_EVENT_TYPE_UNPUBLISH, camera.id)
        unpublish.time.CopyFrom(ts(at(51)))
        await send_all(stream, unpublish, closed(camera.id, 60, 5))
    line = await timeline(platform, camera.id, at(-10), at(100))
    assert offsets(line.spans) == [(0, 20.004), (30, 50), (60, 65)]
    assert offsets(line.gaps) == [(20.004, 25), (25, 30)]
    assert [g.reason for g in line.gaps] == ["recorder exited (signal 9)", "unknown"]
    assert seconds(line.recorded) == pytest.approx(45.004)
    assert seconds(line.expected) == pytest.approx(55)
    assert line.coverage == pytest.approx(45.004 / 55)
    # Clipped to the range asked for.
    part = await timeline(platform, camera.id, at(5), at(32))
    assert offsets(part.spans) == [(5, 20.004), (30, 32)]
    assert seconds(part.expected) == pytest.approx(27)
    # Nothing recorded, nothing expected: coverage 1.
    empty = await timeline(platform, camera.id, at(1000), at(2000))
    assert (list(empty.spans), list(empty.gaps), empty.coverage) == ([], [], 1.0)


# --- reads and bad input --------------------------------------------------------------------


async def test_paging_and_ranges(platform: Platform) -> None:
    node, camera = await node_with_camera(platform)
    async with connect(platform.channel, node.credential, hello()) as stream:
        # Sub-millisecond start times, as real segments have: pages neither repeat nor skip.
        sent = [closed(camera.id, 10 * i + 0.000_7) for i in range(5)]
        await send_all(stream, *sent)
    ids = [s.segment_event.segment.id for s in sent]
    assert [r.id for r in await listed(platform, camera.id, size=2)] == ids
    # Overlap, not containment: [15, 25) touches segments 1 and 2.
    assert [r.id for r in await listed(platform, camera.id, 15, 25)] == ids[1:3]
    # A year is fine for a list (paged).
    year = await stub(platform).ListRecordings(
        R.ListRecordingsRequest(
            camera_id=camera.id, start_time=ts(at(-365 * 86400)), end_time=ts(at(3600)), page_size=3
        ),
        metadata=platform.admin,
    )
    assert [r.id for r in year.recordings] == ids[:3] and year.next_page_token
    # The default range is the last 24 hours, which holds these segments.
    default = await stub(platform).ListRecordings(
        R.ListRecordingsRequest(camera_id=camera.id), metadata=platform.admin
    )
    assert [r.id for r in default.recordings] == ids
    # Paged through the default range: "now" moves between calls, the query does not.
    paged = await all_recordings(
        stub(platform), R.ListRecordingsRequest(camera_id=camera.id, page_size=2), platform.admin
    )
    assert [r.id for r in paged] == ids
    err = await refused(
        stub(platform).ListRecordings(
            R.ListRecordingsRequest(
                camera_id=camera.id, start_time=ts(at(-3600)), page_token=year.next_page_token
            ),
            metadata=platform.admin,
        ),
        Code.INVALID_ARGUMENT,
    )
    assert "page_token" in err.fields


@pytest.mark.parametrize(
    ("rpc", "start_s", "end_s", "says"),
    [
        ("ListRecordings", 100, 50, "must be after start_time"),
        ("GetTimeline", 0, 32 * 86400, "at most 31.0 days"),
        ("GetTimeline", 10, 10, "must be after start_time"),
        ("ExportClip", 0, 3600 + 1, "a clip may be at most 3600 seconds long"),
        ("ExportClip", 10, 5, "must be after start_time"),
        ("GetPlaybackUrl", 0, 25 * 3600, "at most 25.0 hours"),
    ],
)
async def test_bad_ranges_are_invalid_argument(
    platform: Platform, rpc: str, start_s: float, end_s: float, says: str
) -> None:
    camera = await platform.new_camera()
    request_type = getattr(R, f"{rpc}Request")
    request = request_type(camera_id=camera.id, start_time=ts(at(start_s)), end_time=ts(at(end_s)))
    err = await refused(
        getattr(stub(platform), rpc)(request, metadata=platform.admin), Code.INVALID_ARGUMENT
    )
    assert "end_time" in err.fields
    if "25.0 hours" in says:
        says = "at most 24.0 hours"
    assert says in err.message


async def test_an_end_in_the_year_1_without_a_start_is_invalid_argument(platform: Platform) -> None:
    """The day before the earliest Timestamp does not exist (it once answered INTERNAL)."""
    camera = await platform.new_camera()
    request = R.ListRecordingsRequest(
        camera_id=camera.id, end_time=timestamp_pb2.Timestamp(seconds=-62135596800)
    )
    err = await refused(
        stub(platform).ListRecordings(request, metadata=platform.admin), Code.INVALID_ARGUMENT
    )
    assert "end_time" in err.fields and "must be after start_time" in err.message


async def test_unknown_and_malformed_ids(platform: Platform) -> None:
    missing = str(uuid.uuid4())
    s = stub(platform)
    meta = platform.admin
    for call in (
        s.GetRecording(R.GetRecordingRequest(id=missing), metadata=meta),
        s.GetDownloadUrl(R.GetDownloadUrlRequest(id=missing), metadata=meta),
        s.ListRecordings(R.ListRecordingsRequest(camera_id=missing), metadata=meta),
        s.GetTimeline(
            R.GetTimelineRequest(camera_id=missing, start_time=ts(at(0)), end_time=ts(at(9))),
            metadata=meta,
        ),
        s.ExportClip(
            R.ExportClipRequest(camera_id=missing, start_time=ts(at(0)), end_time=ts(at(9))),
            metadata=meta,
        ),
    ):
        err = await refused(call, Code.NOT_FOUND)
        assert missing in err.message
    err = await refused(
        s.GetRecording(R.GetRecordingRequest(id="../etc"), metadata=meta), Code.INVALID_ARGUMENT
    )
    assert "id" in err.fields
    err = await refused(
        s.GetTimeline(R.GetTimelineRequest(camera_id=missing), metadata=meta), Code.INVALID_ARGUMENT
    )
    assert "start_time" in err.fields


async def test_signed_urls_name_resources_at_the_node(platform: Platform) -> None:
    node, camera = await node_with_camera(platform)
    secret = await load_or_create_secret(session_factory(platform.plane.engine), "playback")
    async with connect(platform.channel, node.credential, hello()) as stream:
        await stream.receive_kind("welcome")
        a, b = closed(camera.id, 0), closed(camera.id, 10)
        await send_all(stream, a, b, closed(camera.id, 30))
        s, meta = stub(platform), platform.admin
        now = time.time()

        download = await s.GetDownloadUrl(
            R.GetDownloadUrlRequest(id=a.segment_event.segment.id), metadata=meta
        )
        url = urlsplit(download.url)
        assert download.url.startswith("http://127.0.0.1:18080/recordings/")  # the node's URL
        m = re.fullmatch(
            rf"/recordings/([0-9a-f-]{{36}})/({GRANT_PATTERN})/(\d+)/([\w-]+)/[\w.-]+\.ts",
            url.path,
        )
        assert m and m[1] == a.segment_event.segment.id and not url.query, download.url
        grant = Grant.decode(m[2])
        assert grant is not None
        expires, sig = int(m[3]), m[4]
        assert download.expire_time.seconds == expires > now
        assert verify_resource(secret, recording_resource(m[1]), expires, sig, now, grant=grant)
        # A download signature opens neither live HLS nor another recording.
        assert not verify_playback(secret, camera.id, expires, sig, now, grant=grant)
        assert not verify_resource(
            secret, recording_resource(b.segment_event.segment.id), expires, sig, now, grant=grant
        )

        clip = await s.ExportClip(
            R.ExportClipRequest(camera_id=camera.id, start_time=ts(at(-5)), end_time=ts(at(15))),
            metadata=meta,
        )
        # Clipped to what was recorded.
        assert offsets([clip]) == [(0, 15)]
        m = re.fullmatch(
            rf"/exports/([0-9a-f-]{{36}})/(\d+)-(\d+)/({GRANT_PATTERN})/(\d+)/([\w-]+)/clip\.mp4",
            urlsplit(clip.url).path,
        )
        assert m and m[1] == camera.id, clip.url
        start_ms, end_ms = int(m[2]), int(m[3])
        assert (start_ms, end_ms) == (int(at(0).timestamp() * 1000), int(at(15).timestamp() * 1000))
        assert verify_resource(
            secret,
            clip_resource(camera.id, start_ms, end_ms),
            int(m[5]),
            m[6],
            now,
            grant=Grant.decode(m[4]) or grant,
        )

        vod = await s.GetPlaybackUrl(
            R.GetPlaybackUrlRequest(camera_id=camera.id, start_time=ts(at(0)), end_time=ts(at(40))),
            metadata=meta,
        )
        m = re.fullmatch(
            rf"/vod/([0-9a-f-]{{36}})/(\d+)-(\d+)/({GRANT_PATTERN})/(\d+)/([\w-]+)/index\.m3u8",
            urlsplit(vod.url).path,
        )
        assert m and m[1] == camera.id, vod.url
        assert verify_resource(
            secret,
            vod_resource(camera.id, int(m[2]), int(m[3])),
            int(m[5]),
            m[6],
            now,
            grant=Grant.decode(m[4]) or grant,
        )

        # 20..30 has no recording: the clip keeps it as time and lists it as a hole.
        holed = await s.ExportClip(
            R.ExportClipRequest(camera_id=camera.id, start_time=ts(at(5)), end_time=ts(at(35))),
            metadata=meta,
        )
        assert offsets([holed]) == [(5, 35)]
        assert offsets(holed.holes) == [(20, 30)]
        assert "/spread/" not in holed.url  # one node: a plain clip
        err = await refused(
            s.ExportClip(
                R.ExportClipRequest(
                    camera_id=camera.id, start_time=ts(at(100)), end_time=ts(at(110))
                ),
                metadata=meta,
            ),
            Code.NOT_FOUND,
        )
        assert "no recordings" in err.message
    # The node went away: no URL that cannot work.
    await eventually(
        lambda: platform.nodes.GetNode(node_pb2.GetNodeRequest(id=node.node_id), metadata=meta),
        lambda r: r.node.state != node_pb2.NODE_STATE_READY,
        10,
    )
    err = await refused(
        s.GetDownloadUrl(R.GetDownloadUrlRequest(id=a.segment_event.segment.id), metadata=meta),
        Code.FAILED_PRECONDITION,
    )
    assert "try again" in err.message


# --- camera recording settings --------------------------------------------------------------


async def test_camera_recording_settings_reach_the_assignment(platform: Platform) -> None:
    node = await platform.register_node()
    camera = await platform.new_camera(
        recording_enabled=True,
        recording_profile=R.RECORDING_PROFILE_HIGH,
        retention_max_age=duration_pb2.Duration(seconds=86400),
        retention_max_bytes=5 << 30,
    )
    assert (
        camera.recording_profile,
        camera.retention_max_age.seconds,
        camera.retention_max_bytes,
    ) == (
        R.RECORDING_PROFILE_HIGH,
        86400,
        5 << 30,
    )
    default = await platform.new_camera()
    assert default.recording_profile == R.RECORDING_PROFILE_ORIGINAL
    async with connect(platform.channel, node.credential, hello(report(camera.id))) as stream:
        first = await stream.receive_kind("assignment")
        (assigned,) = [c for c in first.assignment.cameras if c.camera_id == camera.id]
        assert (assigned.record, assigned.record_profile) == (True, R.RECORDING_PROFILE_HIGH)
        assert (assigned.retention_max_age.seconds, assigned.retention_max_bytes) == (
            86400,
            5 << 30,
        )
        changed = camera_pb2.Camera(
            id=camera.id, recording_profile=R.RECORDING_PROFILE_LOW, retention_max_bytes=1 << 20
        )
        updated = await platform.cameras.UpdateCamera(
            camera_pb2.UpdateCameraRequest(
                camera=changed, update_mask=mask("recording_profile", "retention_max_bytes")
            ),
            metadata=platform.admin,
        )
        assert updated.camera.retention_max_age.seconds == 86400  # not in the mask: kept
        pushed = await stream.receive_kind("assignment")
        (assigned,) = [c for c in pushed.assignment.cameras if c.camera_id == camera.id]
        assert (assigned.record_profile, assigned.retention_max_bytes) == (
            R.RECORDING_PROFILE_LOW,
            1 << 20,
        )
    listed_cams = await platform.cameras.ListCameras(
        camera_pb2.ListCamerasRequest(filter=f'recording_profile = LOW AND name = "{camera.name}"'),
        metadata=platform.admin,
    )
    assert [c.id for c in listed_cams.cameras] == [camera.id]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"retention_max_bytes": -1}, "camera.retention_max_bytes"),
        ({"retention_max_age": duration_pb2.Duration(seconds=-5)}, "camera.retention_max_age"),
        ({"recording_profile": 99}, "camera.recording_profile"),
    ],
)
async def test_bad_recording_settings_are_refused(
    platform: Platform, fields: dict[str, object], field: str
) -> None:
    err = await refused(
        platform.cameras.CreateCamera(
            camera_pb2.CreateCameraRequest(
                camera=camera_pb2.Camera(name=f"cam-{uuid.uuid4().hex[:8]}", **fields)  # type: ignore[arg-type]
            ),
            metadata=platform.admin,
        ),
        Code.INVALID_ARGUMENT,
    )
    assert field in err.fields
    camera = await platform.new_camera()
    err = await refused(
        platform.cameras.UpdateCamera(
            camera_pb2.UpdateCameraRequest(
                camera=camera_pb2.Camera(id=camera.id, **fields),  # type: ignore[arg-type]
                update_mask=mask(field.removeprefix("camera.")),
            ),
            metadata=platform.admin,
        ),
        Code.INVALID_ARGUMENT,
    )
    assert field in err.fields


async def test_ranges_at_the_edges_of_time_are_answered(platform: Platform) -> None:
    """Timestamps may name the year 1 or 9999: empty answers, not server errors."""
    camera = await platform.new_camera()
    first = timestamp_pb2.Timestamp(seconds=-62_135_596_800)  # 0001-01-01
    last = timestamp_pb2.Timestamp(seconds=253_402_300_799)  # 9999-12-31T23:59:59
    s, meta = stub(platform), platform.admin
    resp = await s.ListRecordings(
        R.ListRecordingsRequest(camera_id=camera.id, start_time=first, end_time=last), metadata=meta
    )
    assert list(resp.recordings) == []
    line = await s.GetTimeline(
        R.GetTimelineRequest(
            camera_id=camera.id,
            start_time=first,
            end_time=timestamp_pb2.Timestamp(seconds=first.seconds + 86_400),
        ),
        metadata=meta,
    )
    assert (list(line.spans), line.coverage) == ([], 1.0)
    await refused(
        s.ExportClip(
            R.ExportClipRequest(
                camera_id=camera.id,
                start_time=timestamp_pb2.Timestamp(seconds=last.seconds - 60),
                end_time=last,
            ),
            metadata=meta,
        ),
        Code.NOT_FOUND,
    )
