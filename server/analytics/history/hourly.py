"""Coverage, storage and disk per hour, recomputed on the leader for the recent hours.

Coverage is not counted event by event: it is GetTimeline's own arithmetic
(RecordingService.timeline, server/recordings/timeline.py) over the recent hours, split into
hours, so "expected" and "recorded" mean exactly what the timeline says (each second once,
the overlap of a handover once). Storage is the index's segments grouped by camera, node, tier
and the hour they began. Both replace their rows from the first unsettled hour on, in one
fenced transaction with the cursor (the first hour still open to late segments), so a run
repeated or redone by a new leader writes the same rows: nothing is counted twice.

The timeline of each camera is read from CONTEXT before the first hour rewritten, so a hole
across that hour's start is seen with the segment before it (the timeline counts a hole
between two segments; one before the first segment of its range only when a gap is stored).

Disk: a node's heartbeat describes one disk, the one its recordings are written to (hot); the
newest reading of the hour is kept, with the bytes of the node's hot segments in the index.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

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
    peek_cursor,
    set_cursor,
    to_epoch_s,
)
from server.common.tasks import raise_if_cancelling
from server.db.engine import Sessions
from server.db.models import NodeRow, RecordingGapRow, RecordingRow, utcnow
from server.db.models.analytics import CoverageHourRow, DiskSampleRow, StorageHourRow
from server.errors import NotFound
from server.nodes.presence import Presence
from server.recordings.timeline import Timeline, clip, merge, seconds

CURSOR = "hourly"
# Hours before the current one rewritten on every run: segments spooled by a node that was
# away arrive late.
SETTLE = timedelta(hours=2)
# How far back a first run fills in.
BACKFILL = timedelta(days=1)
CONTEXT = timedelta(hours=6)
# Each run reads every active camera's timeline (a few indexed queries each): every 5 minutes
# keeps that small on the leader; GetCoverage reads the running hour from timelines itself.
INTERVAL_S = 300.0
DISK_TIER = "hot"

# Hours older than this are never rewritten, whatever the cursor (GetTimeline reads at most 31
# days).
OLDEST = timedelta(days=30)

# RecordingService.timeline: a camera's timeline of [lo, hi), NotFound for a deleted camera.
TimelineOf = Callable[[str, datetime | None, datetime | None], Awaitable[Timeline]]


class Timelines:
    """What the writer needs of the recordings domain: a camera's timeline."""

    def __init__(self, timeline: TimelineOf) -> None:
        self._timeline = timeline

    async def of(self, camera_id: str, lo: datetime, hi: datetime) -> Timeline | None:
        try:
            return await self._timeline(camera_id, lo, hi)
        except NotFound:  # deleted: its settled hours stay, the unsettled ones go
            return None


def per_hour(
    timeline: Timeline, first: datetime, end: datetime
) -> dict[datetime, tuple[float, float]]:
    """(expected_s, recorded_s) of each hour from `first` (an hour's start) to `end`."""
    expected = merge([*timeline.spans, *((g.start, g.end) for g in timeline.gaps)])
    out: dict[datetime, tuple[float, float]] = {}
    hour = first
    while hour < end:
        upto = hour + HOUR
        e = seconds(p for i in expected if (p := clip(i, hour, upto)))
        r = seconds(p for i in timeline.spans if (p := clip(i, hour, upto)))
        if e or r:
            out[hour] = (e, r)
        hour = upto
    return out


class HourlyWriter:
    """The leader's job behind coverage_hourly, storage_hourly and disk_samples."""

    def __init__(
        self,
        sessions: Sessions,
        fence: Fence,
        timelines: Timelines,
        presence: Presence,
        *,
        interval_s: float = INTERVAL_S,
        clock: Clock = utcnow,
    ) -> None:
        self._sessions = sessions
        self._fence = fence
        self._timelines = timelines
        self._presence = presence
        self._interval_s = interval_s
        self._clock = clock

    async def run(self) -> None:
        await every(self._interval_s, self.run_once, "hourly history writer")

    async def run_once(self, now: datetime | None = None) -> datetime:
        """Rewrite the unsettled hours up to `now`; returns the first hour rewritten."""
        now = now or self._clock()
        current = floor_to(now, HOUR)
        async with self._sessions() as session:
            stored = await peek_cursor(session, CURSOR)
            first = current - BACKFILL if stored is None else from_epoch_s(stored)
        first = max(min(first, current - SETTLE), current - OLDEST)
        lo = first - CONTEXT
        async with self._sessions() as session:
            camera_ids = await _active_cameras(session, lo, now)
        coverage: dict[tuple[str, datetime], tuple[float, float]] = {}
        for camera_id in camera_ids:
            raise_if_cancelling()  # thousands of cameras: a step-down must not wait for all
            timeline = await self._timelines.of(camera_id, lo, now)
            if timeline is not None:
                for hour, figures in per_hour(timeline, first, now).items():
                    coverage[(camera_id, hour)] = figures
        disks = await self._disks()
        async with self._sessions.begin() as session:
            await self._fence(session)
            row = await cursor(session, CURSOR)
            await session.execute(delete(CoverageHourRow).where(CoverageHourRow.hour >= first))
            session.add_all(
                CoverageHourRow(camera_id=c, hour=h, expected_s=e, recorded_s=r)
                for (c, h), (e, r) in coverage.items()
            )
            await _storage(session, first, now)
            await _disk_samples(session, disks, current)
            set_cursor(session, row, CURSOR, to_epoch_s(current - SETTLE), now)
        return first

    async def _disks(self) -> dict[str, tuple[int, int]]:
        """node id -> (total, used) of its recordings disk, as its last heartbeat said."""
        async with self._sessions() as session:
            node_ids = list(await session.scalars(select(NodeRow.id)))
        out: dict[str, tuple[int, int]] = {}
        for node_id in node_ids:
            raise_if_cancelling()  # redis-py may swallow a cancellation (server/common/tasks.py)
            live = await self._presence.host(node_id)
            if live is not None and live.host.disk_total_bytes > 0:
                out[node_id] = (live.host.disk_total_bytes, live.host.disk_used_bytes)
        return out


async def _active_cameras(session: AsyncSession, lo: datetime, hi: datetime) -> list[str]:
    """Cameras with a segment or a gap in [lo, hi)."""
    recorded = select(RecordingRow.camera_id).where(
        RecordingRow.end_time > lo, RecordingRow.start_time < hi
    )
    gapped = select(RecordingGapRow.camera_id).where(
        RecordingGapRow.start_time < hi,
        or_(RecordingGapRow.end_time.is_(None), RecordingGapRow.end_time > lo),
    )
    return sorted(set(await session.scalars(recorded.union(gapped))))


async def _storage(session: AsyncSession, first: datetime, now: datetime) -> None:
    """Segments by camera, node, tier and the hour they began, summed by the database (a day
    of 10-second segments of 10,000 cameras is millions of rows, the sums a few thousand)."""
    await session.execute(delete(StorageHourRow).where(StorageHourRow.hour >= first))
    hour = hour_of(session, RecordingRow.start_time).label("hour")
    rows = await session.execute(
        select(
            RecordingRow.camera_id,
            RecordingRow.node_id,
            RecordingRow.tier,
            hour,
            func.sum(RecordingRow.size_bytes),
            func.count(),
        )
        .where(RecordingRow.start_time >= first, RecordingRow.start_time < now)
        .group_by(RecordingRow.camera_id, RecordingRow.node_id, RecordingRow.tier, hour)
    )
    session.add_all(
        StorageHourRow(
            camera_id=c, node_id=n, tier=t, hour=as_hour(h), bytes_written=int(b), segments=k
        )
        for c, n, t, h, b, k in rows
    )


async def _disk_samples(
    session: AsyncSession, disks: dict[str, tuple[int, int]], hour: datetime
) -> None:
    if not disks:
        return
    stored = dict(
        (
            await session.execute(
                select(RecordingRow.node_id, func.sum(RecordingRow.size_bytes))
                .where(RecordingRow.node_id.in_(disks), RecordingRow.tier == DISK_TIER)
                .group_by(RecordingRow.node_id)
            )
        ).all()
    )
    await session.execute(
        delete(DiskSampleRow).where(DiskSampleRow.hour == hour, DiskSampleRow.node_id.in_(disks))
    )
    session.add_all(
        DiskSampleRow(
            node_id=node_id,
            tier=DISK_TIER,
            hour=hour,
            total_bytes=total,
            free_bytes=max(0, total - used),
            recordings_bytes=int(stored.get(node_id) or 0),
        )
        for node_id, (total, used) in disks.items()
    )
