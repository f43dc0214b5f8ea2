"""Storage by camera, node and tier on both backends: bytes stored now from the index, bytes
written per bucket from the hourly history the writer made of the test's segments, growth per
hour, the filter and paging."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from server.analytics.history.hourly import HourlyWriter, Timelines
from server.analytics.ranges import check_window
from server.analytics.storage import Grouping, storage
from server.errors import InvalidArgument
from server.recordings.service import RecordingService
from tests.server.analytics.history_env import T0, Env, environment


@pytest.fixture(params=["sqlite", "postgres"])
async def env(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    async with environment(request.param, tmp_path) as made:
        yield made


async def test_storage_by_camera_node_and_tier(env: Env) -> None:
    a, b = await env.node("alpha"), await env.node("beta")
    one, two = await env.camera("one"), await env.camera("two")
    await env.segments(one, a, 0, 7200, size=1000)  # 120 segments over two hours
    await env.segments(two, b, 3600, 5400, size=3000, tier="warm")  # 30 in the second hour
    writer = HourlyWriter(
        env.sessions,
        env.leadership.fence,
        Timelines(RecordingService(env.sessions).timeline),
        env.presence,
    )
    await writer.run_once(T0 + timedelta(hours=2, minutes=1))
    window = check_window(T0, T0 + timedelta(hours=2), timedelta(hours=1))

    by_camera = await storage(env.sessions, window, Grouping.CAMERA)
    assert [(i.key, i.name) for i in by_camera.items] == [(one, "one"), (two, "two")]
    first, second = by_camera.items
    assert (first.stored_bytes, first.segments, first.bytes_written) == (120_000, 120, 120_000)
    assert first.bytes_per_hour == 60_000
    assert [b for _, b in first.buckets] == [60_000, 60_000]
    assert [b for _, b in second.buckets] == [0, 90_000]
    assert by_camera.total_stored_bytes == 210_000
    assert by_camera.total_bytes_per_hour == 105_000

    by_node = await storage(env.sessions, window, Grouping.NODE)
    assert [(i.name, i.bytes_written) for i in by_node.items] == [
        ("alpha", 120_000),
        ("beta", 90_000),
    ]
    by_tier = await storage(env.sessions, window, Grouping.TIER)
    assert [(i.key, i.stored_bytes) for i in by_tier.items] == [("HOT", 120_000), ("WARM", 90_000)]

    only_warm = await storage(env.sessions, window, Grouping.CAMERA, filter_text="tier = WARM")
    assert [i.key for i in only_warm.items] == [two]
    page = await storage(env.sessions, window, Grouping.CAMERA, size=1)
    assert [i.key for i in page.items] == [one] and page.total_size == 2
    rest = await storage(
        env.sessions, window, Grouping.CAMERA, size=1, page_token=page.next_page_token
    )
    assert [i.key for i in rest.items] == [two] and rest.next_page_token == ""

    with pytest.raises(InvalidArgument):
        await storage(env.sessions, window, Grouping.CAMERA, filter_text="colour = red")
    with pytest.raises(InvalidArgument):
        await storage(env.sessions, window, Grouping.NODE, page_token=page.next_page_token)
