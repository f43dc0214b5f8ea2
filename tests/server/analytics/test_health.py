"""Stream health on both backends: live streams sampled from presence into 1-minute buckets,
a bucket written twice (a new leader finishing a minute) merged by samples, compaction into
1-hour buckets, the keep of each, and the series a reader gets at either resolution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from server.analytics.health import health_window, stream_health
from server.analytics.history.health import FINE, HealthSampler
from server.analytics.history.retention import Compactor
from server.cameras.model import CameraStatus
from server.db.models.analytics import HealthSampleRow, StateIntervalRow
from server.errors import InvalidArgument, NotFound
from server.nodes.live import HostMetrics, LiveStream, StreamMetrics
from tests.server.analytics.history_env import T0, Env, environment


@pytest.fixture(params=["sqlite", "postgres"])
async def env(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    async with environment(request.param, tmp_path) as made:
        yield made


def live(camera_id: str, node_id: str, kbps: int, fps: float, viewers: int) -> LiveStream:
    metrics = StreamMetrics(bitrate_bps=kbps * 1000, fps=fps, clients=viewers)
    return LiveStream(camera_id, CameraStatus.ONLINE, node_id, T0, metrics=metrics)


async def report(env: Env, node: str, *streams: LiveStream) -> None:
    await env.presence.heartbeat(node, 0.0, HostMetrics(), list(streams))


async def rows(env: Env, resolution: int) -> list[HealthSampleRow]:
    async with env.sessions() as session:
        return list(
            await session.scalars(
                select(HealthSampleRow)
                .where(HealthSampleRow.resolution_s == resolution)
                .order_by(HealthSampleRow.bucket_start)
            )
        )


async def test_minutes_merge_by_samples_and_compact_into_hours(env: Env) -> None:
    node = await env.node("n")
    camera = await env.camera("c")
    sampler = HealthSampler(env.sessions, env.leadership.fence, env.presence)
    # Minute 0: three reports (1000, 2000, 3000 kbit/s); nothing written until it is over.
    for second, kbps in ((0, 1000), (10, 2000), (20, 3000)):
        await report(env, node, live(camera, node, kbps, 25.0 - second / 10, 2))
        assert await sampler.sample(T0 + timedelta(seconds=second)) == 0
    # The leader changes mid-minute 1: the old one wrote one report of it, the new one two.
    await report(env, node, live(camera, node, 600, 20.0, 5))
    await sampler.sample(T0 + timedelta(seconds=65))
    await sampler.flush(before=datetime.max.replace(tzinfo=UTC))
    await env.new_leader()
    successor = HealthSampler(env.sessions, env.leadership.fence, env.presence)
    await report(env, node, live(camera, node, 1200, 25.0, 1))
    await successor.sample(T0 + timedelta(seconds=70))
    await successor.sample(T0 + timedelta(seconds=80))
    assert await successor.sample(T0 + timedelta(seconds=125)) == 1

    minute0, minute1 = await rows(env, FINE)
    assert (minute0.samples, minute0.bitrate_kbps_avg, minute0.bitrate_kbps_min) == (3, 2000, 1000)
    assert (minute0.fps_avg, minute0.fps_min, minute0.viewers_max) == (24.0, 23.0, 2)
    # (600 + 2 x 1200) / 3: each report weighs the same, whoever wrote it.
    assert minute1.samples == 3
    assert minute1.bitrate_kbps_avg == pytest.approx(1000.0)
    assert (minute1.bitrate_kbps_min, minute1.fps_min, minute1.viewers_max) == (600, 20.0, 5)

    compactor = Compactor(env.sessions, env.leadership.fence)
    assert await compactor.run_once(T0 + timedelta(minutes=59)) == 0  # the hour is not over
    assert await compactor.run_once(T0 + timedelta(hours=1, minutes=5)) == 1
    await compactor.run_once(T0 + timedelta(hours=1, minutes=6))  # again: unchanged
    [hour] = await rows(env, 3600)
    assert hour.bucket_start == T0 and hour.samples == 6
    assert hour.bitrate_kbps_avg == pytest.approx((6000 + 3000) / 6)
    assert (hour.bitrate_kbps_min, hour.fps_min, hour.viewers_max) == (600, 20.0, 5)

    # Read back: minutes for 6 hours, hours beyond; empty buckets have no samples.
    series = await stream_health(
        env.sessions, camera, health_window(T0, T0 + timedelta(minutes=3), None)
    )
    assert series.bucket == timedelta(minutes=1)
    assert [p.samples for p in series.points] == [3, 3, 0]
    assert series.points[1].bitrate_kbps_avg == pytest.approx(1000.0)
    daily = await stream_health(
        env.sessions, camera, health_window(T0, T0 + timedelta(days=1), None)
    )
    assert daily.bucket == timedelta(hours=1) and len(daily.points) == 24
    assert daily.points[0].samples == 6 and daily.points[1].samples == 0

    # A year and more later: minutes went after 30 days, hours after a year.
    await compactor.run_once(T0 + timedelta(days=31))
    assert await rows(env, FINE) == [] and len(await rows(env, 3600)) == 1
    # Over 40 days in daily buckets from half past: the buckets are UTC days (the first the part
    # of T0's day from the range's start), and the first has the hour's figures, though its
    # minutes went.
    window = health_window(T0 - timedelta(minutes=30), T0 + timedelta(days=40), timedelta(days=1))
    long_range = await stream_health(env.sessions, camera, window)
    midnight = T0.replace(hour=0, minute=0) + timedelta(days=1)
    assert [p.start for p in long_range.points[:2]] == [T0 - timedelta(minutes=30), midnight]
    assert [p.samples for p in long_range.points[:2]] == [6, 0]
    assert long_range.points[0].bitrate_kbps_avg == pytest.approx(1500.0)
    await compactor.run_once(T0 + timedelta(days=366))
    assert await rows(env, 3600) == []


async def test_old_closed_intervals_go_after_a_year(env: Env) -> None:
    async with env.sessions.begin() as session:
        session.add_all(
            [
                StateIntervalRow(
                    subject_kind="camera",
                    subject_id="x",
                    state="online",
                    start_time=T0,
                    end_time=T0 + timedelta(hours=1),
                ),
                StateIntervalRow(
                    subject_kind="camera",
                    subject_id="x",
                    state="offline",
                    start_time=T0 + timedelta(hours=1),
                    end_time=None,
                ),
            ]
        )
    await Compactor(env.sessions, env.leadership.fence).run_once(T0 + timedelta(days=366))
    async with env.sessions() as session:
        left = (await session.scalars(select(StateIntervalRow))).all()
    assert [r.state for r in left] == ["offline"]  # the open one stays


async def test_bad_ranges_and_unknown_cameras(env: Env) -> None:
    with pytest.raises(InvalidArgument) as end_first:
        health_window(T0, T0 - timedelta(hours=1), None)
    assert [v.field for v in end_first.value.violations] == ["range.end_time"]
    with pytest.raises(InvalidArgument) as fine_year:
        health_window(T0, T0 + timedelta(days=365), timedelta(seconds=30))
    assert [v.field for v in fine_year.value.violations] == ["bucket"]
    with pytest.raises(NotFound):
        await stream_health(env.sessions, "nope", health_window(T0, T0 + timedelta(hours=1), None))
