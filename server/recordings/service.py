"""RecordingService's domain: list and read the segment index, build timelines, and delete
segments (through their node). Signed URLs to the media are RecordingMedia's (media.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.audit.log import add_audit
from server.common.listing import (
    decode_position,
    encode_position,
    query_fingerprint,
    resolve_page_size,
)
from server.common.validation import require_id
from server.db.models import (
    PendingSegmentDeletionRow,
    RecordingEventRow,
    RecordingGapRow,
    RecordingRow,
    StreamEventRow,
    utcnow,
)
from server.recordings import timeline, timeline_hours
from server.recordings.causes import stored_cause
from server.recordings.ingest import MAX_SEGMENT
from server.recordings.queries import (
    RecordingRows,
    check_range,
    find_recording,
    iso,
    overlapping,
    require_camera,
)
from server.recordings.timeline import Stop, StoredGap, Timeline

TIMELINE_MAX_SPAN = timedelta(days=31)
# Stream events after which a camera was not publishing (so nothing was expected).
_STOPPED = ("unpublish", "error")
# What defines a ListRecordings query, named in the error for a token of another one.
_QUERY = "camera_id, start_time or end_time"

# Told which segments a node must delete (the hub sends them if the node is connected here).
DeletionListener = Callable[[str, Sequence[str]], None]


def _ignore_deletion(node_id: str, recording_ids: Sequence[str]) -> None:
    return None


# The class below has a method called `list`, which hides the builtin in its annotations.
Stops = list[Stop]


@dataclass(frozen=True)
class RecordingPage:
    """One page of ListRecordings."""

    items: RecordingRows
    next_page_token: str


def _next_token(row: RecordingRow, fingerprint: str) -> str:
    # Keyset paging on (start_time, id): new segments arriving between pages shift no offsets.
    # Microseconds, as stored: a coarser time would show rows of the same millisecond twice.
    return encode_position({"t": row.start_time.isoformat(), "i": row.id}, fingerprint)


def _read_after(position: Mapping[str, Any]) -> tuple[datetime, str] | None:
    """The (start_time, id) of the last row of the previous page, None if not that."""
    at, last_id = position.get("t"), position.get("i")
    if not isinstance(at, str) or not isinstance(last_id, str):
        return None
    try:
        stamp = datetime.fromisoformat(at)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        return None
    return stamp, last_id


class RecordingService:
    """Domain logic of camfleet.v1.RecordingService."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        on_delete: DeletionListener = _ignore_deletion,
    ) -> None:
        self._sessions = sessions
        self._on_delete = on_delete

    # --- reads ------------------------------------------------------------------------------

    async def list(
        self,
        camera_id: str,
        start: datetime | None,
        end: datetime | None,
        page_size: int,
        page_token: str,
    ) -> RecordingPage:
        """Segments overlapping [start, end) (default: the last 24 hours), oldest first."""
        require_id(camera_id, "camera_id")
        lo, hi = check_range(start, end, None, required=False)
        size = resolve_page_size(page_size)
        # The query as the caller sent it: a default end ("now") moves between pages.
        fingerprint = query_fingerprint(
            "recordings", camera_id, iso(start) if start else "", iso(end) if end else ""
        )
        after = decode_position(page_token, fingerprint, _read_after, query=_QUERY)
        stmt = select(RecordingRow).where(*overlapping(camera_id, lo, hi))
        if after is not None:
            stmt = stmt.where(
                or_(
                    RecordingRow.start_time > after[0],
                    and_(RecordingRow.start_time == after[0], RecordingRow.id > after[1]),
                )
            )
        async with self._sessions() as session:
            await require_camera(session, camera_id)
            rows = list(
                (
                    await session.scalars(
                        stmt.order_by(RecordingRow.start_time, RecordingRow.id).limit(size + 1)
                    )
                ).all()
            )
        more = len(rows) > size
        del rows[size:]
        return RecordingPage(rows, _next_token(rows[-1], fingerprint) if more else "")

    async def get(self, recording_id: str) -> RecordingRow:
        """One segment or NotFound."""
        require_id(recording_id)
        async with self._sessions() as session:
            return await find_recording(session, recording_id)

    async def timeline(
        self, camera_id: str, start: datetime | None, end: datetime | None
    ) -> Timeline:
        """Spans, gaps and coverage of one camera over at most 31 days."""
        require_id(camera_id, "camera_id")
        lo, hi = check_range(start, end, TIMELINE_MAX_SPAN, required=True)
        async with self._sessions() as session:
            await require_camera(session, camera_id)
            segments, rolled = await timeline_hours.recorded(session, camera_id, lo, hi)
            gaps = (
                await session.scalars(
                    select(RecordingGapRow).where(
                        RecordingGapRow.camera_id == camera_id,
                        RecordingGapRow.start_time < hi,
                        or_(RecordingGapRow.end_time.is_(None), RecordingGapRow.end_time > lo),
                    )
                )
            ).all()
            stops = await self._stops(session, camera_id, lo, hi)
        if rolled:  # hours merged from their segments in this read, kept for the next
            await timeline_hours.store(self._sessions, camera_id, rolled)
        return timeline.build(
            lo,
            hi,
            segments=segments,
            stored_gaps=[
                StoredGap(
                    g.start_time,
                    g.end_time,
                    stored_cause(g.cause, g.reason),
                    g.reason,
                    g.node_id,
                    g.to_node_id,
                )
                for g in gaps
            ],
            stops=stops,
            now=utcnow(),
        )

    @staticmethod
    async def _stops(session: AsyncSession, camera_id: str, lo: datetime, hi: datetime) -> Stops:
        """When, and on which node, the camera stopped publishing or its recorder went idle,
        within the range (timeline.build keeps those of the node that had the camera)."""
        window = (lo - MAX_SEGMENT, hi)
        unpublished = (
            await session.execute(
                select(StreamEventRow.time, StreamEventRow.node_id).where(
                    StreamEventRow.camera_id == camera_id,
                    StreamEventRow.type.in_(_STOPPED),
                    StreamEventRow.time.between(*window),
                )
            )
        ).all()
        idle = (
            await session.execute(
                select(RecordingEventRow.time, RecordingEventRow.node_id).where(
                    RecordingEventRow.camera_id == camera_id,
                    RecordingEventRow.kind == "recorder",
                    RecordingEventRow.state == "idle",
                    RecordingEventRow.time.between(*window),
                )
            )
        ).all()
        return sorted(
            (Stop(at, node_id or "") for at, node_id in [*unpublished, *idle]),
            key=lambda s: s.at,
        )

    # --- mutations --------------------------------------------------------------------------

    async def delete(self, recording_id: str) -> None:
        """Remove a segment from the index now; its node deletes the file when told (at once
        if connected, else on its next Hello)."""
        require_id(recording_id)
        async with self._sessions.begin() as session:
            row = await find_recording(session, recording_id, lock=True)
            await session.execute(delete(RecordingRow).where(RecordingRow.id == recording_id))
            session.add(
                PendingSegmentDeletionRow(
                    recording_id=row.id,
                    node_id=row.node_id,
                    camera_id=row.camera_id,
                    requested_at=utcnow(),
                )
            )
            add_audit(
                session,
                "recording.delete",
                f"recordings/{row.id}",
                details={
                    "camera_id": row.camera_id,
                    "node_id": row.node_id,
                    "start_time": iso(row.start_time),
                },
            )
        self._on_delete(row.node_id, [row.id])
