"""Recording gaps as GetTimeline shows them, on both backends, from what test-driven nodes send
over AgentService.Connect (the real ingest path): each gap with its cause and the nodes
involved, overlapping segments of two nodes counted once, a lost node's gap opened at its last
heartbeat and closed where another node resumed (not by what the lost node recorded while cut
off), which stops are gaps (recording expected) and which are not, and a stale node's recorder
that speaks for the camera no more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from camfleet.v1 import (
    agent_pb2,
    camera_pb2,
    node_pb2,
    recording_pb2,
    recording_pb2_grpc,
    stream_pb2,
)
from sqlalchemy import select

from server.db.engine import session_factory
from server.db.models import RecordingGapRow
from tests.conftest import PlatformFactory
from tests.support.agent_stream import (
    beating,
    connect,
    hello,
    report,
    stream_event,
)
from tests.support.assertions import eventually
from tests.support.platform import Platform, mask
from tests.support.recordings import (
    all_recordings,
    recorder_changed,
    segment_closed,
    send_acked,
    timestamp,
)

R = recording_pb2
C = R.GapCause
# Far enough in the past that nothing else writes there; each test uses its own camera.
BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def at(seconds: float) -> datetime:
    return BASE + timedelta(seconds=seconds)


def segment(camera_id: str, start_s: float, end_s: float) -> agent_pb2.ConnectRequest:
    return segment_closed(camera_id, at(start_s), at(end_s))


def stopped(kind: int, camera_id: str, when: datetime, text: str = "") -> agent_pb2.ConnectRequest:
    """A stream event (UNPUBLISH, ERROR) that happened on the node at `when`."""
    msg = stream_event(kind, camera_id, message=text)
    msg.time.CopyFrom(timestamp(when))
    return msg


async def timeline(
    platform: Platform, camera_id: str, start: datetime, end: datetime
) -> R.GetTimelineResponse:
    return await recording_pb2_grpc.RecordingServiceStub(platform.channel).GetTimeline(
        R.GetTimelineRequest(
            camera_id=camera_id, start_time=timestamp(start), end_time=timestamp(end)
        ),
        metadata=platform.admin,
    )


def shown(
    line: R.GetTimelineResponse, origin: datetime = BASE
) -> list[tuple[float, float, int, str, list[str]]]:
    """Each gap as (start, end) seconds after `origin`, cause, reason and node ids."""
    return [
        (
            round((g.start_time.ToDatetime(UTC) - origin).total_seconds(), 3),
            round((g.end_time.ToDatetime(UTC) - origin).total_seconds(), 3),
            g.cause,
            g.reason,
            list(g.node_ids),
        )
        for g in line.gaps
    ]


def spans(line: R.GetTimelineResponse, origin: datetime = BASE) -> list[tuple[float, float]]:
    return [
        (
            round((s.start_time.ToDatetime(UTC) - origin).total_seconds(), 3),
            round((s.end_time.ToDatetime(UTC) - origin).total_seconds(), 3),
        )
        for s in line.spans
    ]


def seconds(d: object) -> float:
    return d.ToTimedelta().total_seconds()  # type: ignore[attr-defined]


async def test_overlapping_segments_of_two_nodes_count_once(platform: Platform) -> None:
    a, b = await platform.register_node(), await platform.register_node()
    camera = await platform.new_camera(recording_enabled=True)
    # Both nodes recorded 5..20 (a partitioned node's spool beside its successor's segments).
    async with connect(platform.channel, a.credential, hello()) as stream:
        await send_acked(stream, segment(camera.id, 0, 10), segment(camera.id, 10, 20))
    async with connect(platform.channel, b.credential, hello()) as stream:
        await send_acked(stream, segment(camera.id, 5, 15), segment(camera.id, 15, 25))
    async with connect(platform.channel, a.credential, hello()) as stream:
        await send_acked(stream, segment(camera.id, 40, 50))
    line = await timeline(platform, camera.id, at(0), at(50))
    assert spans(line) == [(0, 25), (40, 50)]
    # The hole nobody explains: B stopped, A resumed.
    assert shown(line) == [(25, 40, C.GAP_CAUSE_UNKNOWN, "unknown", [b.node_id, a.node_id])]
    assert seconds(line.recorded) == pytest.approx(35)
    assert seconds(line.expected) == pytest.approx(50)
    assert line.coverage == pytest.approx(0.7)
    # The index keeps every node's segment: only the timeline counts time once.
    listed = await all_recordings(
        recording_pb2_grpc.RecordingServiceStub(platform.channel),
        R.ListRecordingsRequest(
            camera_id=camera.id, start_time=timestamp(at(0)), end_time=timestamp(at(60))
        ),
        platform.admin,
    )
    assert sorted(r.node_id for r in listed) == sorted([a.node_id] * 3 + [b.node_id] * 2)


async def test_every_cause_a_push_node_reports_reaches_the_timeline(platform: Platform) -> None:
    node = await platform.register_node()
    camera = await platform.new_camera(recording_enabled=True)
    async with connect(platform.channel, node.credential, hello(report(camera.id))) as stream:
        await send_acked(
            stream,
            segment(camera.id, 0, 10),
            # The recorder died at 10 and was back at 14, as the node says.
            recorder_changed(
                camera.id,
                R.RECORDING_STATE_RECORDING,
                "recorder restarted (4.00s lost)",
                (at(10), at(14), "recorder exited (signal 9)"),
            ),
            segment(camera.id, 14, 24),
            # A crash of a full disk.
            recorder_changed(
                camera.id,
                R.RECORDING_STATE_RECORDING,
                "recorder restarted (2.00s lost)",
                (at(24), at(26), "recorder exited with code 1: No space left on device"),
            ),
            segment(camera.id, 26, 30),
            # The node ran out of room at 30; recording resumed at 40.
            recorder_changed(
                camera.id,
                R.RECORDING_STATE_ERROR,
                "disk full: less than 1000 bytes free and no segment left to delete",
                at=at(30),
            ),
            segment(camera.id, 40, 50),
            # The camera stopped publishing at 50 and came back at 60.
            stopped(stream_pb2.STREAM_EVENT_TYPE_UNPUBLISH, camera.id, at(50)),
            segment(camera.id, 60, 70),
            # 70..75: nobody said why.
            segment(camera.id, 75, 80),
        )
    line = await timeline(platform, camera.id, at(0), at(80))
    n = [node.node_id]
    assert shown(line) == [
        (10, 14, C.GAP_CAUSE_RECORDER_CRASH, "recorder exited (signal 9)", n),
        (24, 26, C.GAP_CAUSE_DISK_FULL, "recorder exited with code 1: No space left on device", n),
        (
            30,
            40,
            C.GAP_CAUSE_DISK_FULL,
            "disk full: less than 1000 bytes free and no segment left to delete",
            n,
        ),
        (50, 60, C.GAP_CAUSE_CAMERA_STOPPED, "the camera stopped publishing", n),
        (70, 75, C.GAP_CAUSE_UNKNOWN, "unknown", n),
    ]
    assert seconds(line.recorded) == pytest.approx(80 - 4 - 2 - 10 - 10 - 5)
    assert seconds(line.expected) == pytest.approx(80)


async def test_overlapping_gaps_show_each_instant_once_under_the_most_specific_cause(
    platform: Platform,
) -> None:
    node = await platform.register_node()
    camera = await platform.new_camera(recording_enabled=True)
    async with connect(platform.channel, node.credential, hello(report(camera.id))) as stream:
        await send_acked(
            stream,
            segment(camera.id, 0, 10),
            stopped(stream_pb2.STREAM_EVENT_TYPE_UNPUBLISH, camera.id, at(10)),
            # The node also says its recorder lost 10..14 (the camera stopped meanwhile).
            recorder_changed(
                camera.id,
                R.RECORDING_STATE_IDLE,
                "the stream ended",
                (at(10), at(14), "recorder exited (signal 9)"),
            ),
            segment(camera.id, 20, 30),
        )
    line = await timeline(platform, camera.id, at(0), at(30))
    n = [node.node_id]
    assert shown(line) == [
        (10, 14, C.GAP_CAUSE_RECORDER_CRASH, "recorder exited (signal 9)", n),
        (14, 20, C.GAP_CAUSE_CAMERA_STOPPED, "the camera stopped publishing", n),
    ]
    assert seconds(line.expected) == pytest.approx(30)


async def test_a_stopped_camera_is_a_gap_only_while_recording_is_expected(
    platform: Platform,
) -> None:
    a, b = await platform.register_node(), await platform.register_node()
    off = await platform.new_camera()  # recording off
    on = await platform.new_camera(recording_enabled=True)
    async with connect(platform.channel, a.credential, hello(report(off.id))) as stream:
        await send_acked(
            stream,
            stopped(stream_pb2.STREAM_EVENT_TYPE_UNPUBLISH, off.id, at(10)),
        )
    # Recording off: a stop is no gap, and its time is not expected.
    line = await timeline(platform, off.id, at(0), at(100))
    assert (list(line.gaps), seconds(line.expected), line.coverage) == ([], 0.0, 1.0)

    # The camera publishes on B now: A's late UNPUBLISH (it had the camera before) is old news.
    async with connect(platform.channel, b.credential, hello(report(on.id))) as stream:
        await send_acked(stream, segment(on.id, 0, 10))
    async with connect(platform.channel, a.credential, hello()) as stream:
        await send_acked(stream, stopped(stream_pb2.STREAM_EVENT_TYPE_UNPUBLISH, on.id, at(10)))
    assert list((await timeline(platform, on.id, at(0), at(100))).gaps) == []
    # B says it stopped: a gap while it lasts (open: up to now).
    async with connect(platform.channel, b.credential, hello()) as stream:
        await send_acked(stream, stopped(stream_pb2.STREAM_EVENT_TYPE_UNPUBLISH, on.id, at(10)))
    now = datetime.now(UTC)
    line = await timeline(platform, on.id, at(0), now + timedelta(hours=1))
    ((start, end, cause, reason, nodes),) = shown(line)
    assert (start, cause, reason, nodes) == (
        10,
        C.GAP_CAUSE_CAMERA_STOPPED,
        "the camera stopped publishing",
        [b.node_id],
    )
    assert end >= (now - BASE).total_seconds() - 1
    # The operator switches recording off: the gap ends then, and so does the expected time.
    changed = await platform.cameras.UpdateCamera(
        camera_pb2.UpdateCameraRequest(
            camera=camera_pb2.Camera(id=on.id, recording_enabled=False),
            update_mask=mask("recording_enabled"),
        ),
        metadata=platform.admin,
    )
    switched_off = changed.camera.update_time.ToDatetime(UTC)
    line = await timeline(platform, on.id, at(0), switched_off + timedelta(hours=1))
    ((_, end, *_),) = shown(line)
    assert end == round((switched_off - BASE).total_seconds(), 3)
    assert seconds(line.expected) == pytest.approx(end)
    # On again (the camera still silent): the time it was off stays out of the gap.
    await platform.cameras.StartRecording(
        camera_pb2.StartRecordingRequest(id=on.id), metadata=platform.admin
    )
    again = await timeline(platform, on.id, at(0), datetime.now(UTC) + timedelta(hours=1))
    assert shown(again) == shown(line)
    # It stops again, recording on; then the operator deactivates it: that gap ends there too.
    later = datetime.now(UTC)
    async with connect(platform.channel, b.credential, hello()) as stream:
        await send_acked(stream, stopped(stream_pb2.STREAM_EVENT_TYPE_UNPUBLISH, on.id, later))
    deactivated = await platform.cameras.DeactivateCamera(
        camera_pb2.DeactivateCameraRequest(id=on.id), metadata=platform.admin
    )
    gone = deactivated.camera.update_time.ToDatetime(UTC)
    line = await timeline(platform, on.id, at(0), gone + timedelta(hours=1))
    assert shown(line)[0] == shown(again)[0]
    assert shown(line)[1:] == [
        (
            round((later - BASE).total_seconds(), 3),
            round((gone - BASE).total_seconds(), 3),
            C.GAP_CAUSE_CAMERA_STOPPED,
            "the camera stopped publishing",
            [b.node_id],
        )
    ]


async def test_a_pull_cameras_source_error_is_a_gap_until_recording_resumes(
    make_platform: PlatformFactory,
) -> None:
    # A control plane of its own: wherever placement puts the pull camera, it is on this node.
    plane = await make_platform()
    node = await plane.register_node()
    camera = await plane.new_camera(
        recording_enabled=True,
        ingest_mode=camera_pb2.INGEST_MODE_PULL,
        source_url="rtsp://127.0.0.1:8554/lobby",
    )
    async with connect(plane.channel, node.credential, hello()) as stream:
        await send_acked(
            stream,
            segment(camera.id, 0, 10),
            # The puller's order: nginx's UNPUBLISH, then the ERROR with its reason.
            stopped(stream_pb2.STREAM_EVENT_TYPE_UNPUBLISH, camera.id, at(10)),
            stopped(
                stream_pb2.STREAM_EVENT_TYPE_ERROR, camera.id, at(10.5), "authentication failed"
            ),
            segment(camera.id, 20, 30),
            # A refusal to run a stale placement is the node's fencing, not the source failing.
            stopped(
                stream_pb2.STREAM_EVENT_TYPE_ERROR,
                camera.id,
                at(30),
                "stale placement epoch 3 < 4: not run on this node",
            ),
        )
    line = await timeline(plane, camera.id, at(0), at(40))
    # From where the media stopped (the UNPUBLISH), not from the ERROR half a second later.
    assert shown(line) == [
        (10, 20, C.GAP_CAUSE_SOURCE_ERROR, "authentication failed", [node.node_id])
    ]
    assert seconds(line.expected) == pytest.approx(30)


async def test_a_lost_nodes_gap_names_both_nodes_and_its_spool_fills_it(
    make_platform: PlatformFactory,
) -> None:
    fast = await make_platform(node_lost_after=timedelta(seconds=3))
    a, b = await fast.register_node(), await fast.register_node()
    camera = await fast.new_camera(recording_enabled=True)
    t0 = datetime.now(UTC) - timedelta(seconds=20)
    async with connect(fast.channel, a.credential, hello(report(camera.id))) as stream:
        async with beating(stream):
            await send_acked(
                stream,
                recorder_changed(camera.id, R.RECORDING_STATE_RECORDING, "recording"),
                segment_closed(camera.id, t0, t0 + timedelta(seconds=10)),
            )

        async def state() -> int:
            got = await fast.nodes.GetNode(
                node_pb2.GetNodeRequest(id=a.node_id), metadata=fast.admin
            )
            return got.node.state

        # No heartbeats: A is lost.
        assert await eventually(state, lambda s: s == node_pb2.NODE_STATE_LOST, 15) == (
            node_pb2.NODE_STATE_LOST
        )
    await lost_gap(fast, camera.id)  # opened just after the node is marked LOST
    far = datetime.now(UTC) + timedelta(minutes=5)
    line = await timeline(fast, camera.id, t0, far)
    ((start, _, cause, reason, nodes),) = shown(line, t0)
    assert (cause, reason, nodes) == (C.GAP_CAUSE_NODE_LOST, "node lost", [a.node_id])
    # It begins where A's last segment ended (10 s after t0), before A's last heartbeat: after
    # it, A was writing the segment the loss took.
    assert start == 10
    lost = datetime.now(UTC)  # A has been declared lost by now

    # B takes the camera over: its first segment begins 0.2 s after that.
    b_start, b_end = lost + timedelta(seconds=0.2), lost + timedelta(seconds=1.2)
    async with connect(fast.channel, b.credential, hello()) as stream, beating(stream):
        await send_acked(stream, segment_closed(camera.id, b_start, b_end))
    line = await timeline(fast, camera.id, t0, b_end)
    gaps = shown(line, t0)
    assert [(g[2], g[4]) for g in gaps] == [(C.GAP_CAUSE_NODE_LOST, [a.node_id, b.node_id])]
    assert gaps[0][0] == 10
    assert gaps[0][1] == pytest.approx((b_start - t0).total_seconds(), abs=2e-3)

    # A comes back with what it recorded while cut off (up to 0.8 s after the loss, overlapping
    # B's segment): nothing was lost after all, and the overlap counts once.
    async with connect(fast.channel, a.credential, hello()) as stream, beating(stream):
        await send_acked(
            stream,
            segment_closed(camera.id, t0 + timedelta(seconds=10), lost + timedelta(seconds=0.8)),
        )
    line = await timeline(fast, camera.id, t0, b_end)
    assert list(line.gaps) == []
    total = (b_end - t0).total_seconds()
    assert spans(line, t0) == [(0, round(total, 3))]
    assert seconds(line.recorded) == pytest.approx(total, abs=1e-3)
    assert line.coverage == pytest.approx(1.0)


async def test_gaps_stored_before_causes_read_with_the_cause_their_reason_names(
    platform: Platform,
) -> None:
    node = await platform.register_node()
    camera = await platform.new_camera(recording_enabled=True)
    # Rows as migration 0006 left them: cause "unknown", the reason saying what happened.
    async with session_factory(platform.plane.engine).begin() as session:
        for start, end, reason in ((10, 20, "node lost"), (30, 40, "recorder exited (signal 9)")):
            session.add(
                RecordingGapRow(
                    camera_id=camera.id,
                    node_id=node.node_id,
                    start_time=at(start),
                    end_time=at(end),
                    reason=reason,
                    cause="unknown",
                )
            )
    line = await timeline(platform, camera.id, at(0), at(50))
    assert [(g[2], g[3]) for g in shown(line)] == [
        (C.GAP_CAUSE_NODE_LOST, "node lost"),
        (C.GAP_CAUSE_RECORDER_CRASH, "recorder exited (signal 9)"),
    ]


async def node_lost_gaps(plane: Platform, camera_id: str) -> list[RecordingGapRow]:
    """The camera's stored node-lost gaps, oldest first."""
    async with session_factory(plane.plane.engine)() as session:
        return list(
            await session.scalars(
                select(RecordingGapRow)
                .where(RecordingGapRow.camera_id == camera_id, RecordingGapRow.cause == "node_lost")
                .order_by(RecordingGapRow.start_time)
            )
        )


async def lost_gap(plane: Platform, camera_id: str) -> RecordingGapRow:
    """The camera's node-lost gap, once the sweep (which marks the node LOST first, then opens
    the gaps of its cameras) has opened it."""
    (gap,) = await eventually(lambda: node_lost_gaps(plane, camera_id), lambda g: len(g) == 1, 15)
    return gap


async def node_state(plane: Platform, node_id: str) -> int:
    got = await plane.nodes.GetNode(node_pb2.GetNodeRequest(id=node_id), metadata=plane.admin)
    return got.node.state


async def test_a_lost_nodes_late_spool_is_recorded_time_that_resumes_nothing(
    make_platform: PlatformFactory,
) -> None:
    fast = await make_platform(node_lost_after=timedelta(seconds=3))
    a, b = await fast.register_node(), await fast.register_node()
    camera = await fast.new_camera(recording_enabled=True)
    t0 = datetime.now(UTC) - timedelta(seconds=20)
    async with connect(fast.channel, a.credential, hello(report(camera.id))) as stream:
        async with beating(stream):
            await send_acked(
                stream,
                recorder_changed(camera.id, R.RECORDING_STATE_RECORDING, "recording"),
                segment_closed(camera.id, t0, t0 + timedelta(seconds=10)),
            )
        assert await eventually(
            lambda: node_state(fast, a.node_id), lambda s: s == node_pb2.NODE_STATE_LOST, 15
        ) == (node_pb2.NODE_STATE_LOST)
    gap = await lost_gap(fast, camera.id)
    lost = gap.start_time  # A's last heartbeat

    def after(s: float) -> datetime:
        return lost + timedelta(seconds=s)

    # A is back with its spool: the segment it was recording when it was cut off, and the one it
    # began 0.2 s after its last heartbeat, still cut off (it was declared lost after more than
    # 3 s of silence: all of this is in the past).
    async with connect(fast.channel, a.credential, hello()) as stream, beating(stream):
        await send_acked(
            stream,
            segment_closed(camera.id, t0 + timedelta(seconds=10), after(0.2)),
            segment_closed(camera.id, after(0.2), after(0.6)),
        )
    (gap,) = await node_lost_gaps(fast, camera.id)
    # Recorded time, but no resumption: the camera was lost to the fleet; the gap stays open.
    assert (gap.node_id, gap.end_time, gap.to_node_id) == (a.node_id, None, "")
    far = datetime.now(UTC) + timedelta(minutes=5)
    line = await timeline(fast, camera.id, t0, far)
    spooled = round((after(0.6) - t0).total_seconds(), 3)
    assert spans(line, t0) == [(0, spooled)]
    ((start, _, cause, reason, nodes),) = shown(line, t0)
    assert (start, cause, reason, nodes) == (
        spooled,
        C.GAP_CAUSE_NODE_LOST,
        "node lost",
        [a.node_id],
    )

    # B takes the camera over 2.5 s after the loss: the gap ends there, naming B.
    async with connect(fast.channel, b.credential, hello()) as stream, beating(stream):
        await send_acked(stream, segment_closed(camera.id, after(2.5), after(3.0)))
    (gap,) = await node_lost_gaps(fast, camera.id)
    assert (gap.end_time, gap.to_node_id) == (after(2.5), b.node_id)
    line = await timeline(fast, camera.id, t0, after(3.0))
    resumed, end = (round((after(s) - t0).total_seconds(), 3) for s in (2.5, 3.0))
    # Recorded time (A's spool), then the node-lost gap up to B's first segment.
    assert spans(line, t0) == [(0, spooled), (resumed, end)]
    assert shown(line, t0) == [
        (spooled, resumed, C.GAP_CAUSE_NODE_LOST, "node lost", [a.node_id, b.node_id])
    ]
    assert seconds(line.expected) == pytest.approx(end, abs=1e-3)
    assert seconds(line.recorded) == pytest.approx(end - (resumed - spooled), abs=1e-3)


async def test_a_lost_node_resumes_its_gap_with_a_segment_begun_after_it_is_back(
    make_platform: PlatformFactory,
) -> None:
    fast = await make_platform(node_lost_after=timedelta(seconds=3))
    a = await fast.register_node()
    camera = await fast.new_camera(recording_enabled=True)
    t0 = datetime.now(UTC) - timedelta(seconds=20)
    async with connect(fast.channel, a.credential, hello(report(camera.id))) as stream:
        async with beating(stream):
            await send_acked(
                stream,
                recorder_changed(camera.id, R.RECORDING_STATE_RECORDING, "recording"),
                segment_closed(camera.id, t0, t0 + timedelta(seconds=10)),
            )
        assert await eventually(
            lambda: node_state(fast, a.node_id), lambda s: s == node_pb2.NODE_STATE_LOST, 15
        ) == (node_pb2.NODE_STATE_LOST)
    gap = await lost_gap(fast, camera.id)
    lost = gap.start_time
    async with connect(fast.channel, a.credential, hello()) as stream, beating(stream):
        # What it recorded while cut off first (acknowledged: its Hello made it READY before).
        await send_acked(
            stream,
            segment_closed(camera.id, lost + timedelta(seconds=0.5), lost + timedelta(seconds=1)),
        )
        assert (await node_lost_gaps(fast, camera.id))[0].end_time is None
        # Then a segment it began after it was back: recording resumed, on A.
        back = datetime.now(UTC)
        await send_acked(stream, segment_closed(camera.id, back, back + timedelta(seconds=1)))
    (gap,) = await node_lost_gaps(fast, camera.id)
    assert (gap.end_time, gap.to_node_id) == (back, a.node_id)


async def test_a_returning_nodes_stale_recorder_idle_neither_stops_the_camera_nor_hides_a_hole(
    make_platform: PlatformFactory,
) -> None:
    fast = await make_platform(node_lost_after=timedelta(seconds=3))
    a, b = await fast.register_node(), await fast.register_node()
    camera = await fast.new_camera(recording_enabled=True)
    t0 = datetime.now(UTC) - timedelta(seconds=120)

    def t(s: float) -> datetime:
        return t0 + timedelta(seconds=s)

    # A had the camera first.
    async with connect(fast.channel, a.credential, hello(report(camera.id))) as stream:
        await send_acked(
            stream,
            recorder_changed(camera.id, R.RECORDING_STATE_RECORDING, "recording", at=t(0)),
            segment_closed(camera.id, t(0), t(10)),
        )
    # It publishes to B now (its home moves there), which records it, with a hole at 20..30.
    async with connect(fast.channel, b.credential, hello()) as b_stream:
        async with beating(b_stream):
            await send_acked(
                b_stream,
                stream_event(stream_pb2.STREAM_EVENT_TYPE_PUBLISH, camera.id),
                recorder_changed(camera.id, R.RECORDING_STATE_RECORDING, "recording", at=t(10)),
                segment_closed(camera.id, t(10), t(20)),
                segment_closed(camera.id, t(30), t(40)),
                # B's own recorder went idle at 40 and recorded again from 50: on purpose.
                recorder_changed(camera.id, R.RECORDING_STATE_IDLE, "the stream ended", at=t(40)),
                recorder_changed(camera.id, R.RECORDING_STATE_RECORDING, "recording", at=t(50)),
                segment_closed(camera.id, t(50), t(60)),
            )
            # A, back from a partition, stops its stale copy: "idle" just before B's hole.
            async with (
                connect(fast.channel, a.credential, hello()) as a_stream,
                beating(a_stream),
            ):
                await send_acked(
                    a_stream,
                    recorder_changed(
                        camera.id, R.RECORDING_STATE_IDLE, "the stream ended", at=t(19.5)
                    ),
                )
            got = await fast.cameras.GetCamera(
                camera_pb2.GetCameraRequest(id=camera.id), metadata=fast.admin
            )
            assert got.camera.node_id == b.node_id
            assert got.camera.recording_state == R.RECORDING_STATE_RECORDING
            line = await timeline(fast, camera.id, t(0), t(60))
            # The hole on B stays a hole (A's word is not the camera stopping); B's own idle
            # explains 40..50, which is not expected time.
            assert shown(line, t0) == [(20, 30, C.GAP_CAUSE_UNKNOWN, "unknown", [b.node_id])]
            assert seconds(line.expected) == pytest.approx(50)
            assert seconds(line.recorded) == pytest.approx(40)
        # B goes silent: the sweep still counts its camera as recording.
        assert await eventually(
            lambda: node_state(fast, b.node_id), lambda s: s == node_pb2.NODE_STATE_LOST, 15
        ) == (node_pb2.NODE_STATE_LOST)
    gap = await lost_gap(fast, camera.id)
    assert (gap.node_id, gap.end_time) == (b.node_id, None)


async def test_a_node_lost_before_its_recorder_wrote_leaves_a_gap_for_its_online_camera(
    make_platform: PlatformFactory,
) -> None:
    # A push camera ONLINE on A whose recorder has not written its first segment (it says
    # "recording" with it) when A goes silent: the camera is lost to the fleet all the same.
    fast = await make_platform(node_lost_after=timedelta(seconds=3))
    a, b = await fast.register_node(), await fast.register_node()
    camera = await fast.new_camera(recording_enabled=True)
    async with connect(fast.channel, a.credential, hello(report(camera.id))) as stream:
        async with beating(stream):

            async def seen() -> camera_pb2.Camera:
                got = await fast.cameras.GetCamera(
                    camera_pb2.GetCameraRequest(id=camera.id), metadata=fast.admin
                )
                return got.camera

            got = await eventually(
                seen, lambda c: c.status == camera_pb2.CAMERA_STATUS_ONLINE and bool(c.node_id), 15
            )
            assert (got.node_id, got.recording_state) == (a.node_id, R.RECORDING_STATE_IDLE)
        assert await eventually(
            lambda: node_state(fast, a.node_id), lambda s: s == node_pb2.NODE_STATE_LOST, 15
        ) == (node_pb2.NODE_STATE_LOST)
    gap = await lost_gap(fast, camera.id)
    assert (gap.node_id, gap.end_time) == (a.node_id, None)

    # It publishes to B, which records it: the gap ends at B's first segment, naming B.
    resumed = datetime.now(UTC)
    async with connect(fast.channel, b.credential, hello()) as stream, beating(stream):
        await send_acked(stream, segment_closed(camera.id, resumed, resumed + timedelta(seconds=1)))
    (gap,) = await node_lost_gaps(fast, camera.id)
    assert (gap.end_time, gap.to_node_id) == (resumed, b.node_id)
