"""Gaps as records: opened when the control plane learns that a camera stopped being recorded
while the operator expects recording, closed when its recording resumes. Each function works
inside the caller's transaction (server.recordings.ingest runs them once per event).

Invariants:
- A gap is opened only for a camera that is active with recording on (what "expected" means
  on the timeline, server.recordings.timeline), and only on the word of the node that has the
  camera: a stale node's late UNPUBLISH (the camera has moved) opens nothing.
- At most one open gap per camera and cause: repeated reports extend nothing.
- An open gap ends when the camera stops expecting recording (deactivated, recording switched
  off: expectation_ended, in the camera's own transaction), so a gap never spans time when
  nothing was expected.
- An open gap closes at the start of the camera's first segment that resumes recording, and
  to_node_id names the node that recorded it. For most causes that is the first segment that
  begins at or after the gap, on any node. A node-lost gap closes on:
  - a segment of another node that begins after the loss, or was already running then (a
    make-before-break handover: then nothing was lost);
  - a segment of the lost node itself only once the node is back: it said Hello again after
    the gap began (NodeRow READY, state_changed_at after the gap's start) and the segment
    began after that. What the node recorded while it was silent (a partition), delivered later
    from its spool, is recorded time (the timeline counts it over the gap) but resumes nothing:
    the node was still cut off, and the camera was lost to the fleet until another node (or
    the node back) recorded it. Its segment that began before the loss is its old run.
  So a node-lost gap's to_node_id is never the lost node, unless that node resumed after
  coming back.
- Segments arrive out of order (a returning node's spool): a gap closed by a segment moves its
  end back to an earlier segment that arrives later and would have closed it (by the rules
  above). Gaps a node reported closed (a recorder crash) are never moved.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, false, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import (
    CameraRow,
    NodeRow,
    PlacementRow,
    RecordingGapRow,
    RecordingRow,
    StreamEventRow,
)
from server.recordings.causes import (
    CAMERA_STOPPED_REASON,
    NODE_LOST_REASON,
    SOURCE_FAILED_REASON,
    GapCause,
    is_source_failure,
)
from server.recordings.reports import MAX_SEGMENT, StreamStop, StreamStopReport

_REASON_CHARS = 500
# A lost node's last segment that ended at most this long before its last heartbeat was
# followed by the one it was writing (the agent's segments are 10 s by default); the
# segments looked at for it began at most _SEGMENTS_BEFORE_LOSS before that.
_WRITING_AT_LOSS = timedelta(seconds=60)
_SEGMENTS_BEFORE_LOSS = timedelta(seconds=120)
# How long before a pull camera's ERROR its UNPUBLISH still marks where the media stopped.
_UNPUBLISH_BEFORE_ERROR = timedelta(seconds=10)
# NodeRow.state of a connected node (server.nodes.registry.NodeState.READY, a floor above).
_READY = "ready"
# CameraRow.status of a camera whose media flows (server.cameras.model.CameraStatus.ONLINE) and
# CameraRow.recording_state of a recorder that has not written a segment yet.
_ONLINE = "online"
_IDLE = "idle"
# PlacementRow.reason of a camera moved off a lost node (server.placement.model, a floor above).
_MOVED_FOR_LOSS = "node_lost"


def expects_recording(camera: CameraRow) -> bool:
    """Whether the operator expects the camera to be recorded now."""
    return camera.active and camera.recording_enabled


async def _back_since(session: AsyncSession, node_id: str) -> datetime | None:
    """Since when the node is connected again (READY since), None when it is not READY."""
    node = await session.get(NodeRow, node_id)
    return node.state_changed_at if node is not None and node.state == _READY else None


async def _first_segment(
    session: AsyncSession, camera_id: str, gap: RecordingGapRow
) -> RecordingRow | None:
    """The segment that ends `gap`, if one is indexed already."""
    resumes: ColumnElement[bool] = RecordingRow.start_time >= gap.start_time
    if gap.cause == GapCause.NODE_LOST.value:
        # Another node's segment that begins after the loss, or runs across it (at once).
        resumes = and_(
            RecordingRow.node_id != gap.node_id,
            or_(resumes, RecordingRow.end_time > gap.start_time),
        )
        back = await _back_since(session, gap.node_id)
        if back is not None and back > gap.start_time:
            # The lost node's own, once it is back: not what it recorded while silent.
            resumes = or_(
                resumes,
                and_(RecordingRow.node_id == gap.node_id, RecordingRow.start_time >= back),
            )
    return (
        await session.scalars(
            select(RecordingRow)
            .where(RecordingRow.camera_id == camera_id, resumes)
            .order_by(RecordingRow.start_time)
            .limit(1)
        )
    ).first()


async def open_gap(
    session: AsyncSession,
    camera_id: str,
    *,
    node_id: str,
    start: datetime,
    cause: GapCause,
    reason: str,
) -> RecordingGapRow | None:
    """Open a gap unless one of this cause is open for the camera; closed at once when a
    segment that ends it is indexed already. The gap, or None when one was open."""
    already = await session.scalar(
        select(RecordingGapRow.id).where(
            RecordingGapRow.camera_id == camera_id,
            RecordingGapRow.cause == cause.value,
            RecordingGapRow.end_time.is_(None),
        )
    )
    if already is not None:
        return None
    gap = RecordingGapRow(
        camera_id=camera_id,
        node_id=node_id,
        start_time=start,
        reason=reason[:_REASON_CHARS],
        cause=cause.value,
        to_node_id="",
    )
    resumed = await _first_segment(session, camera_id, gap)
    if resumed is not None:
        gap.end_time = max(start, resumed.start_time)
        gap.to_node_id = resumed.node_id
    session.add(gap)
    return gap


async def node_lost(
    session: AsyncSession, node_id: str, since: datetime, reason: str = NODE_LOST_REASON
) -> list[str]:
    """Open a node-lost gap from `since` (its last heartbeat) for every camera the node was
    recording; the ids of those cameras. A camera counts when its recorder said "recording"
    and it is on the node, or being handed over to it, or was moved off it for this loss (the
    scheduler can move it before this runs, and the node's last segment may end before its last
    heartbeat). So does a camera ONLINE on the node (or moved off it for this loss) whose
    recorder had not said so yet (it says "recording" with its first segment): its media was
    flowing into a recorder the loss cut short, and it is lost to the fleet all the same."""
    moved_off = (
        select(PlacementRow.id)
        .where(
            PlacementRow.camera_id == CameraRow.id,
            PlacementRow.from_node_id == node_id,
            PlacementRow.reason == _MOVED_FOR_LOSS,
            PlacementRow.time >= since,
        )
        .exists()
    )
    cameras = (
        await session.scalars(
            select(CameraRow.id).where(
                CameraRow.active.is_(True),
                CameraRow.recording_enabled.is_(True),
                or_(
                    and_(
                        CameraRow.recording_state == "recording",
                        or_(
                            CameraRow.node_id == node_id,
                            CameraRow.handover_node_id == node_id,
                            moved_off,
                            # Its recent segments (by the camera's index, not the node's).
                            select(RecordingRow.id)
                            .where(
                                RecordingRow.camera_id == CameraRow.id,
                                RecordingRow.start_time > since - MAX_SEGMENT,
                                RecordingRow.node_id == node_id,
                                RecordingRow.end_time >= since,
                            )
                            .exists(),
                        ),
                    ),
                    and_(
                        CameraRow.recording_state == _IDLE,
                        or_(
                            and_(CameraRow.status == _ONLINE, CameraRow.node_id == node_id),
                            moved_off,
                        ),
                    ),
                ),
            )
        )
    ).all()
    opened = []
    for camera_id in cameras:
        gap = await open_gap(
            session,
            camera_id,
            node_id=node_id,
            start=await _stopped_recording(session, camera_id, node_id, since),
            cause=GapCause.NODE_LOST,
            reason=reason,
        )
        if gap is not None:
            opened.append(camera_id)
    return opened


async def _stopped_recording(
    session: AsyncSession, camera_id: str, node_id: str, since: datetime
) -> datetime:
    """Where a lost node's recording of the camera is known to stop: the end of its last
    indexed segment of it when that lies shortly before `since` (its last heartbeat): the time
    after it was the segment being written when the node was lost (if it arrives later from
    the node's spool, the timeline shows it recorded after all). Else `since`."""
    last_end = await session.scalar(
        select(func.max(RecordingRow.end_time)).where(
            RecordingRow.camera_id == camera_id,
            RecordingRow.node_id == node_id,
            RecordingRow.start_time > since - _WRITING_AT_LOSS - _SEGMENTS_BEFORE_LOSS,
            RecordingRow.end_time <= since,
        )
    )
    if last_end is not None and last_end >= since - _WRITING_AT_LOSS:
        return last_end
    return since


async def left_silent_node(
    session: AsyncSession, camera: CameraRow, node_id: str, since: datetime
) -> None:
    """A push camera left `node_id`, silent since `since` (its last heartbeat), for another
    node (it republished through the fleet ingest before the node was declared lost, so
    node_lost will not see it there): a node-lost gap from `since`, while recording is expected
    of it. The camera's first segment on its new node closes it."""
    if expects_recording(camera):
        await open_gap(
            session,
            camera.id,
            node_id=node_id,
            start=await _stopped_recording(session, camera.id, node_id, since),
            cause=GapCause.NODE_LOST,
            reason=NODE_LOST_REASON,
        )


async def stream_stopped(session: AsyncSession, node_id: str, report: StreamStopReport) -> None:
    """A camera stopped on `node_id`: a pull camera's source failure opens a SOURCE_ERROR gap,
    a push camera's unpublish a CAMERA_STOPPED one, while recording is expected of it."""
    camera = await session.get(CameraRow, report.camera_id)
    if camera is None or not expects_recording(camera):
        return
    if camera.node_id not in (None, node_id):
        return  # the camera is elsewhere now: this node's word is old news
    start = report.at
    failed = report.stop is StreamStop.FAILED and is_source_failure(report.reason)
    if failed and camera.ingest_mode == "pull":
        cause, reason = GapCause.SOURCE_ERROR, report.reason or SOURCE_FAILED_REASON
        # The media stopped at the UNPUBLISH the puller lets arrive first (node_agent.pull.puller
        # waits up to a few seconds for it): the gap begins there.
        unpublished = await session.scalar(
            select(func.max(StreamEventRow.time)).where(
                StreamEventRow.camera_id == camera.id,
                StreamEventRow.node_id == node_id,
                StreamEventRow.type == "unpublish",
                StreamEventRow.time.between(report.at - _UNPUBLISH_BEFORE_ERROR, report.at),
            )
        )
        start = unpublished or start
    elif report.stop is StreamStop.UNPUBLISHED and camera.ingest_mode == "push":
        cause, reason = GapCause.CAMERA_STOPPED, CAMERA_STOPPED_REASON
    else:
        # A pull camera's unpublish comes with its ERROR (or is its node stopping it on
        # purpose); a push camera has no source to fail.
        return
    await open_gap(session, camera.id, node_id=node_id, start=start, cause=cause, reason=reason)


async def recording_error(
    session: AsyncSession,
    camera_id: str,
    *,
    node_id: str,
    at: datetime,
    cause: GapCause,
    reason: str,
) -> None:
    """A node said the camera's recorder is in ERROR (crash loop, disk full): a gap from
    `at`, while recording is expected of the camera."""
    camera = await session.get(CameraRow, camera_id)
    if camera is not None and expects_recording(camera):
        await open_gap(session, camera_id, node_id=node_id, start=at, cause=cause, reason=reason)


async def expectation_ended(session: AsyncSession, camera: CameraRow, at: datetime) -> None:
    """Called in the transaction that changes a camera (server.cameras.service): once it is
    inactive or its recording is off, nothing more is expected of it, so its open gaps end
    `at` (or where they began, for a node's clock ahead of ours)."""
    if expects_recording(camera):
        return
    await session.execute(
        update(RecordingGapRow)
        .where(RecordingGapRow.camera_id == camera.id, RecordingGapRow.end_time.is_(None))
        .values(
            end_time=case((RecordingGapRow.start_time > at, RecordingGapRow.start_time), else_=at)
        )
    )


async def segment_indexed(session: AsyncSession, segment: RecordingRow) -> None:
    """A new segment: the camera's gaps it ends are closed (or closed earlier) at its start."""
    start, node_id = segment.start_time, segment.node_id
    starts_after = RecordingGapRow.start_time <= start
    node_lost = RecordingGapRow.cause == GapCause.NODE_LOST.value
    back = await _back_since(session, node_id)
    # The lost node's own segment ends its gap only when it began after the node came back
    # (not what the node recorded while silent, delivered from its spool).
    came_back: ColumnElement[bool] = (
        RecordingGapRow.start_time < back if back is not None and back <= start else false()
    )
    ends = or_(
        and_(RecordingGapRow.cause != GapCause.NODE_LOST.value, starts_after),
        and_(
            node_lost,
            RecordingGapRow.node_id != node_id,
            # Begins after the loss, or runs across it.
            or_(starts_after, RecordingGapRow.start_time < segment.end_time),
        ),
        and_(node_lost, RecordingGapRow.node_id == node_id, starts_after, came_back),
    )
    gaps = (
        await session.scalars(
            select(RecordingGapRow)
            .where(
                RecordingGapRow.camera_id == segment.camera_id,
                or_(
                    RecordingGapRow.end_time.is_(None),
                    # Closed by a later segment (to_node_id set), not reported closed by a node.
                    and_(RecordingGapRow.to_node_id != "", RecordingGapRow.end_time > start),
                ),
                ends,
            )
            .with_for_update()
        )
    ).all()
    for gap in gaps:
        gap.end_time = max(gap.start_time, start)
        gap.to_node_id = node_id
