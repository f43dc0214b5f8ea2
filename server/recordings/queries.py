"""What RecordingService and RecordingMedia share: the time range of a request and the queries of
the segment index both run (a camera exists, the segments overlapping a range)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import CameraRow, RecordingRow, utcnow
from server.errors import InvalidArgument, NotFound
from server.recordings.ingest import MAX_SEGMENT

LIST_DEFAULT_SPAN = timedelta(hours=24)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# The class of the callers has a method called `list`, which hides the builtin in annotations.
RecordingRows = list[RecordingRow]


def iso(at: datetime) -> str:
    """`at` as RFC 3339 in UTC with milliseconds, as messages and audit details show times."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def check_range(
    start: datetime | None, end: datetime | None, max_span: timedelta | None, *, required: bool
) -> tuple[datetime, datetime]:
    """[start, end) of a request, or InvalidArgument naming the field to fix."""
    if required and start is None:
        raise InvalidArgument.for_field("start_time", "is required")
    if required and end is None:
        raise InvalidArgument.for_field("end_time", "is required")
    hi = end or utcnow()
    # A Timestamp may name the year 1, where a day earlier does not exist.
    lo = start or max(hi, datetime.min.replace(tzinfo=UTC) + LIST_DEFAULT_SPAN) - LIST_DEFAULT_SPAN
    if hi <= lo:
        raise InvalidArgument.for_field(
            "end_time", f"must be after start_time ({iso(hi)} is not after {iso(lo)})"
        )
    if max_span is not None and hi - lo > max_span:
        raise InvalidArgument.for_field(
            "end_time",
            f"the range may span at most {_span(max_span)}, got {_span(hi - lo)}; ask in parts",
        )
    # Nothing was recorded before 1970; clamping keeps index arithmetic (lo - MAX_SEGMENT)
    # away from the year 1 that a Timestamp may name.
    return max(lo, _EPOCH), max(hi, _EPOCH)


def _span(delta: timedelta) -> str:
    if delta >= timedelta(days=2):
        return f"{delta.total_seconds() / 86_400:.1f} days"
    return f"{delta.total_seconds() / 3600:.1f} hours"


def overlapping(camera_id: str, lo: datetime, hi: datetime) -> list[ColumnElement[bool]]:
    """Conditions for a camera's segments overlapping [lo, hi), bounded for the index."""
    return [
        RecordingRow.camera_id == camera_id,
        RecordingRow.start_time < hi,
        RecordingRow.start_time > lo - MAX_SEGMENT,
        RecordingRow.end_time > lo,
    ]


async def require_camera(session: AsyncSession, camera_id: str) -> None:
    """NotFound unless the camera exists (its recordings are asked for by camera)."""
    if await session.scalar(select(CameraRow.id).where(CameraRow.id == camera_id)) is None:
        raise NotFound(f"camera {camera_id} does not exist")


async def find_recording(
    session: AsyncSession, recording_id: str, *, lock: bool = False
) -> RecordingRow:
    """One segment or NotFound; `lock` holds its row until the transaction ends."""
    row = await session.get(RecordingRow, recording_id, with_for_update=lock)
    if row is None:
        raise NotFound(f"recording {recording_id} does not exist")
    return row
