"""What nodes tell the control plane about recordings (server.recordings.reports, as the agent
edge decoded them), checked and applied exactly once per event id.

- a segment CLOSED indexes it (a replay, or a second report of the same segment under another
  event id, changes nothing), MOVED changes its tier, DELETED removes it;
- a recorder event sets the camera's recording state and stores the gap it reports;
- a node lost while recording opens a "node lost" gap, closed when the node says Hello again;
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
from server.recordings.reports import (
    BadTime,
    RecorderReport,
    ReportedSegment,
    SegmentChange,
    SegmentReport,
    SentTime,
)

log = logging.getLogger(__name__)

NODE_LOST = "node lost"
# Longer than any real segment: bounds the index range scanned for overlaps.
MAX_SEGMENT = timedelta(hours=6)
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


class RecordingIngest:
    """Applies segment and recorder events, tracks gaps of lost nodes and pending deletions."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], publisher: RecordingEvents):
        self._sessions = sessions
        self._publisher = publisher

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
                    self._added(session, RecordingRow(**values))
            elif event.change is SegmentChange.MOVED:
                tier = segment.tier
                if tier is not None:
                    await session.execute(
                        update(RecordingRow)
                        .where(RecordingRow.id == segment.id, RecordingRow.node_id == node_id)
                        .values(tier=tier)
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
                    gap = RecordingGapRow(
                        camera_id=event.camera_id,
                        node_id=node_id,
                        start_time=start,
                        end_time=end,
                        reason=(event.gap.reason or event.message or "recorder stopped")[:500],
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
            if camera is not None and (camera.recording_state, camera.recording_state_reason) != (
                state,
                reason,
            ):
                camera.recording_state, camera.recording_state_reason = state, reason
                why = f": {reason}" if reason else ""
                self._publisher.recording_state_changed(
                    session, camera, f"camera {camera.name} recording is {state}{why}"
                )

    async def node_lost(self, node_id: str, since: datetime) -> None:
        """Open a "node lost" gap from `since` for every camera the node was recording."""
        async with self._sessions.begin() as session:
            cameras = (
                await session.scalars(
                    select(CameraRow.id).where(
                        CameraRow.node_id == node_id, CameraRow.recording_state == "recording"
                    )
                )
            ).all()
            for camera_id in cameras:
                open_gap = await session.scalar(
                    select(RecordingGapRow.id).where(
                        RecordingGapRow.camera_id == camera_id,
                        RecordingGapRow.node_id == node_id,
                        RecordingGapRow.end_time.is_(None),
                    )
                )
                if open_gap is None:
                    session.add(
                        RecordingGapRow(
                            camera_id=camera_id, node_id=node_id, start_time=since, reason=NODE_LOST
                        )
                    )

    async def node_back(self, node_id: str, at: datetime) -> None:
        """The node said Hello: its open gaps end now (segments it spooled meanwhile fill them
        in again on the timeline)."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(RecordingGapRow)
                .where(RecordingGapRow.node_id == node_id, RecordingGapRow.end_time.is_(None))
                .values(end_time=at)
            )

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


def _values(row: object) -> dict[str, object]:
    table = type(row).__table__  # type: ignore[attr-defined]
    return {c.name: getattr(row, c.name) for c in table.columns}
