"""GetCoverage's figures (server/analytics/coverage.py) on both backends equal the ones computed
by hand: whole hours from coverage_hourly, the range's partial ends and the running hour from
each camera's own timeline (GetTimeline's arithmetic), stored gaps by cause, buckets, the
fleet, orders, pages, and the prorated hours beyond EXACT_CAMERAS."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import pytest

from server.analytics import coverage
from server.analytics.coverage import CoverageQuery, get_coverage
from server.analytics.ranges import check_window
from server.db.engine import Sessions
from server.db.models import RecordingGapRow, RecordingRow
from server.db.models.analytics import CoverageHourRow
from server.errors import InvalidArgument, NotFound
from server.recordings.causes import GapCause
from server.recordings.service import RecordingService
from tests.server.analytics.test_uptime_support import MIN, T0, add_camera, sessions

__all__ = ["sessions"]

HOUR = timedelta(hours=1)
NOW = T0 + 3 * HOUR + 20 * MIN
NODE = "11111111-0000-4000-8000-000000000000"


async def _hours(sessions: Sessions, camera_id: str, *rows: tuple[datetime, float, float]) -> None:
    async with sessions.begin() as session:
        session.add_all(
            CoverageHourRow(camera_id=camera_id, hour=h, expected_s=e, recorded_s=r)
            for h, e, r in rows
        )


async def _segments(sessions: Sessions, camera_id: str, *spans: tuple[datetime, datetime]) -> None:
    async with sessions.begin() as session:
        session.add_all(
            RecordingRow(
                id=secrets.token_hex(8),
                camera_id=camera_id,
                node_id=NODE,
                start_time=a,
                end_time=b,
                duration_s=(b - a).total_seconds(),
            )
            for a, b in spans
        )


async def _gap(
    sessions: Sessions, camera_id: str, cause: str, start: datetime, end: datetime | None
) -> None:
    async with sessions.begin() as session:
        session.add(
            RecordingGapRow(
                camera_id=camera_id, node_id=NODE, start_time=start, end_time=end, cause=cause
            )
        )


async def _scripted(sessions: Sessions) -> dict[str, str]:
    a = await add_camera(sessions, "Alpha", T0 - 10 * HOUR)
    await _hours(
        sessions, a, (T0, 3600, 3000), (T0 + HOUR, 3600, 3600), (T0 + 2 * HOUR, 1800, 1800)
    )
    # Before the first whole hour: 10 min recorded, 5 min stopped, 5 min recorded.
    await _segments(sessions, a, (T0 - 20 * MIN, T0 - 10 * MIN), (T0 - 5 * MIN, T0 + 5 * MIN))
    await _gap(sessions, a, "camera_stopped", T0 - 10 * MIN, T0 - 5 * MIN)
    # The running hour: 10 min recorded, then the node is lost (still).
    await _segments(sessions, a, (T0 + 3 * HOUR, T0 + 3 * HOUR + 10 * MIN))
    await _gap(sessions, a, "node_lost", T0 + 3 * HOUR + 10 * MIN, None)
    b = await add_camera(sessions, "Bravo", T0 - 10 * HOUR)
    # The running hour's row is the writer's partial one: the timeline is read instead.
    await _hours(sessions, b, (T0 + HOUR, 3600, 1800), (T0 + 3 * HOUR, 600, 600))
    c = await add_camera(sessions, "Charlie", T0 - 10 * HOUR)
    return {"a": a, "b": b, "c": c}


def _query(**kw: object) -> CoverageQuery:
    window = check_window(T0 - 30 * MIN, T0 + 4 * HOUR, kw.pop("bucket", HOUR))  # type: ignore[arg-type]
    return CoverageQuery(window, **kw)  # type: ignore[arg-type]


async def test_coverage_equals_the_hand_computed_figures(sessions: Sessions) -> None:
    ids = await _scripted(sessions)
    timelines = RecordingService(sessions).timeline
    report = await get_coverage(sessions, timelines, _query(), now=NOW)
    assert [c.camera_id for c in report.cameras] == [ids["b"], ids["a"], ids["c"]]
    b, a, c = report.cameras
    # Alpha: whole hours 9000/8400, the start's 20 min 1200/900, the running hour 1200/600.
    assert (round(a.expected_s), round(a.recorded_s)) == (11_400, 9_900)
    assert a.coverage == pytest.approx(9_900 / 11_400)
    assert {(g.cause, round(g.seconds), g.count) for g in a.gaps} == {
        (GapCause.CAMERA_STOPPED, 300, 1),
        (GapCause.NODE_LOST, 600, 1),  # open: until now
    }
    assert [(round(x.expected_s), round(x.recorded_s)) for x in a.buckets] == [
        (3000, 2400),
        (3600, 3300),
        (2700, 2700),
        (2100, 1500),
        (0, 0),
    ]
    assert a.buckets[0].start == T0 - 30 * MIN and a.buckets[4].start == T0 + 210 * MIN
    assert (round(b.expected_s), round(b.recorded_s), b.coverage) == (3600, 1800, 0.5)
    assert (c.expected_s, c.coverage, c.gaps) == (0.0, 1.0, [])

    fleet = report.fleet
    assert (round(fleet.expected_s), round(fleet.recorded_s)) == (15_000, 11_700)
    assert [(g.cause, round(g.seconds)) for g in fleet.gaps] == [
        (GapCause.NODE_LOST, 600),
        (GapCause.CAMERA_STOPPED, 300),
    ]
    assert [round(x.expected_s) for x in fleet.buckets] == [3000, 5400, 4500, 2100, 0]
    assert report.total_size == 3 and not report.next_page_token


async def test_partial_hours_are_prorated_beyond_the_exact_limit(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await _scripted(sessions)
    monkeypatch.setattr(coverage, "EXACT_CAMERAS", 0)
    report = await get_coverage(
        sessions, RecordingService(sessions).timeline, _query(bucket=None), now=NOW
    )
    by_id = {c.camera_id: c for c in report.cameras}
    # Bravo's running-hour row (600 s of the 20 min written so far) now counts.
    assert round(by_id[ids["b"]].expected_s) == 3600 + 600
    assert round(by_id[ids["a"]].expected_s) == 9000


async def test_order_pages_and_bad_input(sessions: Sessions) -> None:
    ids = await _scripted(sessions)
    timelines = RecordingService(sessions).timeline
    by_name = await get_coverage(sessions, timelines, _query(order_by="name desc"), now=NOW)
    assert [c.name for c in by_name.cameras] == ["Charlie", "Bravo", "Alpha"]
    first = await get_coverage(sessions, timelines, _query(page_size=2), now=NOW)
    second = await get_coverage(
        sessions, timelines, _query(page_size=2, page_token=first.next_page_token), now=NOW
    )
    assert [c.camera_id for c in second.cameras] == [ids["c"]] and not second.next_page_token
    assert second.fleet.expected_s == first.fleet.expected_s
    only = await get_coverage(
        sessions, timelines, _query(filter=f'camera_id = "{ids["b"]}"'), now=NOW
    )
    assert [c.camera_id for c in only.cameras] == [ids["b"]]
    assert round(only.fleet.expected_s) == 3600
    with pytest.raises(NotFound):
        await get_coverage(
            sessions,
            timelines,
            _query(filter='camera_id = "00000000-0000-4000-8000-000000000000"'),
        )
    for bad in ({"filter": 'labels.site = "x" AND ) OR ('}, {"order_by": "uptime"}):
        with pytest.raises(InvalidArgument):
            await get_coverage(sessions, timelines, _query(**bad), now=NOW)


async def test_gap_seconds_leave_out_what_was_recorded_after_all(sessions: Sessions) -> None:
    """A gap is stored until the camera's next segment is indexed, seconds after that segment
    began: its seconds are the hole between the segments, as GetTimeline shows it."""
    camera = await add_camera(sessions, "Echo", T0 - 10 * HOUR)
    await _segments(sessions, camera, (T0, T0 + 10 * MIN), (T0 + 15 * MIN, T0 + 20 * MIN))
    await _gap(sessions, camera, "camera_stopped", T0 + 9 * MIN, T0 + 17 * MIN)
    window = check_window(T0, T0 + 30 * MIN, None)
    report = await get_coverage(
        sessions, RecordingService(sessions).timeline, CoverageQuery(window), now=NOW
    )
    (echo,) = report.cameras
    assert [(g.cause, round(g.seconds), g.count) for g in echo.gaps] == [
        (GapCause.CAMERA_STOPPED, 5 * 60, 1)
    ]
    # GetTimeline's own figures for the same range.
    timeline = await RecordingService(sessions).timeline(camera, T0, T0 + 30 * MIN)
    assert echo.expected_s == pytest.approx(timeline.expected_s)
    assert echo.recorded_s == pytest.approx(timeline.recorded_s) == 15 * 60
    assert [(g.start, g.end) for g in timeline.gaps] == [(T0 + 10 * MIN, T0 + 15 * MIN)]
