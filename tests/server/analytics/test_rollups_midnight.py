"""Daily buckets aligned on UTC midnights, the interval the rollup keeps for each midnight and the
gaps' seconds by cause per day (server/analytics/days.py, history/rollups.py), on both backends,
for the random schedules of test_rollups.py with stored gaps added:

- the rollup reads equal the reads of the fine tables (gaps by cause too);
- every daily bucket but the first starts at a UTC midnight, the first at the range's start;
- camera_days keeps, for each camera-day, the schedule's interval running at the next midnight;
- a daily series starting mid-day takes its whole days from the rollups alone, and its first
  edge the interval running at its midnight from the rollup: once the fine rows those parts
  would need are deleted, the rollup reads still give the answers the fine tables gave."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import and_, delete, select

from server.analytics.coverage import CoverageQuery, CoverageReport, get_coverage
from server.analytics.days import floor_day
from server.analytics.ranges import Window, check_window
from server.analytics.storage import Grouping, storage
from server.analytics.uptime import UptimeQuery, UptimeReport, get_uptime
from server.db.engine import Sessions
from server.db.models import RecordingGapRow
from server.db.models.analytics import (
    CameraDayRow,
    CoverageHourRow,
    StateIntervalRow,
    StorageHourRow,
)
from server.recordings.causes import GapCause
from tests.server.analytics.test_rollups import (
    DAY,
    DAYS,
    HOUR,
    NOW,
    _fleet,
    _no_timeline,
    _roll,
    _same_uptime,
)
from tests.server.analytics.test_uptime_support import T0, sessions

__all__ = ["sessions"]

CAUSES = [c.value for c in GapCause]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


async def _gaps(sessions: Sessions, ids: list[str], seed: int) -> None:
    """Stored gaps of random causes: minutes to two days long, some across midnights, one open."""
    rng = random.Random(seed * 7)
    async with sessions.begin() as session:
        for camera_id in ids:
            at = T0 + timedelta(minutes=rng.randrange(0, 600))
            while at < NOW - HOUR:
                length = timedelta(minutes=rng.choice([3, 45, 400, 1500, 2900]))
                end: datetime | None = at + length
                if end is not None and end >= NOW:
                    end = None
                session.add(
                    RecordingGapRow(
                        camera_id=camera_id, start_time=at, end_time=end, cause=rng.choice(CAUSES)
                    )
                )
                if end is None:
                    break
                at = end + timedelta(minutes=rng.choice([10, 300, 1000]))


async def _reads(sessions: Sessions, window: Window, rollups: bool) -> tuple[Any, ...]:
    uptime = await get_uptime(sessions, UptimeQuery(window, page_size=8), now=NOW, rollups=rollups)
    coverage = await get_coverage(
        sessions, _no_timeline, CoverageQuery(window, page_size=8), now=NOW, rollups=rollups
    )
    stored = [await storage(sessions, window, g, rollups=rollups) for g in Grouping]
    return uptime, coverage, stored


def _same(a: tuple[Any, ...], b: tuple[Any, ...], *, lengths: bool = True) -> None:
    """The same answers; `lengths` False: outages' total and longest not compared."""
    ua: UptimeReport = a[0]
    ub: UptimeReport = b[0]
    if lengths:
        _same_uptime(ua.fleet, ub.fleet)
        for x, y in zip(ua.cameras, ub.cameras, strict=True):
            _same_uptime(x, y)
    for x, y in zip([ua.fleet, *ua.cameras], [ub.fleet, *ub.cameras], strict=True):
        assert x.camera_id == y.camera_id
        assert x.up_s == pytest.approx(y.up_s, abs=1e-3)
        assert x.known_s == pytest.approx(y.known_s, abs=1e-3)
        assert x.outages.count == y.outages.count
        for p, q in zip(x.buckets, y.buckets, strict=True):
            assert p.start == q.start
            assert p.up_s == pytest.approx(q.up_s, abs=1e-3)
            assert p.known_s == pytest.approx(q.known_s, abs=1e-3)
    ca: CoverageReport = a[1]
    cb: CoverageReport = b[1]
    for x, y in zip([ca.fleet, *ca.cameras], [cb.fleet, *cb.cameras], strict=True):
        assert x.camera_id == y.camera_id
        assert x.expected_s == pytest.approx(y.expected_s, abs=1e-3)
        assert x.recorded_s == pytest.approx(y.recorded_s, abs=1e-3)
        for p, q in zip(x.buckets, y.buckets, strict=True):
            assert p.start == q.start
            assert p.expected_s == pytest.approx(q.expected_s, abs=1e-3)
            assert p.recorded_s == pytest.approx(q.recorded_s, abs=1e-3)
        assert [(g.cause, g.count) for g in x.gaps] == [(g.cause, g.count) for g in y.gaps]
        for p, q in zip(x.gaps, y.gaps, strict=True):
            # SQLite's julianday keeps times to a millisecond or so.
            assert p.seconds == pytest.approx(q.seconds, abs=0.05)
    assert a[2] == b[2]


def _aligned(window: Window) -> None:
    """The first bucket starts at the range's start, the others on the bucket's multiples since
    the Unix epoch (UTC midnights), one bucket apart, the first of them within a bucket."""
    starts = window.bucket_starts()
    assert starts[0] == window.start
    for s in starts[1:]:
        assert (s - EPOCH) % window.bucket == timedelta(0)
    if len(starts) > 1:
        assert window.start < starts[1] <= window.start + window.bucket
    assert [b - a for a, b in itertools.pairwise(starts[1:])] == [window.bucket] * (len(starts) - 2)
    assert starts[-1] < window.end


@pytest.mark.parametrize("seed", [3, 4])
async def test_daily_buckets_gaps_and_midnights_with_rollups_equal_the_fine_tables(
    sessions: Sessions, seed: int
) -> None:
    ids = await _fleet(sessions, seed)
    await _gaps(sessions, ids, seed)
    await _roll(sessions)
    rng = random.Random(seed * 31)
    ranges = [(T0 - 2 * HOUR, NOW + HOUR)]
    for _ in range(4):
        lo = T0 + timedelta(minutes=rng.randrange(0, 3 * 1440))
        ranges.append((lo, lo + timedelta(minutes=rng.randrange(60, 5 * 1440))))
    for lo, hi in ranges:
        for bucket in (None, DAY, 2 * DAY):
            window = check_window(lo, hi, bucket)
            if bucket is not None:
                _aligned(window)
            _same(await _reads(sessions, window, True), await _reads(sessions, window, False))
    # The interval kept for each midnight is the schedule's own.
    async with sessions() as session:
        days = (await session.scalars(select(CameraDayRow))).all()
        intervals = (await session.scalars(select(StateIntervalRow))).all()
    assert days
    for row in days:
        at = row.day + DAY
        running = [
            i
            for i in intervals
            if i.subject_id == row.camera_id
            and i.start_time < at
            and (i.end_time is None or i.end_time >= at)
        ]
        if not running:
            assert row.midnight_id is None
            continue
        (i,) = running
        assert (row.midnight_id, row.midnight_state, row.midnight_start) == (
            i.id,
            i.state,
            i.start_time,
        )
        # Closed by NOW, so its end is kept (filled after the roll when it closed later).
        assert row.midnight_end == i.end_time


@pytest.mark.parametrize("seed", [5])
async def test_a_daily_series_from_mid_day_reads_whole_days_and_its_midnight_from_the_rollups(
    sessions: Sessions, seed: int
) -> None:
    ids = await _fleet(sessions, seed)
    await _gaps(sessions, ids, seed)
    await _roll(sessions)
    lo, hi = T0 + DAY + 9 * HOUR + timedelta(minutes=13), NOW - HOUR
    window = check_window(lo, hi, DAY)
    assert window.count == 6  # the partial first day, 4 whole days, the partial last
    fine = await _reads(sessions, window, False)
    d0, d1 = T0 + 2 * DAY, T0 + DAYS * DAY  # the whole rolled days of the range
    async with sessions.begin() as session:
        for table, at in (
            (CoverageHourRow, CoverageHourRow.hour),
            (StorageHourRow, StorageHourRow.hour),
        ):
            await session.execute(delete(table).where(at >= d0, at < d1))
        si, g = StateIntervalRow, RecordingGapRow
        # What only the whole days need, and what began before the first edge's midnight
        # (its running interval is kept by the day before's rollup).
        await session.execute(
            delete(si).where(
                (and_(si.start_time >= d0, si.end_time < d1)) | (si.start_time < floor_day(lo))
            )
        )
        await session.execute(delete(g).where(g.start_time >= d0, g.end_time < d1))
    rolled = await _reads(sessions, window, True)
    # An outage running past an edge has its end looked up in the intervals (by design: the
    # rollups keep no outage's end beyond its day), which were cut away here: lengths aside.
    _same(rolled, fine, lengths=False)
