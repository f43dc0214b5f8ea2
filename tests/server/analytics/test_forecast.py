"""The retention-aware forecast against synthetic growth, on both backends: a node with a known
write rate, retention and disk, compared with the closed-form answer (within 5 %)."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import pytest

from server.analytics.forecast import Growth, Verdict, floor_in_force, forecast, hours_until_full
from server.db.models.analytics import DiskSampleRow, StorageHourRow
from server.errors import NotFound
from server.settings.model import PlatformSettings, StorageSettings
from server.settings.store import SettingsStore
from tests.server.analytics.history_env import T0, Env, environment

GB = 10**9
FLOOR = 10 * GB
DAY = 86_400


@pytest.fixture(params=["sqlite", "postgres"])
async def env(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    async with environment(request.param, tmp_path) as made:
        yield made


async def grow(env: Env, node: str, camera: str, per_hour: int, hours: int) -> None:
    """`hours` hours of writes at `per_hour` bytes each, ending at T0 (as the writer stores)."""
    async with env.sessions.begin() as session:
        session.add_all(
            StorageHourRow(
                camera_id=camera,
                node_id=node,
                tier="hot",
                hour=T0 - timedelta(hours=h + 1),
                bytes_written=per_hour,
                segments=60,
            )
            for h in range(hours)
        )


async def disk(env: Env, node: str, total: int, free: int, recordings: int) -> None:
    async with env.sessions.begin() as session:
        session.add(
            DiskSampleRow(
                node_id=node,
                tier="hot",
                hour=T0 - timedelta(hours=1),
                total_bytes=total,
                free_bytes=free,
                recordings_bytes=recordings,
            )
        )


def close(a: float, b: float) -> bool:
    return abs(a - b) <= 0.05 * abs(b)


async def test_retention_met_levels_off_at_rate_times_retention(env: Env) -> None:
    node = await env.node("n")
    camera = await env.camera("c", retention_max_age_s=7 * DAY)
    await grow(env, node, camera, 2 * GB, 24)
    await disk(env, node, 1000 * GB, 600 * GB, 100 * GB)
    [f] = await forecast(env.sessions, node, timedelta(hours=24), T0, floor_bytes=FLOOR)
    assert f.verdict is Verdict.RETENTION_MET
    assert close(f.bytes_per_hour, 2 * GB)
    assert close(f.plateau_bytes, 2 * GB * 24 * 7)  # 336 GB, within 690 GB of room
    assert "Retention met" in f.summary
    [c] = f.cameras
    assert c.retention_s == 7 * DAY
    assert close(c.steady_bytes or 0, 336 * GB)


@pytest.mark.parametrize("retention_days", [30, 0])
async def test_fills_up_in_free_over_rate_days(env: Env, retention_days: int) -> None:
    node = await env.node("n")
    camera = await env.camera("c", retention_max_age_s=retention_days * DAY)
    await grow(env, node, camera, 2 * GB, 24)
    await disk(env, node, 1000 * GB, 600 * GB, 100 * GB)
    [f] = await forecast(env.sessions, node, timedelta(hours=24), T0, floor_bytes=FLOOR)
    assert f.verdict is Verdict.FILLS_UP
    # Closed form: the free space above the floor at 2 GB/h; the disk holds its recordings
    # plus that space.
    assert close(f.days_until_full, (600 - 10) / 2 / 24)
    assert close(f.achievable_retention_s, (100 + 600 - 10) / 2 * 3600)
    assert "Fills up in 12.3 days" in f.summary


async def test_a_new_node_measures_its_rate_since_it_began(env: Env) -> None:
    node = await env.node("n")
    camera = await env.camera("c")
    await grow(env, node, camera, 3 * GB, 5)  # 5 hours of a 24-hour window
    await disk(env, node, 100 * GB, 60 * GB, 15 * GB)
    [f] = await forecast(env.sessions, node, timedelta(hours=24), T0, floor_bytes=FLOOR)
    assert close(f.bytes_per_hour, 3 * GB)
    assert close(f.days_until_full, (60 - 10) / 3 / 24)


async def test_a_disk_at_its_floor_is_full_now(env: Env) -> None:
    node = await env.node("n")
    camera = await env.camera("c")
    await grow(env, node, camera, 1 * GB, 24)
    await disk(env, node, 100 * GB, 8 * GB, 80 * GB)  # 8 GB free, under the 10 GB floor
    [f] = await forecast(env.sessions, node, timedelta(hours=24), T0, floor_bytes=FLOOR)
    assert f.verdict is Verdict.FILLS_UP and f.days_until_full == 0
    assert close(f.achievable_retention_s, (80 + 8 - 10) * 3600)
    assert f.summary.startswith("Full: free space is down to the floor")


async def test_unknown_without_history_and_not_found(env: Env) -> None:
    node = await env.node("n")
    [f] = await forecast(env.sessions, node, timedelta(hours=24), T0)
    assert f.verdict is Verdict.UNKNOWN
    with pytest.raises(NotFound):
        await forecast(env.sessions, "no-such-node", timedelta(hours=24), T0)


async def test_the_floor_is_the_storage_settings_one(env: Env) -> None:
    assert await floor_in_force(env.sessions) == 1 << 30  # before anything is stored
    stored = PlatformSettings(storage=StorageSettings(free_space_floor_bytes=5 * GB))
    await SettingsStore(env.sessions).ensure(stored)
    assert await floor_in_force(env.sessions) == 5 * GB


def test_a_camera_that_plateaus_first_slows_the_fill() -> None:
    # 2 GB/h kept 24 h (levels off at 48 GB after 24 h) beside 1 GB/h kept forever; 100 GB of
    # room: 72 GB used by hour 24, the remaining 28 GB at 1 GB/h: full at hour 52.
    growths = [Growth(2 * GB, 0, 48 * GB), Growth(1 * GB, 0, None)]
    assert math.isclose(hours_until_full(growths, 100 * GB), 52.0)
    # Everything plateaus below the room: never full.
    assert hours_until_full([Growth(2 * GB, 0, 48 * GB)], 100 * GB) == math.inf
