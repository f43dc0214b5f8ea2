"""Coverage, storage and disk per hour, on both backends, exactly against the segments and gaps
the test writes: a handover's overlap counts once, a stored gap is expected and not recorded,
the time after the last segment is not expected; a rerun or a new leader's run writes the same
rows."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from server.analytics.history.hourly import HourlyWriter, Timelines
from server.db.models import RecordingGapRow
from server.db.models.analytics import CoverageHourRow, DiskSampleRow, StorageHourRow
from server.nodes.live import HostMetrics
from server.recordings.service import RecordingService
from tests.server.analytics.history_env import T0, Env, environment

H = 3600


@pytest.fixture(params=["sqlite", "postgres"])
async def env(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    async with environment(request.param, tmp_path) as made:
        yield made


def writer(env: Env) -> HourlyWriter:
    timelines = Timelines(RecordingService(env.sessions).timeline)
    return HourlyWriter(env.sessions, env.leadership.fence, timelines, env.presence)


async def coverage(env: Env) -> dict[tuple[str, float], tuple[float, float]]:
    async with env.sessions() as session:
        rows = await session.scalars(select(CoverageHourRow))
        return {
            (r.camera_id, (r.hour - T0).total_seconds() / H): (
                round(r.expected_s, 3),
                round(r.recorded_s, 3),
            )
            for r in rows
        }


async def storage(env: Env) -> dict[tuple[str, str, str, float], tuple[int, int]]:
    async with env.sessions() as session:
        rows = await session.scalars(select(StorageHourRow))
        return {
            (r.camera_id, r.node_id, r.tier, (r.hour - T0).total_seconds() / H): (
                r.bytes_written,
                r.segments,
            )
            for r in rows
        }


async def test_coverage_and_storage_per_hour(env: Env) -> None:
    a, b = await env.node("a"), await env.node("b")
    camera = await env.camera("gate", recording_enabled=True)
    # 12:00-12:30 on a; b takes over at 12:29:30 (30 s recorded twice) until 13:10.
    await env.segments(camera, a, 0, 1800, size=1000)
    await env.segments(camera, b, 1770, 4200, size=2000)
    # 13:10-13:20 lost with the node (a stored gap), then 13:20-13:40 on b again; nothing after.
    async with env.sessions.begin() as session:
        session.add(
            RecordingGapRow(
                camera_id=camera,
                node_id=b,
                start_time=T0 + timedelta(seconds=4200),
                end_time=T0 + timedelta(seconds=4800),
                cause="node_lost",
            )
        )
    await env.segments(camera, b, 4800, 6000, size=2000, tier="warm")
    await env.presence.heartbeat(
        a, 0.0, HostMetrics(disk_used_bytes=400, disk_total_bytes=1000), []
    )
    now = T0 + timedelta(hours=2, minutes=5)
    await writer(env).run_once(now)

    assert await coverage(env) == {
        (camera, 0): (3600.0, 3600.0),  # the overlap once
        (camera, 1): (2400.0, 1800.0),  # 600 s lost (expected), 13:40-14:00 not expected
    }
    # Segments by the hour they began: a's 30 of 1000 B; b's 12:29:30-13:00 (31 segments, the
    # last 30 s long) then 13:00:30-13:10 (10) and 13:20-13:40 (20, warm).
    assert await storage(env) == {
        (camera, a, "hot", 0): (30_000, 30),
        (camera, b, "hot", 0): (31 * 2000, 31),
        (camera, b, "hot", 1): (10 * 2000, 10),
        (camera, b, "warm", 1): (20 * 2000, 20),
    }
    async with env.sessions() as session:
        [disk] = (await session.scalars(select(DiskSampleRow))).all()
    assert (disk.node_id, disk.tier, disk.hour) == (a, "hot", T0 + timedelta(hours=2))
    assert (disk.total_bytes, disk.free_bytes, disk.recordings_bytes) == (1000, 600, 30_000)

    # Again, and by a new leader: the same rows, nothing counted twice.
    first_rows = (await coverage(env), await storage(env))
    await writer(env).run_once(now)
    await env.new_leader()
    await writer(env).run_once(now + timedelta(minutes=1))
    assert (await coverage(env), await storage(env)) == first_rows


async def test_late_segments_of_a_settling_hour_are_counted(env: Env) -> None:
    a = await env.node("a")
    camera = await env.camera("late", recording_enabled=True)
    await env.segments(camera, a, 0, 600)
    await writer(env).run_once(T0 + timedelta(minutes=30))
    assert await coverage(env) == {(camera, 0): (600.0, 600.0)}
    # A node back from a partition delivers 12:10-12:20 an hour later: the hour is rewritten.
    await env.segments(camera, a, 600, 1200)
    await writer(env).run_once(T0 + timedelta(hours=1, minutes=30))
    assert await coverage(env) == {(camera, 0): (1200.0, 1200.0)}
