"""GetUptime's figures (server/analytics/uptime.py) on both backends equal the ones computed by
hand from a scripted history: clipping to the range, to now and to the camera's creation,
outages that began in the range, buckets, the fleet, filters, orders and pages."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server.analytics.ranges import check_window
from server.analytics.uptime import UptimeQuery, get_uptime, mtbf_s
from server.db.engine import Sessions
from server.errors import InvalidArgument, NotFound
from tests.server.analytics.test_uptime_support import MIN, T0, add_camera, add_states, sessions

__all__ = ["sessions"]

HOUR = timedelta(hours=1)
NOW = T0 + 2 * HOUR


async def _scripted(sessions: Sessions) -> dict[str, str]:
    a = await add_camera(sessions, "Alpha", T0 - HOUR, {"site": "north"})
    await add_states(
        sessions,
        a,
        ("online", T0 - HOUR, T0 + 10 * MIN),
        ("offline", T0 + 10 * MIN, T0 + 15 * MIN),
        ("connecting", T0 + 15 * MIN, T0 + 16 * MIN),  # the same outage, 6 min in all
        ("online", T0 + 16 * MIN, T0 + 50 * MIN),
        ("error", T0 + 50 * MIN, T0 + 55 * MIN),
        ("online", T0 + 55 * MIN, None),
    )
    b = await add_camera(sessions, "Bravo", T0 + 30 * MIN, {"site": "south"})
    await add_states(
        sessions,
        b,
        ("online", T0 + 30 * MIN, T0 + 40 * MIN),
        ("offline", T0 + 40 * MIN, None),  # down until now: clipped to the range's end
    )
    c = await add_camera(sessions, "Charlie", T0 + 90 * MIN)  # created after the range
    await add_states(sessions, c, ("online", T0 + 90 * MIN, None))
    d = await add_camera(sessions, "Delta", T0 - HOUR)
    await add_states(
        sessions,
        d,
        ("offline", T0 - 30 * MIN, T0 + 5 * MIN),  # began before the range: not counted
        ("online", T0 + 5 * MIN, None),
    )
    return {"a": a, "b": b, "c": c, "d": d}


def _query(**kw: object) -> UptimeQuery:
    window = check_window(T0, T0 + HOUR, kw.pop("bucket", None))  # type: ignore[arg-type]
    return UptimeQuery(window, **kw)  # type: ignore[arg-type]


async def test_uptime_outages_and_buckets_equal_the_hand_computed_figures(
    sessions: Sessions,
) -> None:
    ids = await _scripted(sessions)
    report = await get_uptime(sessions, _query(bucket=30 * MIN), now=NOW)
    by_id = {c.camera_id: c for c in report.cameras}
    # Worst uptime first: Bravo 10/30, Alpha 49/60, Delta 55/60, Charlie nothing known (1).
    assert [c.camera_id for c in report.cameras] == [ids["b"], ids["a"], ids["d"], ids["c"]]
    assert report.total_size == 4 and report.next_page_token == ""

    a = by_id[ids["a"]]
    assert a.up_s == pytest.approx(49 * 60) and a.known_s == pytest.approx(3600)
    assert a.down_s == pytest.approx(11 * 60) and a.uptime == pytest.approx(49 / 60)
    assert a.outages.count == 2
    assert a.outages.total_s == pytest.approx(11 * 60)
    assert a.outages.longest_s == pytest.approx(6 * 60)
    assert mtbf_s(a.up_s, a.outages) == pytest.approx(49 * 60 / 2)
    assert [(x.start, round(x.up_s), round(x.known_s)) for x in a.buckets] == [
        (T0, 24 * 60, 30 * 60),
        (T0 + 30 * MIN, 25 * 60, 30 * 60),
    ]

    b = by_id[ids["b"]]
    assert (round(b.up_s), round(b.known_s)) == (600, 1800)
    assert (b.outages.count, round(b.outages.total_s)) == (1, 20 * 60)
    assert [(round(x.up_s), round(x.known_s), x.uptime) for x in b.buckets] == [
        (0, 0, 1.0),  # before Bravo existed: nothing known, not down
        (600, 1800, pytest.approx(1 / 3)),
    ]
    c = by_id[ids["c"]]
    assert (c.known_s, c.uptime, c.outages.count) == (0.0, 1.0, 0)
    d = by_id[ids["d"]]
    assert (round(d.up_s), round(d.known_s), d.outages.count) == (55 * 60, 3600, 0)
    assert mtbf_s(d.up_s, d.outages) is None

    fleet = report.fleet
    assert round(fleet.up_s) == (49 + 10 + 55) * 60
    assert round(fleet.known_s) == (60 + 30 + 60) * 60
    assert (fleet.outages.count, round(fleet.outages.total_s)) == (3, 31 * 60)
    assert round(fleet.outages.longest_s) == 20 * 60
    assert [(round(x.up_s), round(x.known_s)) for x in fleet.buckets] == [
        ((24 + 25) * 60, (30 + 30) * 60),
        ((25 + 10 + 30) * 60, (30 + 30 + 30) * 60),
    ]


async def test_one_bucket_when_unset_and_an_open_interval_ends_now(sessions: Sessions) -> None:
    ids = await _scripted(sessions)
    # The range reaches past now: what has not happened yet is not known.
    window = check_window(T0, T0 + 3 * HOUR, None)
    report = await get_uptime(
        sessions, UptimeQuery(window, filter=f'camera_id = "{ids["b"]}"'), now=NOW
    )
    (b,) = report.cameras
    assert (round(b.up_s), round(b.known_s)) == (600, 90 * 60)
    assert len(b.buckets) == 1 and b.buckets[0].start == T0
    assert round(b.outages.total_s) == 80 * 60  # still down: counted until now


async def test_filter_order_and_pages(sessions: Sessions) -> None:
    ids = await _scripted(sessions)
    north = await get_uptime(sessions, _query(filter='labels.site = "north"'), now=NOW)
    assert [c.camera_id for c in north.cameras] == [ids["a"]]
    # The fleet is what the filter matched, not every camera.
    assert round(north.fleet.up_s) == 49 * 60 and north.fleet.outages.count == 2

    by_outages = await get_uptime(sessions, _query(order_by="outages desc"), now=NOW)
    assert [c.camera_id for c in by_outages.cameras][:2] == [ids["a"], ids["b"]]
    by_name = await get_uptime(sessions, _query(order_by="name"), now=NOW)
    assert [c.name for c in by_name.cameras] == ["Alpha", "Bravo", "Charlie", "Delta"]

    first = await get_uptime(sessions, _query(page_size=3), now=NOW)
    assert len(first.cameras) == 3 and first.total_size == 4 and first.next_page_token
    second = await get_uptime(
        sessions, _query(page_size=3, page_token=first.next_page_token), now=NOW
    )
    assert [c.camera_id for c in second.cameras] == [ids["c"]] and not second.next_page_token
    # The fleet figures cover every matching camera on every page.
    assert second.fleet.known_s == first.fleet.known_s


@pytest.mark.parametrize(
    ("filter_text", "order_by", "field"),
    [
        ('camera_id = "x" OR 1=1; DROP TABLE cameras', "", "filter"),
        ("name = 'Alpha'", "", "filter"),  # not a filterable field here
        ("", "uptime; DELETE FROM cameras", "order_by"),
        ("", "bogus", "order_by"),
    ],
)
async def test_hostile_input_is_invalid_argument(
    sessions: Sessions, filter_text: str, order_by: str, field: str
) -> None:
    await _scripted(sessions)
    with pytest.raises(InvalidArgument) as caught:
        await get_uptime(sessions, _query(filter=filter_text, order_by=order_by), now=NOW)
    assert caught.value.violations[0].field == field


async def test_unknown_camera_and_foreign_page_token(sessions: Sessions) -> None:
    await _scripted(sessions)
    missing = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(NotFound) as caught:
        await get_uptime(sessions, _query(filter=f'camera_id = "{missing}"'), now=NOW)
    assert missing in caught.value.message
    page = await get_uptime(sessions, _query(page_size=1), now=NOW)
    with pytest.raises(InvalidArgument) as bad:
        await get_uptime(
            sessions, _query(page_size=1, order_by="name", page_token=page.next_page_token)
        )
    assert bad.value.violations[0].field == "page_token"


def test_bucket_totals_equal_clipping_each_interval() -> None:
    """buckets.totals from the grouped sums equals clipping every interval to every bucket
    (random intervals, a last bucket shorter than the others, intervals ending at the end)."""
    import random
    from types import SimpleNamespace

    from server.analytics.buckets import totals

    rng = random.Random(7)
    length, b = 1000.0, 90.0
    count = 12  # the last bucket is [990, 1000)
    intervals = []
    for _ in range(300):
        s = rng.uniform(0, length)
        e = rng.choice([min(length, s + rng.expovariate(1 / 120)), length])
        intervals.append((s, max(e, s + 0.001), rng.choice([0.0, 1.0])))
    groups: dict[tuple[int, int], list[float]] = {}
    for s, e, v in intervals:
        n, ss, se = groups.setdefault((int(s // b), int(e // b)), [0.0, 0.0, 0.0])
        groups[(int(s // b), int(e // b))] = [n + v, ss + s * v, se + e * v]
    rows = [
        SimpleNamespace(ks=ks, ke=ke, n_up=n, s_up=ss, e_up=se)
        for (ks, ke), (n, ss, se) in groups.items()
    ]
    got = totals(rows, (), ("up",), count, b)[()]["up"]
    want = [
        sum(v * max(0.0, min(e, (k + 1) * b, length) - max(s, k * b)) for s, e, v in intervals)
        for k in range(count)
    ]
    assert got == pytest.approx(want)
