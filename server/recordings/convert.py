"""Recordings between stored values and protos: tiers, profiles, recorder states, rows."""

from __future__ import annotations

from camfleet.v1 import recording_pb2
from google.protobuf import duration_pb2

from server.db.models import RecordingGapRow, RecordingRow
from server.transport.convert import timestamp

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
CONTAINERS = frozenset({"mpegts", "mp4"})


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
    )


def gap_to_proto(row: RecordingGapRow) -> recording_pb2.RecordingGap:
    """API view of one stored gap (as stored, not clipped)."""
    return recording_pb2.RecordingGap(
        camera_id=row.camera_id,
        start_time=timestamp(row.start_time),
        end_time=timestamp(row.end_time),
        reason=row.reason,
    )
