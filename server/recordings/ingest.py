"""What nodes tell the control plane about recordings (server.recordings.reports, as the agent
edge decoded them), checked and applied exactly once per event id.

- a segment CLOSED indexes it (a replay, or a second report of the same segment under another
  event id, changes nothing), MOVED changes its tier, DELETED removes it;
- a recorder event stores the gap it reports (a crash, a full disk); from the camera's node
  or handover target only, it sets the camera's recording state, and an ERROR opens a gap
  until recording resumes (another node's recorder is a stale copy of the camera);
- a node lost while recording, a pull camera's source failure and a push camera that stops
  publishing open a gap with that cause, closed by the camera's next segment on any node
  (server.recordings.gaps);
- segments deleted through the API wait here until their node confirms deleting the files.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.common.validation import is_id
from server.db.models import (
    CameraRow,
    PendingSegmentDeletionRow,
    RecordingEventRow,
    RecordingGapRow,
    RecordingRow,
    utcnow,
)
from server.recordings import gaps
from server.recordings.causes import NODE_LOST_REASON, recorder_error_cause, reported_gap_cause
from server.recordings.reports import (
    MAX_SEGMENT,
    BadTime,
    RecorderReport,
    ReportedSegment,
    SegmentChange,
    SegmentReport,
    SentTime,
    StreamStopReport,
)

log = logging.getLogger(__name__)

__all__ = ["MAX_SEGMENT", "RecordingIngest", "UnusableEvent"]
CONTAINERS = frozenset({"mpegts", "mp4"})


class UnusableEvent(Exception):
    """An event no one can use; acknowledged and dropped so it never blocks a spool."""


def _time(sent: SentTime, what: str) -> datetime:
    if isinstance(sent, BadTime):
        raise UnusableEvent(f"{what} {sent.value}")
    return sent


async def insert_ignore(session: AsyncSession, table: Any, values: Mapping[str, object]) -> bool:
    """INSERT unless the primary key exists; True when a row was inserted."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    result = await session.execute(insert(table).values(**values).on_conflict_do_nothing())
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _closed_segment(node_id: str, segment: ReportedSegment) -> dict[str, object]:
    """Column values of a CLOSED segment, or UnusableEvent naming what is wrong."""
    if not is_id(segment.id) or not is_id(segment.camera_id):
        raise UnusableEvent("segment id and camera_id must be UUIDs")
    start = _time(segment.start, "start_time")
    end = _time(segment.end, "end_time")
    if end < start or end - start > MAX_SEGMENT:
        raise UnusableEvent(f"segment times {start} .. {end} are not a segment")
    container = segment.container or "mpegts"
    if container not in CONTAINERS:
        raise UnusableEvent(f"unknown container {container[:20]!r}")
    return {
        "id": segment.id,
        "camera_id": segment.camera_id,
        "node_id": node_id,
        "start_time": start,
        "end_time": end,
        "duration_s": max(0.0, segment.duration_s),
        "size_bytes": max(0, segment.size_bytes),
        "sha256": segment.sha256[:64],
        "tier": segment.tier or "hot",
        "profile": segment.profile or "original",
        "container": container,
        "recovered": segment.recovered,
        # The node's placement epoch at recording (its fencing token), kept for audits.
        "epoch": max(0, segment.epoch),
        "create_time": utcnow(),
    }


class RecordingEvents(Protocol):
    """Stages the events of recording changes in their transaction (the event publisher)."""

    def recording_added(self, session: AsyncSession, row: RecordingRow, message: str) -> None:
        """A segment was indexed."""
        ...

    def recording_state_changed(self, session: AsyncSession, row: CameraRow, message: str) -> None:
        """A camera's recorder state changed."""
        ...

    def storage_tier_changed(self, session: AsyncSession, node_id: str, message: str) -> None:
        """A node's moves to a storage tier stopped or go again."""
        ...


class Handovers(Protocol):
    """Finishes a make-before-break handover once its target writes (a floor above:
    server/cameras/status.py's CameraStatusWriter.handover_recorded)."""

    async def handover_recorded(
        self,
        session: AsyncSession,
        camera_id: str,
        node_id: str,
        epoch: int,
        at: datetime,
        *,
        recorded_until: datetime | None = None,
    ) -> None:
        """`node_id` indexed a segment of the camera recorded under placement `epoch`, ending
        at `recorded_until`."""
        ...


class RecordingIngest:
    """Applies segment and recorder events, tracks gaps of lost nodes and pending deletions."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        publisher: RecordingEvents,
        handovers: Handovers | None = None,
    ):
        self._sessions = sessions
        self._publisher = publisher
        self._handovers = handovers

    async def segment_event(
        self, node_id: str, event_id: str, event: SegmentReport, at: datetime
    ) -> None:
        """Apply one segment event once; UnusableEvent when it cannot be applied at all."""
        segment = event.segment
        if event.change is SegmentChange.CLOSED:
            values = _closed_segment(node_id, segment)
        elif event.change in (SegmentChange.MOVED, SegmentChange.DELETED):
            if not is_id(segment.id):
                raise UnusableEvent("segment id must be a UUID")
            values = {}
        elif event.change in (SegmentChange.MOVES_BLOCKED, SegmentChange.MOVES_RESUMED):
            await self._tier_moves(node_id, event_id, event, at)
            return
        else:
            raise UnusableEvent(f"unknown segment event type {event.change}")
        async with self._sessions.begin() as session:
            seen = RecordingEventRow(
                id=event_id,
                node_id=node_id,
                kind="segment",
                camera_id=segment.camera_id[:36],
                state="",
                time=at,
                received_at=utcnow(),
            )
            if not await insert_ignore(session, RecordingEventRow, _values(seen)):
                return  # a replay
            if event.change is SegmentChange.CLOSED:
                # Deleted through the API while this report waited in a spool: stays deleted.
                if await session.get(PendingSegmentDeletionRow, segment.id) is None and (
                    await insert_ignore(session, RecordingRow, values)
                ):
                    added = RecordingRow(**values)
                    await gaps.segment_indexed(session, added)
                    self._added(session, added)
                    if self._handovers is not None:  # the target's first segment ends it
                        await self._handovers.handover_recorded(
                            session,
                            added.camera_id,
                            node_id,
                            added.epoch,
                            at,
                            recorded_until=added.end_time,
                        )
            elif event.change is SegmentChange.MOVED:
                tier = segment.tier
                if tier is not None:
                    # The cold tier's object, or none (a move between a node's own disks).
                    where = (
                        (segment.object_bucket[:63], segment.object_key[:1024])
                        if tier == "cold"
                        else ("", "")
                    )
                    await session.execute(
                        update(RecordingRow)
                        .where(RecordingRow.id == segment.id, RecordingRow.node_id == node_id)
                        .values(tier=tier, object_bucket=where[0], object_key=where[1])
                    )
            else:
                await session.execute(
                    delete(RecordingRow).where(
                        RecordingRow.id == segment.id, RecordingRow.node_id == node_id
                    )
                )
                await session.execute(
                    update(PendingSegmentDeletionRow)
                    .where(
                        PendingSegmentDeletionRow.recording_id == segment.id,
                        PendingSegmentDeletionRow.confirmed_at.is_(None),
                    )
                    .values(confirmed_at=utcnow())
                )

    async def _tier_moves(
        self, node_id: str, event_id: str, event: SegmentReport, at: datetime
    ) -> None:
        """A node's moves to a tier stopped (or go again): one event saying why, once."""
        tier = event.segment.tier or "another"
        async with self._sessions.begin() as session:
            seen = RecordingEventRow(
                id=event_id,
                node_id=node_id,
                kind="tier",
                camera_id="",
                state=event.change.value if isinstance(event.change, SegmentChange) else "",
                time=at,
                received_at=utcnow(),
            )
            if not await insert_ignore(session, RecordingEventRow, _values(seen)):
                return
            if event.change is SegmentChange.MOVES_BLOCKED:
                message = f"node {node_id}: moves to the {tier} tier stopped; {event.reason}"
            else:
                message = f"node {node_id}: moves to the {tier} tier go again"
            self._publisher.storage_tier_changed(session, node_id, message[:2000])

    def _added(self, session: AsyncSession, added: RecordingRow) -> None:
        seconds = (added.end_time - added.start_time).total_seconds()
        self._publisher.recording_added(
            session,
            added,
            f"camera {added.camera_id}: {seconds:.1f} s recorded from {added.start_time:%H:%M:%S}",
        )

    async def recorder_event(
        self, node_id: str, event_id: str, event: RecorderReport, at: datetime
    ) -> None:
        """Apply one recorder event once: the camera's recording state, and its gap."""
        state = event.state
        if not is_id(event.camera_id) or state is None:
            raise UnusableEvent("a recorder event needs a camera UUID and a state")
        gap: RecordingGapRow | None = None
        if event.gap is not None:
            with contextlib.suppress(UnusableEvent):
                start = _time(event.gap.start, "gap.start_time")
                end = _time(event.gap.end, "gap.end_time")
                if start < end:
                    lost = event.gap.reason or event.message or "recorder stopped"
                    gap = RecordingGapRow(
                        camera_id=event.camera_id,
                        node_id=node_id,
                        start_time=start,
                        end_time=end,
                        reason=lost[:500],
                        cause=reported_gap_cause(lost).value,
                        to_node_id="",
                    )
        reason = event.message[:2000] if state == "error" else ""
        async with self._sessions.begin() as session:
            seen = RecordingEventRow(
                id=event_id,
                node_id=node_id,
                kind="recorder",
                camera_id=event.camera_id,
                state=state,
                time=at,
                received_at=utcnow(),
            )
            if not await insert_ignore(session, RecordingEventRow, _values(seen)):
                return
            if gap is not None:
                session.add(gap)
            camera = await session.get(CameraRow, event.camera_id, with_for_update=True)
            if camera is None or not _has_camera(camera, node_id):
                # A node that no longer has the camera (back from a partition, stopping its
                # stale copy; the old node after a handover): its recorder is not the camera's.
                return
            if state == "error":
                cause = recorder_error_cause(event.message)
                await gaps.recording_error(
                    session, event.camera_id, node_id=node_id, at=at, cause=cause, reason=reason
                )
            if (camera.recording_state, camera.recording_state_reason) != (state, reason):
                camera.recording_state, camera.recording_state_reason = state, reason
                why = f": {reason}" if reason else ""
                self._publisher.recording_state_changed(
                    session, camera, f"camera {camera.name} recording is {state}{why}"
                )

    async def node_lost(
        self, node_id: str, since: datetime, reason: str = NODE_LOST_REASON
    ) -> None:
        """Open a node-lost gap from `since` (its last heartbeat) for every camera the node was
        recording; each closes with the camera's next segment, here or on the node that takes
        it over. `reason`: how the node was lost, as the timeline shows it."""
        async with self._sessions.begin() as session:
            opened = await gaps.node_lost(session, node_id, since, reason)
        if opened:
            log.info("node %s lost while recording %d cameras: gaps opened", node_id, len(opened))

    async def stream_stopped(self, node_id: str, report: StreamStopReport) -> None:
        """A camera stopped on a node (a new stream event; the caller stores each once): the
        gap it opens, if recording was expected of the camera."""
        if not is_id(report.camera_id):
            return
        async with self._sessions.begin() as session:
            await gaps.stream_stopped(session, node_id, report)

    async def pending_deletions(
        self, node_ids: Collection[str], older_than: timedelta = timedelta(0)
    ) -> dict[str, list[str]]:
        """Recording ids each node still has to delete (requested at least `older_than` ago)."""
        if not node_ids:
            return {}
        cutoff = utcnow() - older_than
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(
                        PendingSegmentDeletionRow.node_id, PendingSegmentDeletionRow.recording_id
                    )
                    .where(
                        PendingSegmentDeletionRow.node_id.in_(list(node_ids)),
                        PendingSegmentDeletionRow.requested_at <= cutoff,
                        PendingSegmentDeletionRow.confirmed_at.is_(None),
                    )
                    .order_by(PendingSegmentDeletionRow.requested_at)
                )
            ).all()
        out: dict[str, list[str]] = {}
        for node_id, recording_id in rows:
            out.setdefault(node_id, []).append(recording_id)
        return out


def _has_camera(camera: CameraRow, node_id: str) -> bool:
    """Whether `node_id` speaks for the camera's recorder: its node, or the node it is being
    handed over to (or any node while it has none: a push camera not homed yet). Nodes run
    cameras they no longer have for a while, and last writer would win otherwise: a stale
    node's "idle" would hide a recording camera from the node-lost sweep (gaps.node_lost)."""
    return camera.node_id is None or node_id in (camera.node_id, camera.handover_node_id)


def _values(row: object) -> dict[str, object]:
    table = type(row).__table__  # type: ignore[attr-defined]
    return {c.name: getattr(row, c.name) for c in table.columns}
