"""The recording's wire edge: segment and recorder events for the control plane (SegmentEvent,
RecorderEvent) built from the domain's Segment and RecorderState, and spooled like stream
events so each is delivered exactly once even across restarts of either side."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from camfleet.v1 import agent_pb2, recording_pb2
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from node_agent.convert import profile_to_proto
from node_agent.outbox import Outbox, stamped
from node_agent.recording.index import Segment
from node_agent.recording.spec import Gap, RecorderState
from node_agent.recording.tiers import StorageTier

log = logging.getLogger(__name__)

# Event ids of segment events derive from the segment id and the change, so re-spooling one
# after a crash (index written, spool not yet) gives the same id, which the control plane
# stores only once.
_NAMESPACE = uuid.UUID("5b0c7c55-2b8e-4c3e-9a43-0f2f3d6e7a11")


_TIERS = {
    StorageTier.HOT: recording_pb2.STORAGE_TIER_HOT,
    StorageTier.WARM: recording_pb2.STORAGE_TIER_WARM,
    StorageTier.COLD: recording_pb2.STORAGE_TIER_COLD,
}
_RECORDING_STATES = {
    RecorderState.RECORDING: recording_pb2.RECORDING_STATE_RECORDING,
    RecorderState.IDLE: recording_pb2.RECORDING_STATE_IDLE,
    RecorderState.ERROR: recording_pb2.RECORDING_STATE_ERROR,
}


def segment_event_id(segment_id: str, change: str) -> str:
    """The event id of `change` ("closed", "deleted", "moved:2") to `segment_id`."""
    return uuid.uuid5(_NAMESPACE, f"{segment_id}/{change}").hex


def timestamp(moment: datetime) -> Timestamp:
    """`moment` as a protobuf Timestamp."""
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def recording(segment: Segment) -> recording_pb2.Recording:
    """What a CLOSED event says about `segment`."""
    duration = Duration()
    duration.FromNanoseconds(round(segment.duration_s * 1e9))
    return recording_pb2.Recording(
        id=segment.id,
        camera_id=segment.camera_id,
        start_time=timestamp(segment.start),
        end_time=timestamp(segment.end),
        duration=duration,
        size_bytes=segment.size_bytes,
        sha256=segment.sha256,
        tier=_TIERS[segment.tier],
        profile=profile_to_proto(segment.profile),
        container=segment.container,
        recovered=segment.recovered,
        epoch=segment.epoch,
    )


async def spool(outbox: Outbox, request: agent_pb2.ConnectRequest, event_id: str = "") -> str:
    """Stamp `request` (with `event_id` when given) and spool it for sending; its event id."""
    stamped(request)
    if event_id:
        request.event_id = event_id
    await outbox.spool.put(request.event_id, request.SerializeToString())
    outbox.changed.set()
    return request.event_id


async def segment_closed(outbox: Outbox, segment: Segment) -> str:
    """Spool the CLOSED event of `segment`."""
    event = agent_pb2.SegmentEvent(
        type=agent_pb2.SEGMENT_EVENT_TYPE_CLOSED, segment=recording(segment)
    )
    return await spool(
        outbox,
        agent_pb2.ConnectRequest(segment_event=event),
        segment_event_id(segment.id, "closed"),
    )


async def segment_moved(outbox: Outbox, segment: Segment) -> str:
    """Spool the MOVED event of `segment` (now in `segment.tier`)."""
    event = agent_pb2.SegmentEvent(
        type=agent_pb2.SEGMENT_EVENT_TYPE_MOVED,
        segment=recording_pb2.Recording(
            id=segment.id,
            camera_id=segment.camera_id,
            tier=_TIERS[segment.tier],
            object_bucket=segment.object_bucket,
            object_key=segment.object_key,
        ),
    )
    return await spool(
        outbox,
        agent_pb2.ConnectRequest(segment_event=event),
        # The tier's number, as event ids have always been made (a re-spool keeps its id).
        segment_event_id(segment.id, f"moved:{int(segment.tier)}"),
    )


async def tier_moves_changed(outbox: Outbox, tier: StorageTier, blocked: bool, reason: str) -> str:
    """Spool that moves to `tier` stopped (`reason` says why) or go again."""
    kind = (
        agent_pb2.SEGMENT_EVENT_TYPE_MOVES_BLOCKED
        if blocked
        else agent_pb2.SEGMENT_EVENT_TYPE_MOVES_RESUMED
    )
    event = agent_pb2.SegmentEvent(
        type=kind, segment=recording_pb2.Recording(tier=_TIERS[tier]), reason=reason
    )
    return await spool(outbox, agent_pb2.ConnectRequest(segment_event=event))


async def segment_deleted(outbox: Outbox, segment_id: str, camera_id: str, reason: str) -> str:
    """Spool the DELETED event of a segment, saying why."""
    event = agent_pb2.SegmentEvent(
        type=agent_pb2.SEGMENT_EVENT_TYPE_DELETED,
        segment=recording_pb2.Recording(id=segment_id, camera_id=camera_id),
        reason=reason,
    )
    return await spool(
        outbox,
        agent_pb2.ConnectRequest(segment_event=event),
        segment_event_id(segment_id, "deleted"),
    )


async def recorder_changed(
    outbox: Outbox,
    camera_id: str,
    state: RecorderState,
    message: str,
    gap: Gap | None = None,
) -> str:
    """Spool a RecorderEvent (with the gap a crash or full disk left, when known)."""
    event = agent_pb2.RecorderEvent(
        camera_id=camera_id, state=_RECORDING_STATES[state], message=message
    )
    if gap is not None:
        start, end, reason = gap
        event.gap.CopyFrom(
            recording_pb2.RecordingGap(
                camera_id=camera_id,
                start_time=timestamp(start),
                end_time=timestamp(end),
                reason=reason,
            )
        )
    log.info("recorder %s: %s %s", camera_id, state.name, message)
    return await spool(outbox, agent_pb2.ConnectRequest(recorder_event=event))
