"""The RecordingService as tests read it, on any running control plane (Platform or Stack), and
the recording reports a test-driven node sends it."""

from __future__ import annotations

import uuid
from datetime import datetime

from camfleet.v1 import agent_pb2, recording_pb2, recording_pb2_grpc
from google.protobuf import duration_pb2, timestamp_pb2

from tests.support.agent_stream import AgentStream, message
from tests.support.platform import Metadata


async def all_recordings(
    stub: recording_pb2_grpc.RecordingServiceStub,
    request: recording_pb2.ListRecordingsRequest,
    metadata: Metadata,
) -> list[recording_pb2.Recording]:
    """Every recording `request` lists, page after page (its page_token is filled in here)."""
    out: list[recording_pb2.Recording] = []
    page = recording_pb2.ListRecordingsRequest()
    page.CopyFrom(request)
    while True:
        resp = await stub.ListRecordings(page, metadata=metadata)
        out += resp.recordings
        page.page_token = resp.next_page_token
        if not page.page_token:
            return out


def timestamp(at: datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(at)
    return out


def segment_closed(
    camera_id: str, start: datetime, end: datetime, recording_id: str = ""
) -> agent_pb2.ConnectRequest:
    """A node's CLOSED SegmentEvent of a segment [start, end)."""
    length = (end - start).total_seconds()
    return message(
        segment_event=agent_pb2.SegmentEvent(
            type=agent_pb2.SEGMENT_EVENT_TYPE_CLOSED,
            segment=recording_pb2.Recording(
                id=recording_id or str(uuid.uuid4()),
                camera_id=camera_id,
                start_time=timestamp(start),
                end_time=timestamp(end),
                duration=duration_pb2.Duration(seconds=int(length), nanos=round(length % 1 * 1e9)),
                size_bytes=1_000_000,
                sha256="ab" * 32,
                tier=recording_pb2.STORAGE_TIER_HOT,
                profile=recording_pb2.RECORDING_PROFILE_ORIGINAL,
                container="mpegts",
            ),
        )
    )


def recorder_changed(
    camera_id: str,
    state: recording_pb2.RecordingState.ValueType,
    text: str = "",
    gap: tuple[datetime, datetime, str] | None = None,
    at: datetime | None = None,
) -> agent_pb2.ConnectRequest:
    """A node's RecorderEvent (with the gap a crash left, `at` the time on the node)."""
    event = agent_pb2.RecorderEvent(camera_id=camera_id, state=state, message=text)
    if gap is not None:
        event.gap.CopyFrom(
            recording_pb2.RecordingGap(
                camera_id=camera_id,
                start_time=timestamp(gap[0]),
                end_time=timestamp(gap[1]),
                reason=gap[2],
            )
        )
    msg = message(recorder_event=event)
    if at is not None:
        msg.time.CopyFrom(timestamp(at))
    return msg


async def send_acked(stream: AgentStream, *messages: agent_pb2.ConnectRequest) -> None:
    """Send each message and wait for the control plane to acknowledge it."""
    for msg in messages:
        await stream.send(msg)
        await stream.acked(msg)
