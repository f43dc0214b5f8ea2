"""Segment and recorder events at the edge: a node's messages become the recordings domain's
reports as sent (server.recordings.convert), and the ingest says why it cannot use one before it
touches the database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from camfleet.v1 import agent_pb2, recording_pb2
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.ext.asyncio import async_sessionmaker

from server.db.engine import create_engine
from server.recordings.convert import recorder_report_from_proto, segment_report_from_proto
from server.recordings.ingest import RecordingIngest, UnusableEvent
from server.recordings.reports import BadTime, SegmentChange

CAMERA, SEGMENT = str(uuid.uuid4()), str(uuid.uuid4())
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def stamp(seconds: int, nanos: int = 0) -> Timestamp:
    return Timestamp(seconds=seconds, nanos=nanos)


def closed(**fields: object) -> agent_pb2.SegmentEvent:
    segment = {
        "id": SEGMENT,
        "camera_id": CAMERA,
        "start_time": stamp(int(T0.timestamp())),
        "end_time": stamp(int(T0.timestamp()) + 4),
        **fields,
    }
    return agent_pb2.SegmentEvent(
        type=agent_pb2.SEGMENT_EVENT_TYPE_CLOSED,
        segment=recording_pb2.Recording(**segment),  # type: ignore[arg-type]
    )


def test_a_closed_event_as_sent() -> None:
    report = segment_report_from_proto(
        closed(
            duration=Duration(seconds=4, nanos=250_000_999),
            size_bytes=123,
            tier=recording_pb2.STORAGE_TIER_WARM,
            profile=recording_pb2.RECORDING_PROFILE_LOW,
            container="mpegts",
            recovered=True,
        )
    )
    assert report.change is SegmentChange.CLOSED
    segment = report.segment
    assert (segment.id, segment.camera_id) == (SEGMENT, CAMERA)
    assert segment.start == T0
    assert (segment.tier, segment.profile, segment.container) == ("warm", "low", "mpegts")
    assert (segment.size_bytes, segment.recovered) == (123, True)


@pytest.mark.parametrize(
    ("seconds", "nanos"), [(4, 250_000_999), (0, 999), (-3, -500_000_001), (86_400 * 3, 1)]
)
def test_durations_count_whole_microseconds_as_before(seconds: int, nanos: int) -> None:
    duration = Duration(seconds=seconds, nanos=nanos)
    report = segment_report_from_proto(closed(duration=duration))
    assert report.segment.duration_s == duration.ToTimedelta().total_seconds()


def test_unset_and_unknown_values_say_so() -> None:
    unset = segment_report_from_proto(
        agent_pb2.SegmentEvent(
            type=9,  # type: ignore[arg-type]
            segment=recording_pb2.Recording(
                end_time=stamp(2**62),
                tier=7,  # type: ignore[arg-type]
            ),
        )
    )
    assert unset.change == 9
    assert (unset.segment.start, unset.segment.end) == (BadTime.MISSING, BadTime.INVALID)
    assert (unset.segment.tier, unset.segment.profile, unset.segment.container) == (None, None, "")


def test_a_recorder_event_with_and_without_its_gap() -> None:
    plain = recorder_report_from_proto(
        agent_pb2.RecorderEvent(
            camera_id=CAMERA, state=recording_pb2.RECORDING_STATE_ERROR, message="crash loop"
        )
    )
    assert (plain.state, plain.message, plain.gap) == ("error", "crash loop", None)
    gap = recording_pb2.RecordingGap(start_time=stamp(100), reason="disk full")
    with_gap = recorder_report_from_proto(agent_pb2.RecorderEvent(camera_id=CAMERA, gap=gap))
    assert with_gap.state is None
    assert with_gap.gap is not None
    assert with_gap.gap.start == datetime.fromtimestamp(100, UTC)
    assert (with_gap.gap.end, with_gap.gap.reason) == (BadTime.MISSING, "disk full")


@pytest.fixture
async def ingest(tmp_path: Path) -> AsyncIterator[RecordingIngest]:
    # A real database, which an unusable event must never reach (no tables: any query fails).
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    try:
        yield RecordingIngest(async_sessionmaker(engine), publisher=None)  # type: ignore[arg-type]
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("event", "why"),
    [
        (closed(id="x"), "segment id and camera_id must be UUIDs"),
        (closed(start_time=stamp(0)), "start_time is missing"),
        (closed(end_time=stamp(2**62)), "end_time is not a valid time"),
        (closed(end_time=stamp(int(T0.timestamp()) - 1)), "are not a segment"),
        (closed(container="avi"), "unknown container 'avi'"),
        (
            agent_pb2.SegmentEvent(
                type=agent_pb2.SEGMENT_EVENT_TYPE_MOVED, segment=recording_pb2.Recording(id="x")
            ),
            "segment id must be a UUID",
        ),
        (agent_pb2.SegmentEvent(type=9), "unknown segment event type 9"),  # type: ignore[arg-type]
    ],
)
async def test_unusable_segment_events_say_why(
    ingest: RecordingIngest, event: agent_pb2.SegmentEvent, why: str
) -> None:
    with pytest.raises(UnusableEvent, match=why):
        await ingest.segment_event("node", "event-1", segment_report_from_proto(event), T0)


async def test_an_unusable_recorder_event_says_why(ingest: RecordingIngest) -> None:
    event = agent_pb2.RecorderEvent(camera_id=CAMERA)  # no state
    with pytest.raises(UnusableEvent, match="a recorder event needs a camera UUID and a state"):
        await ingest.recorder_event("node", "event-2", recorder_report_from_proto(event), T0)
