"""The daily rollups (server/analytics/history/rollups.py) change no answer: on both backends,
for random schedules of states (outages across midnight, one still running, cameras created
mid-range) and random ranges starting and ending mid-day, GetUptime, GetCoverage and GetStorage
read with the rollups equal the same reads over the fine tables alone; and an outage across
two midnights counts once, with its full length."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from server.analytics.coverage import CoverageQuery, get_coverage
from server.analytics.days import rolled_until
from server.analytics.history.retention import Compactor
from server.analytics.history.rollups import roll_days
from server.analytics.ranges import check_window
from server.analytics.storage import Grouping, storage
from server.analytics.uptime import CameraUptime, UptimeQuery, get_uptime
from server.db.engine import Sessions
from server.db.models.analytics import (
    CameraDayRow,
    CoverageHourRow,
    HistoryCursorRow,
    StorageHourRow,
)
from server.errors import NotFound
from server.recordings.timeline import Timeline
from tests.server.analytics.history_env import Env, environment
from tests.server.analytics.test_uptime_support import T0, add_camera, add_states, sessions

__all__ = ["sessions"]

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
DAYS = 6
NOW = T0 + DAYS * DAY + 5 * HOUR + timedelta(minutes=17)


def _schedule(rng: random.Random, start: datetime) -> list[tuple[str, datetime, datetime | None]]:
    """Contiguous intervals from `start` to NOW (the last one open), as the interval writer
    leaves them: mostly online, outages of minutes to a day and a half, some of several
    states in a row (one outage)."""
    out: list[tuple[str, datetime, datetime | None]] = []
    at = start
    online = rng.random() < 0.7
    while at < NOW:
        if online:
            length = timedelta(minutes=rng.choice([5, 50, 300, 900, 1440, 2000]))
            states = ["online"]
        else:
            length = timedelta(minutes=rng.choice([1, 7, 90, 400, 1500, 2200]))
            states = rng.choice([["offline"], ["error"], ["offline", "connecting", "error"]])
        piece = length / len(states)
        for state in states:
            end = at + piece
            out.append((state, at, end if end < NOW else None))
            at = end
            if at >= NOW:
                break
        # Some outages end exactly at midnight.
        if not online and rng.random() < 0.2:
            midnight = (at + DAY).replace(hour=0, minute=0, second=0, microsecond=0)
            if midnight < NOW:
                out.append(("offline", at, midnight))
                at = midnight
        online = not online
    state, s, _ = out[-1]
    out[-1] = (state, s, None)
    return out


async def _fleet(sessions: Sessions, seed: int) -> list[str]:
    rng = random.Random(seed)
    ids = []
    for i in range(8):
        late = T0 + rng.randrange(1, DAYS * 24) * HOUR + timedelta(minutes=7)
        created = T0 - DAY if i < 6 else late
        camera_id = await add_camera(sessions, f"cam {i}", created)
        await add_states(sessions, camera_id, *_schedule(rng, created))
        ids.append(camera_id)
    async with sessions.begin() as session:
        for camera_id in ids:
            for h in range(DAYS * 24 + 5):
                hour = T0 + h * HOUR
                session.add(
                    CoverageHourRow(
                        camera_id=camera_id,
                        hour=hour,
                        expected_s=3600.0,
                        recorded_s=float(rng.randrange(0, 3600)),
                    )
                )
                session.add(
                    StorageHourRow(
                        camera_id=camera_id,
                        node_id="n" + camera_id[:8],
                        tier=rng.choice(["hot", "warm"]),
                        hour=hour,
                        bytes_written=rng.randrange(0, 10**9),
                        segments=rng.randrange(0, 400),
                    )
                )
    return ids


def _same_uptime(a: CameraUptime, b: CameraUptime) -> None:
    assert a.camera_id == b.camera_id
    assert a.up_s == pytest.approx(b.up_s, abs=1e-3)
    assert a.known_s == pytest.approx(b.known_s, abs=1e-3)
    assert a.outages.count == b.outages.count
    assert a.outages.total_s == pytest.approx(b.outages.total_s, abs=1e-3)
    assert a.outages.longest_s == pytest.approx(b.outages.longest_s, abs=1e-3)
    assert len(a.buckets) == len(b.buckets)
    for x, y in zip(a.buckets, b.buckets, strict=True):
        assert x.up_s == pytest.approx(y.up_s, abs=1e-3)
        assert x.known_s == pytest.approx(y.known_s, abs=1e-3)


async def _no_timeline(camera_id: str, lo: datetime | None, hi: datetime | None) -> Timeline:
    raise NotFound("no recordings in this test")


async def _roll(sessions: Sessions) -> None:
    rolled = 0
    for _ in range(3):  # MAX_DAYS a run
        async with sessions.begin() as session:
            rolled += await roll_days(session, NOW)
    assert rolled == DAYS + 1  # the day before T0 too
    async with sessions() as session:
        assert await rolled_until(session) == T0 + DAYS * DAY
        assert await session.scalar(
            CameraDayRow.__table__.select().with_only_columns(CameraDayRow.camera_id).limit(1)
        )


@pytest.mark.parametrize("seed", [1, 2])
async def test_reads_with_rollups_equal_the_reads_of_the_fine_tables(
    sessions: Sessions, seed: int
) -> None:
    await _fleet(sessions, seed)
    await _roll(sessions)
    rng = random.Random(seed * 100)
    ranges = [(T0 - 2 * HOUR, NOW + HOUR)]  # the whole history, up to past now
    for _ in range(5):
        lo = T0 + timedelta(minutes=rng.randrange(0, 3 * 1440))
        hi = lo + timedelta(minutes=rng.randrange(60, 5 * 1440))
        ranges.append((lo, hi))
    for lo, hi in ranges:
        for bucket in (None, DAY, 6 * HOUR, timedelta(hours=7)):
            window = check_window(lo, hi, bucket)
            for order in ("uptime", "name"):
                query = UptimeQuery(window, order_by=order, page_size=5)
                rolled = await get_uptime(sessions, query, now=NOW)
                fine = await get_uptime(sessions, query, now=NOW, rollups=False)
                _same_uptime(rolled.fleet, fine.fleet)
                assert [c.camera_id for c in rolled.cameras] == [c.camera_id for c in fine.cameras]
                for a, b in zip(rolled.cameras, fine.cameras, strict=True):
                    _same_uptime(a, b)
            cq = CoverageQuery(window, page_size=8)
            rolled_c = await get_coverage(sessions, _no_timeline, cq, now=NOW)
            fine_c = await get_coverage(sessions, _no_timeline, cq, now=NOW, rollups=False)
            pairs = zip(
                [rolled_c.fleet, *rolled_c.cameras], [fine_c.fleet, *fine_c.cameras], strict=True
            )
            for ca, cb in pairs:
                assert ca.camera_id == cb.camera_id
                assert ca.expected_s == pytest.approx(cb.expected_s, abs=1e-3)
                assert ca.recorded_s == pytest.approx(cb.recorded_s, abs=1e-3)
                for xa, xb in zip(ca.buckets, cb.buckets, strict=True):
                    assert xa.expected_s == pytest.approx(xb.expected_s, abs=1e-3)
                    assert xa.recorded_s == pytest.approx(xb.recorded_s, abs=1e-3)
            for group in Grouping:
                rolled_s = await storage(sessions, window, group)
                fine_s = await storage(sessions, window, group, rollups=False)
                assert rolled_s == fine_s


async def test_an_outage_across_two_midnights_counts_once_with_its_full_length(
    sessions: Sessions,
) -> None:
    camera = await add_camera(sessions, "Across", T0 - DAY)
    down, up = T0 + DAY + 22 * HOUR, T0 + 3 * DAY + 2 * HOUR
    await add_states(
        sessions,
        camera,
        ("online", T0 - DAY, down),
        ("offline", down, T0 + 2 * DAY + 5 * HOUR),
        ("error", T0 + 2 * DAY + 5 * HOUR, up),
        ("online", up, None),
    )
    await _roll(sessions)
    report = await get_uptime(sessions, UptimeQuery(check_window(T0, NOW, None)), now=NOW)
    assert report.fleet.outages.count == 1
    # 28 h (SQLite's julianday keeps times to a millisecond or so)
    assert report.fleet.outages.total_s == pytest.approx((up - down).total_seconds(), abs=0.01)
    assert report.fleet.outages.longest_s == pytest.approx((up - down).total_seconds(), abs=0.01)
    # A range ending within the outage clips it to its end, still once.
    clipped = check_window(T0, T0 + 2 * DAY + 12 * HOUR, None)
    report = await get_uptime(sessions, UptimeQuery(clipped), now=NOW)
    assert report.fleet.outages.count == 1
    assert report.fleet.outages.total_s == pytest.approx(
        (clipped.end - down).total_seconds(), abs=0.01
    )
    # A range starting within it does not count it.
    late = check_window(T0 + 2 * DAY + HOUR, NOW, None)
    report = await get_uptime(sessions, UptimeQuery(late), now=NOW)
    assert report.fleet.outages.count == 0


@pytest.fixture(params=["sqlite", "postgres"])
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    async with environment(request.param, tmp_path) as made:
        yield made


async def test_the_compaction_job_rolls_closed_days_the_hourly_writer_has_settled(
    env: Env,
) -> None:
    camera = await add_camera(env.sessions, "Job", T0 - DAY)
    await add_states(
        env.sessions,
        camera,
        ("online", T0 - DAY, T0 + 30 * HOUR),
        ("offline", T0 + 30 * HOUR, T0 + 50 * HOUR),
        ("online", T0 + 50 * HOUR, None),
    )
    async with env.sessions.begin() as session:
        # The hourly writer still rewrites the hours from T0 + 2 days + 5 h on.
        session.add(HistoryCursorRow(name="hourly", revision=int((T0 + 53 * HOUR).timestamp())))
    compactor = Compactor(env.sessions, env.leadership.fence)
    now = T0 + 4 * DAY
    await compactor.run_once(now)
    await compactor.run_once(now)  # a second run changes nothing
    async with env.sessions() as session:
        assert await rolled_until(session) == T0 + 2 * DAY
        days = (await session.scalars(select(CameraDayRow).order_by(CameraDayRow.day))).all()
    assert [d.day for d in days] == [T0 - DAY, T0, T0 + DAY]
    assert days[2].cross_start == T0 + 30 * HOUR  # the outage across midnight, ended since
    assert days[2].cross_end == T0 + 50 * HOUR
    window = check_window(T0 - DAY, now, None)
    rolled = await get_uptime(env.sessions, UptimeQuery(window), now=now)
    fine = await get_uptime(env.sessions, UptimeQuery(window), now=now, rollups=False)
    _same_uptime(rolled.fleet, fine.fleet)
    assert rolled.fleet.outages.count == 1
    assert rolled.fleet.outages.total_s == pytest.approx(20 * 3600, abs=0.01)
