"""Compaction and retention of the history, a leader job.

1-minute health buckets become 1-hour buckets once their hour is over (recomputed from the
minutes, replacing the hour's rows: idempotent, so a run repeated or redone by a new leader
changes nothing), then go after FINE_KEEP; 1-hour buckets, state intervals that ended, and
hourly coverage, storage and disk rows go after COARSE_KEEP. Each run also rolls the closed days
up (rollups.py), and the daily rows go a day after COARSE_KEEP."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.analytics.days import DAY
from server.analytics.history.health import COARSE, FINE, Bucket, merge_buckets
from server.analytics.history.loop import (
    HOUR,
    Clock,
    Fence,
    as_hour,
    cursor,
    every,
    floor_to,
    from_epoch_s,
    hour_of,
    set_cursor,
    to_epoch_s,
)
from server.analytics.history.rollups import roll_days
from server.db.engine import Sessions
from server.db.models import utcnow
from server.db.models.analytics import (
    CameraDayRow,
    CameraGapDayRow,
    CoverageHourRow,
    DiskSampleRow,
    HealthSampleRow,
    StateIntervalRow,
    StorageDayRow,
    StorageHourRow,
)

CURSOR = "health_hourly"
FINE_KEEP = timedelta(days=30)
COARSE_KEEP = timedelta(days=365)
INTERVAL_S = 300.0


class Compactor:
    """The leader's job that compacts health buckets and drops history past its keep."""

    def __init__(
        self,
        sessions: Sessions,
        fence: Fence,
        *,
        interval_s: float = INTERVAL_S,
        clock: Clock = utcnow,
    ) -> None:
        self._sessions = sessions
        self._fence = fence
        self._interval_s = interval_s
        self._clock = clock

    async def run(self) -> None:
        await every(self._interval_s, self.run_once, "history compaction")

    async def run_once(self, now: datetime | None = None) -> int:
        """Compact every finished hour since the cursor and drop what is past its keep;
        returns how many hours were compacted."""
        now = now or self._clock()
        current = floor_to(now, HOUR)
        async with self._sessions.begin() as session:
            await self._fence(session)
            row = await cursor(session, CURSOR)
            if row is not None:
                first = from_epoch_s(row.revision)
            else:
                oldest = await session.scalar(
                    select(func.min(HealthSampleRow.bucket_start)).where(
                        HealthSampleRow.resolution_s == FINE
                    )
                )
                first = floor_to(oldest, HOUR) if oldest is not None else current
            first = max(first, current - FINE_KEEP)
            hours = 0
            if first < current:
                await _compact(session, first, current)
                hours = int((current - first) / HOUR)
            set_cursor(session, row, CURSOR, to_epoch_s(current), now)
            await roll_days(session, now)
            await _expire(session, now)
        return hours


async def _compact(session: AsyncSession, first: datetime, end: datetime) -> None:
    """Replace the 1-hour rows of [first, end) with the sums of their minutes (summed by the
    database: an hour of 10,000 cameras is 600,000 minutes)."""
    m = HealthSampleRow
    hour = hour_of(session, m.bucket_start).label("hour")
    sums = await session.execute(
        select(
            m.camera_id,
            hour,
            func.sum(m.samples),
            func.sum(m.bitrate_kbps_avg * m.samples),
            func.min(m.bitrate_kbps_min),
            func.sum(m.fps_avg * m.samples),
            func.min(m.fps_min),
            func.max(m.viewers_max),
        )
        .where(m.resolution_s == FINE, m.bucket_start >= first, m.bucket_start < end, m.samples > 0)
        .group_by(m.camera_id, hour)
    )
    hours = {
        (camera_id, as_hour(at)): Bucket(
            int(n), float(bitrate), float(bitrate_min), float(fps), float(fps_min), int(viewers)
        )
        for camera_id, at, n, bitrate, bitrate_min, fps, fps_min, viewers in sums
    }
    await session.execute(
        delete(m).where(m.resolution_s == COARSE, m.bucket_start >= first, m.bucket_start < end)
    )
    await session.flush()
    await merge_buckets(session, COARSE, hours)


async def _expire(session: AsyncSession, now: datetime) -> None:
    fine_cut, coarse_cut = now - FINE_KEEP, now - COARSE_KEEP
    await session.execute(
        delete(HealthSampleRow).where(
            HealthSampleRow.resolution_s == FINE, HealthSampleRow.bucket_start < fine_cut
        )
    )
    await session.execute(
        delete(HealthSampleRow).where(
            HealthSampleRow.resolution_s == COARSE, HealthSampleRow.bucket_start < coarse_cut
        )
    )
    await session.execute(
        delete(StateIntervalRow).where(
            StateIntervalRow.end_time.is_not(None), StateIntervalRow.end_time < coarse_cut
        )
    )
    for table in (CoverageHourRow, StorageHourRow, DiskSampleRow):
        await session.execute(delete(table).where(table.hour < coarse_cut))
    for rolled in (CameraDayRow, CameraGapDayRow, StorageDayRow):
        await session.execute(delete(rolled).where(rolled.day < coarse_cut - DAY))
