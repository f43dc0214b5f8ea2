"""Recordings between stored values and protos: tiers, profiles, recorder states, rows, and
the segment and recorder events nodes send (as server.recordings.reports)."""

from __future__ import annotations

from datetime import UTC

from camfleet.v1 import agent_pb2, recording_pb2
from google.protobuf import duration_pb2, timestamp_pb2

from server.common.wire import timestamp
from server.db.models import RecordingRow
from server.recordings.causes import GapCause
from server.recordings.reports import (
    BadTime,
    RecorderReport,
    ReportedGap,
    ReportedSegment,
    SegmentChange,
    SegmentReport,
    SentTime,
)
from server.recordings.timeline import Gap

TIERS = {
    "hot": recording_pb2.STORAGE_TIER_HOT,
    "warm": recording_pb2.STORAGE_TIER_WARM,
    "cold": recording_pb2.STORAGE_TIER_COLD,
}
TIER_NAMES = {v: k for k, v in TIERS.items()}
PROFILES = {
    "original": recording_pb2.RECORDING_PROFILE_ORIGINAL,
    "low": recording_pb2.RECORDING_PROFILE_LOW,
    "medium": recording_pb2.RECORDING_PROFILE_MEDIUM,
    "high": recording_pb2.RECORDING_PROFILE_HIGH,
    "ultra": recording_pb2.RECORDING_PROFILE_ULTRA,
}
PROFILE_NAMES = {v: k for k, v in PROFILES.items()}
STATES = {
    "idle": recording_pb2.RECORDING_STATE_IDLE,
    "recording": recording_pb2.RECORDING_STATE_RECORDING,
    "error": recording_pb2.RECORDING_STATE_ERROR,
}
STATE_NAMES = {v: k for k, v in STATES.items()}
GAP_CAUSES = {
    GapCause.NODE_LOST: recording_pb2.GAP_CAUSE_NODE_LOST,
    GapCause.SOURCE_ERROR: recording_pb2.GAP_CAUSE_SOURCE_ERROR,
    GapCause.RECORDER_CRASH: recording_pb2.GAP_CAUSE_RECORDER_CRASH,
    GapCause.DISK_FULL: recording_pb2.GAP_CAUSE_DISK_FULL,
    GapCause.CAMERA_STOPPED: recording_pb2.GAP_CAUSE_CAMERA_STOPPED,
    GapCause.UNKNOWN: recording_pb2.GAP_CAUSE_UNKNOWN,
}
_SEGMENT_CHANGES = {
    agent_pb2.SEGMENT_EVENT_TYPE_CLOSED: SegmentChange.CLOSED,
    agent_pb2.SEGMENT_EVENT_TYPE_MOVED: SegmentChange.MOVED,
    agent_pb2.SEGMENT_EVENT_TYPE_DELETED: SegmentChange.DELETED,
    agent_pb2.SEGMENT_EVENT_TYPE_MOVES_BLOCKED: SegmentChange.MOVES_BLOCKED,
    agent_pb2.SEGMENT_EVENT_TYPE_MOVES_RESUMED: SegmentChange.MOVES_RESUMED,
}


def seconds_duration(seconds: float) -> duration_pb2.Duration:
    """A Duration of `seconds` (rounded to microseconds)."""
    micros = round(seconds * 1_000_000)
    return duration_pb2.Duration(seconds=micros // 1_000_000, nanos=(micros % 1_000_000) * 1000)


def recording_to_proto(row: RecordingRow) -> recording_pb2.Recording:
    """API view of one segment."""
    return recording_pb2.Recording(
        id=row.id,
        camera_id=row.camera_id,
        node_id=row.node_id,
        start_time=timestamp(row.start_time),
        end_time=timestamp(row.end_time),
        duration=seconds_duration(row.duration_s),
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        tier=TIERS.get(row.tier, recording_pb2.STORAGE_TIER_UNSPECIFIED),
        profile=PROFILES.get(row.profile, recording_pb2.RECORDING_PROFILE_UNSPECIFIED),
        container=row.container,
        recovered=row.recovered,
        create_time=timestamp(row.create_time),
        epoch=row.epoch,
        object_bucket=row.object_bucket or "",
        object_key=row.object_key or "",
    )


def gap_to_proto(camera_id: str, gap: Gap) -> recording_pb2.RecordingGap:
    """API view of one gap of a timeline (clipped to the range asked for)."""
    return recording_pb2.RecordingGap(
        camera_id=camera_id,
        start_time=timestamp(gap.start),
        end_time=timestamp(gap.end),
        reason=gap.reason,
        cause=GAP_CAUSES[gap.cause],
        node_ids=list(gap.node_ids),
    )


def _sent_time(stamp: timestamp_pb2.Timestamp) -> SentTime:
    """A node's time; unset (the zero Timestamp) or out of range says so instead."""
    if stamp.seconds == 0 and stamp.nanos == 0:
        return BadTime.MISSING
    try:
        return stamp.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        return BadTime.INVALID


def _duration_s(duration: duration_pb2.Duration) -> float:
    # Whole microseconds (as Duration.ToTimedelta counts them), without timedelta's range.
    return (duration.seconds * 1_000_000 + int(duration.nanos / 1000)) / 1_000_000


def segment_report_from_proto(event: agent_pb2.SegmentEvent) -> SegmentReport:
    """A node's SegmentEvent as sent (server.recordings.ingest checks it)."""
    segment = event.segment
    return SegmentReport(
        change=_SEGMENT_CHANGES.get(event.type, int(event.type)),
        segment=ReportedSegment(
            id=segment.id,
            camera_id=segment.camera_id,
            start=_sent_time(segment.start_time),
            end=_sent_time(segment.end_time),
            duration_s=_duration_s(segment.duration),
            size_bytes=segment.size_bytes,
            sha256=segment.sha256,
            tier=TIER_NAMES.get(segment.tier),
            profile=PROFILE_NAMES.get(segment.profile),
            container=segment.container,
            recovered=segment.recovered,
            epoch=segment.epoch,
            object_bucket=segment.object_bucket,
            object_key=segment.object_key,
        ),
        reason=event.reason,
    )


def recorder_report_from_proto(event: agent_pb2.RecorderEvent) -> RecorderReport:
    """A node's RecorderEvent as sent (server.recordings.ingest checks it)."""
    gap = None
    if event.HasField("gap"):
        gap = ReportedGap(
            _sent_time(event.gap.start_time), _sent_time(event.gap.end_time), event.gap.reason
        )
    return RecorderReport(
        camera_id=event.camera_id,
        state=STATE_NAMES.get(event.state),
        message=event.message,
        gap=gap,
    )
