"""A camera's stream health per bucket, from the 1-minute and 1-hour buckets of the history.

Buckets that are whole hours read the 1-hour rows, and the 1-minute rows of the hours not yet
compacted; finer buckets read the 1-minute rows (kept 30 days). Every row falls in the bucket
holding its start, merged weighted by its samples (so with a range that does not start on the
hour, each hour's figures go to the bucket its start falls in).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.analytics.history.health import COARSE, FINE, Bucket
from server.analytics.ranges import Window, check_window
from server.db.models import CameraRow
from server.db.models.analytics import HealthSampleRow
from server.errors import InvalidArgument, NotFound

# Without a bucket: minutes up to this range, hours beyond.
FINE_DEFAULT_UP_TO = timedelta(hours=6)


@dataclass(frozen=True)
class HealthPoint:
    start: datetime
    bitrate_kbps_avg: float = 0.0
    bitrate_kbps_min: float = 0.0
    fps_avg: float = 0.0
    fps_min: float = 0.0
    viewers_max: int = 0
    samples: int = 0  # 0: no data (the figures are then 0)


@dataclass(frozen=True)
class HealthSeries:
    points: list[HealthPoint]
    bucket: timedelta


def health_window(start: datetime | None, end: datetime | None, bucket: timedelta | None) -> Window:
    """The checked range and bucket of GetStreamHealth (its default bucket filled in)."""
    if bucket is None and start is not None and end is not None and end > start:
        bucket = timedelta(minutes=1) if end - start <= FINE_DEFAULT_UP_TO else timedelta(hours=1)
    return check_window(start, end, bucket)


def _point(start: datetime, bucket: Bucket) -> HealthPoint:
    if bucket.samples <= 0:
        return HealthPoint(start)
    return HealthPoint(
        start,
        bucket.bitrate_sum / bucket.samples,
        bucket.bitrate_min,
        bucket.fps_sum / bucket.samples,
        bucket.fps_min,
        bucket.viewers_max,
        bucket.samples,
    )


async def _rows(
    session: AsyncSession, camera_id: str, resolution: int, lo: datetime, hi: datetime
) -> list[HealthSampleRow]:
    return list(
        await session.scalars(
            select(HealthSampleRow).where(
                HealthSampleRow.camera_id == camera_id,
                HealthSampleRow.resolution_s == resolution,
                HealthSampleRow.bucket_start >= lo,
                HealthSampleRow.bucket_start < hi,
            )
        )
    )


async def stream_health(
    sessions: async_sessionmaker[AsyncSession], camera_id: str, window: Window
) -> HealthSeries:
    """The camera's health per bucket of `window` (NotFound for an unknown camera)."""
    if not camera_id:
        raise InvalidArgument.for_field("camera_id", "is required")
    async with sessions() as session:
        if await session.scalar(select(CameraRow.id).where(CameraRow.id == camera_id)) is None:
            raise NotFound(f"camera {camera_id} does not exist")
        fine_from = window.start
        rows: list[HealthSampleRow] = []
        hourly = window.bucket_seconds % COARSE == 0
        if hourly:
            rows = await _rows(session, camera_id, COARSE, window.start, window.end)
            newest = await session.scalar(
                select(func.max(HealthSampleRow.bucket_start)).where(
                    HealthSampleRow.camera_id == camera_id,
                    HealthSampleRow.resolution_s == COARSE,
                )
            )
            if newest is not None:
                fine_from = max(fine_from, newest + timedelta(seconds=COARSE))
        rows += await _rows(session, camera_id, FINE, fine_from, window.end)
    buckets = [Bucket() for _ in range(window.count)]
    for row in rows:
        buckets[window.bucket_of(row.bucket_start)].merge_row(row)
    return HealthSeries(
        [_point(s, b) for s, b in zip(window.bucket_starts(), buckets, strict=True)],
        window.bucket,
    )
