"""Stream health (bitrate, frame rate, viewers) in 1-minute buckets, sampled on the leader.

Agents report every stream's metrics on each heartbeat into presence (server/nodes/presence.py:
in process, or Redis shared by the replicas), so the leader sees every node's streams wherever
they connected. The sampler reads them every SAMPLE_S, adds each ONLINE stream's figures to the
minute's bucket in memory and writes a minute once it is over. Writing merges with a row
already there, weighted by samples (a new leader writing the minute its predecessor began, or
two writers of one bucket), so a bucket is never overwritten by a part of itself. A leader that
dies loses at most the minute in progress; nothing is counted twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.analytics.history.loop import MINUTE, Clock, Fence, every, floor_to
from server.cameras.model import CameraStatus
from server.db.engine import Sessions
from server.db.models import utcnow
from server.db.models.analytics import HealthSampleRow
from server.nodes.live import LiveStream
from server.nodes.presence import Presence

SAMPLE_S = 10.0
FINE = 60
COARSE = 3600


class StoredBucket(Protocol):
    """A stored bucket's columns (a HealthSampleRow, or a row of them selected by name)."""

    samples: int
    bitrate_kbps_avg: float
    bitrate_kbps_min: float
    fps_avg: float
    fps_min: float
    viewers_max: int


@dataclass
class Bucket:
    """Reports of one camera in one bucket, summed."""

    samples: int = 0
    bitrate_sum: float = 0.0
    bitrate_min: float = 0.0
    fps_sum: float = 0.0
    fps_min: float = 0.0
    viewers_max: int = 0

    def add(self, bitrate_kbps: float, fps: float, viewers: int, samples: int = 1) -> None:
        """`samples` reports averaging these figures (minimums and maximum as given)."""
        self.merge(
            Bucket(samples, bitrate_kbps * samples, bitrate_kbps, fps * samples, fps, viewers)
        )

    @classmethod
    def of_row(cls, row: StoredBucket) -> Bucket:
        """A stored bucket's figures (averages) as sums again."""
        n = row.samples
        return cls(
            n, row.bitrate_kbps_avg * n, row.bitrate_kbps_min, row.fps_avg * n, row.fps_min,
            row.viewers_max,
        )  # fmt: skip

    def merge(self, other: Bucket) -> None:
        """Add another bucket's reports (weighted by their samples)."""
        if other.samples <= 0:
            return
        first = self.samples == 0
        self.samples += other.samples
        self.bitrate_sum += other.bitrate_sum
        self.fps_sum += other.fps_sum
        self.bitrate_min = other.bitrate_min if first else min(self.bitrate_min, other.bitrate_min)
        self.fps_min = other.fps_min if first else min(self.fps_min, other.fps_min)
        self.viewers_max = max(self.viewers_max, other.viewers_max)

    def merge_row(self, row: StoredBucket) -> None:
        """Add what a stored bucket holds."""
        self.merge(Bucket.of_row(row))

    def figures(self) -> dict[str, float | int]:
        """The stored columns of a bucket with samples."""
        return {
            "samples": self.samples,
            "bitrate_kbps_avg": self.bitrate_sum / self.samples,
            "bitrate_kbps_min": self.bitrate_min,
            "fps_avg": self.fps_sum / self.samples,
            "fps_min": self.fps_min,
            "viewers_max": self.viewers_max,
        }


Key = tuple[str, datetime]  # camera id, bucket start
_BATCH = 500


async def merge_buckets(
    session: AsyncSession, resolution_s: int, buckets: Mapping[Key, Bucket]
) -> None:
    """Add `buckets` to the stored ones of `resolution_s`, weighted by samples.

    In Core statements, not ORM objects: the leader writes a minute of every live camera at
    once (10,000 rows on a big fleet), and loading, adding and flushing them as objects held
    its event loop for seconds a minute (py-spy, bench_heartbeats at 1,000 nodes: ~9 % of the
    loop's time, beside the heartbeats it delays)."""
    live = {key: bucket for key, bucket in buckets.items() if bucket.samples > 0}
    if not live:
        return
    m = HealthSampleRow
    # The buckets of a flush share one or two starts: those starts' rows, which exist only
    # where another writer (a previous leader) began the same buckets.
    starts = sorted({start for _, start in live})
    stored: dict[Key, Bucket] = {}
    for i in range(0, len(starts), _BATCH):
        rows = await session.execute(
            select(
                m.camera_id,
                m.bucket_start,
                m.samples,
                m.bitrate_kbps_avg,
                m.bitrate_kbps_min,
                m.fps_avg,
                m.fps_min,
                m.viewers_max,
            ).where(m.resolution_s == resolution_s, m.bucket_start.in_(starts[i : i + _BATCH]))
        )
        for row in rows:
            if (row.camera_id, row.bucket_start) in live:
                stored[row.camera_id, row.bucket_start] = Bucket.of_row(row)
    inserts: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    for (camera_id, start), bucket in sorted(live.items()):
        key = {"camera_id": camera_id, "resolution_s": resolution_s, "bucket_start": start}
        before = stored.get((camera_id, start))
        if before is None:
            inserts.append(key | bucket.figures())
        else:
            merged = Bucket()
            merged.merge(before)
            merged.merge(bucket)
            updates.append(key | merged.figures())
    if inserts:
        await session.execute(insert(m), inserts)
    if updates:  # by primary key (SQLAlchemy's bulk UPDATE)
        await session.execute(update(m), updates)


class HealthSampler:
    """The leader's job that samples live streams into 1-minute buckets."""

    def __init__(
        self,
        sessions: Sessions,
        fence: Fence,
        presence: Presence,
        *,
        sample_s: float = SAMPLE_S,
        clock: Clock = utcnow,
    ) -> None:
        self._sessions = sessions
        self._fence = fence
        self._presence = presence
        self._sample_s = sample_s
        self._clock = clock
        self._pending: dict[Key, Bucket] = {}

    async def run(self) -> None:
        self._pending.clear()  # a job restarted mid-minute starts that minute afresh
        await every(self._sample_s, self.sample, "stream health sampler")

    async def sample(self, now: datetime | None = None) -> int:
        """Add one report per live stream at `now`, and write the minutes that are over;
        returns how many buckets were written."""
        now = now or self._clock()
        self.add(await self._presence.streams(), now)
        return await self.flush(before=floor_to(now, MINUTE))

    def add(self, streams: Iterable[LiveStream], now: datetime) -> None:
        minute = floor_to(now, MINUTE)
        for stream in streams:
            if stream.status != CameraStatus.ONLINE:
                continue
            m = stream.metrics
            bucket = self._pending.setdefault((stream.camera_id, minute), Bucket())
            bucket.add(m.bitrate_bps / 1000.0, m.fps, m.clients)

    async def flush(self, before: datetime) -> int:
        """Write the buckets that start before `before` (all of them: `datetime.max`)."""
        done = {k: b for k, b in self._pending.items() if k[1] < before}
        if not done:
            return 0
        async with self._sessions.begin() as session:
            await self._fence(session)
            await merge_buckets(session, FINE, done)
        for key in done:
            del self._pending[key]
        return len(done)
