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

from sqlalchemy import select, tuple_
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
        first = self.samples == 0
        self.samples += samples
        self.bitrate_sum += bitrate_kbps * samples
        self.fps_sum += fps * samples
        self.bitrate_min = bitrate_kbps if first else min(self.bitrate_min, bitrate_kbps)
        self.fps_min = fps if first else min(self.fps_min, fps)
        self.viewers_max = max(self.viewers_max, viewers)

    def merge_row(self, row: HealthSampleRow) -> None:
        """Add what a stored bucket holds."""
        if row.samples <= 0:
            return
        self.add(row.bitrate_kbps_avg, row.fps_avg, row.viewers_max, row.samples)
        self.bitrate_min = min(self.bitrate_min, row.bitrate_kbps_min)
        self.fps_min = min(self.fps_min, row.fps_min)

    def write_into(self, row: HealthSampleRow) -> None:
        row.samples = self.samples
        row.bitrate_kbps_avg = self.bitrate_sum / self.samples
        row.bitrate_kbps_min = self.bitrate_min
        row.fps_avg = self.fps_sum / self.samples
        row.fps_min = self.fps_min
        row.viewers_max = self.viewers_max


Key = tuple[str, datetime]  # camera id, bucket start


async def merge_buckets(
    session: AsyncSession, resolution_s: int, buckets: Mapping[Key, Bucket]
) -> None:
    """Add `buckets` to the stored ones of `resolution_s`, weighted by samples."""
    keys = sorted(buckets)
    stored: dict[Key, HealthSampleRow] = {}
    for i in range(0, len(keys), 500):
        rows = await session.scalars(
            select(HealthSampleRow).where(
                HealthSampleRow.resolution_s == resolution_s,
                tuple_(HealthSampleRow.camera_id, HealthSampleRow.bucket_start).in_(
                    keys[i : i + 500]
                ),
            )
        )
        stored.update({(r.camera_id, r.bucket_start): r for r in rows})
    for key in keys:
        bucket = buckets[key]
        if bucket.samples <= 0:
            continue
        row = stored.get(key)
        if row is None:
            row = HealthSampleRow(camera_id=key[0], resolution_s=resolution_s, bucket_start=key[1])
            session.add(row)
        else:
            merged = Bucket()
            merged.merge_row(row)
            merged.merge_row(_as_row(bucket))
            bucket = merged
        bucket.write_into(row)


def _as_row(bucket: Bucket) -> HealthSampleRow:
    row = HealthSampleRow()
    bucket.write_into(row)
    return row


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
