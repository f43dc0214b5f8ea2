"""GetCoverage: recorded ÷ expected of each camera (and the fleet) over a range, per bucket, with
the stored gaps' seconds by cause.

"Expected" and "recorded" are GetTimeline's (server/recordings/timeline.py): each second once,
a handover's overlap once. Whole hours come from `coverage_hourly`, which the history writer
fills with that very arithmetic (server/analytics/history/hourly.py), summed by the database;
their whole closed days from its daily sums in `camera_days` (server/analytics/days.py).
The rest of the range (its unaligned ends and the hour still running) is each camera's own
timeline (RecordingService.timeline) clipped to it, for the cameras that recorded or lost
something there; when more than EXACT_CAMERAS did, the hourly rows of those hours are prorated
instead (a whole fleet's timelines would cost a query each).

Gap seconds by cause are the stored gaps (`recording_gaps`) clipped to the range (an open gap
lasts until now) less the recorded time at their ends (see coverage_gaps.gap_seconds), summed
by the database, the whole rolled days from their daily sums (`camera_gap_days`); count is the
gaps that lost time within the range. Holes no stored gap explains
(GetTimeline's UNKNOWN) are in expected - recorded but not listed by cause.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.analytics import selection
from server.analytics.buckets import Sql
from server.analytics.coverage_gaps import GapTotal, gap_totals
from server.analytics.coverage_parts import (
    Hours,
    Plan,
    Series,
    active,
    day_sums,
    exact,
    hour_sums,
)
from server.analytics.days import Split, bucketed, rolled_until
from server.analytics.ranges import Window
from server.analytics.uptime import ratio
from server.common.listing import OrderSchema
from server.common.listing.order_by import order_terms
from server.db.models import CameraRow, utcnow
from server.db.models.analytics import CameraDayRow, CoverageHourRow
from server.errors import NotFound
from server.recordings.timeline import Interval, Timeline

EXACT_CAMERAS = 200
# Read before a partial stretch, so a hole across its start is seen with the segment before it
# (as the hourly writer does).
CONTEXT = timedelta(hours=6)

TimelineOf = Callable[[str, datetime | None, datetime | None], Awaitable[Timeline]]


@dataclass(frozen=True)
class CoverageBucket:
    start: datetime
    expected_s: float
    recorded_s: float

    @property
    def coverage(self) -> float:
        return ratio(self.recorded_s, self.expected_s)


@dataclass
class CameraCoverage:
    camera_id: str
    name: str
    expected_s: float = 0.0
    recorded_s: float = 0.0
    gaps: list[GapTotal] = field(default_factory=list)
    buckets: list[CoverageBucket] = field(default_factory=list)

    @property
    def coverage(self) -> float:
        return ratio(self.recorded_s, self.expected_s)


@dataclass(frozen=True)
class CoverageReport:
    fleet: CameraCoverage
    cameras: list[CameraCoverage]
    next_page_token: str
    total_size: int


@dataclass(frozen=True)
class CoverageQuery:
    window: Window
    filter: str = ""
    order_by: str = ""
    page_size: int = 0
    page_token: str = ""


# order_by is checked by the listing machinery; the sort itself is done here (see _sort).
ORDER = OrderSchema(
    fields={"coverage": CameraRow.id, "name": CameraRow.name_key},
    default="coverage",
    tiebreaker=CameraRow.id,
)


def _sort(cameras: list[CameraCoverage], terms: list[tuple[str, bool]]) -> None:
    """Stable sorts from the last term to the first, the id first of all (the tiebreaker)."""
    cameras.sort(key=lambda c: c.camera_id)
    for name, desc in reversed(terms):
        if name == "name":
            cameras.sort(key=lambda c: c.name.lower(), reverse=desc)
        else:
            cameras.sort(key=lambda c: c.coverage, reverse=desc)


class _Reader:
    """One GetCoverage: the statements on one session, and the exact partial stretches."""

    def __init__(
        self,
        session: AsyncSession,
        plan: Plan,
        condition: ColumnElement[bool] | None,
        until: datetime | None,
    ) -> None:
        self.session = session
        self.sql = Sql(session.get_bind().dialect.name)
        self.plan = plan
        self.condition = condition
        self.exact: dict[str, Series] = {}
        # The whole hours: their whole rolled days from `camera_days`, the rest hourly; for
        # buckets, only the days within one bucket from the days.
        self.split = Split.of(*plan.whole, until) if plan.whole else None
        self.inside, fine = bucketed(self.split, plan.window) if self.split else ({}, [])
        self.prorated: list[Interval] = []
        self.from_hours: list[Interval] = list(fine)
        self.hours = Hours(plan.window, self.from_hours, plan.now)

    async def cameras(self, timeline_of: TimelineOf) -> dict[str, CameraCoverage]:
        """Every camera of the filter with its expected and recorded seconds."""
        listed = select(CameraRow.id, CameraRow.name)
        if self.condition is not None:
            listed = listed.where(self.condition)
        cameras = {i: CameraCoverage(i, n) for i, n in (await self.session.execute(listed)).all()}
        plan = self.plan
        if plan.partial:
            found = await active(self.session, plan.partial, self.condition)
            if len(found) > EXACT_CAMERAS:
                self.from_hours += plan.partial
                self.prorated += plan.partial
            else:
                for camera_id in found:
                    await self._exact(timeline_of, camera_id)
        row = CoverageHourRow
        if self.split is not None:
            sums = []
            if self.split.edges:
                sums.append(hour_sums(self.split.edges, self.condition, [row.camera_id]))
            if self.split.days is not None:
                sums.append(day_sums(self.split.days, self.condition, [CameraDayRow.camera_id]))
            for stmt in sums:
                for camera_id, e, r in (await self.session.execute(stmt)).all():
                    if camera_id in cameras:
                        cameras[camera_id].expected_s += float(e or 0.0)
                        cameras[camera_id].recorded_s += float(r or 0.0)
        if self.prorated:
            per = hour_sums(self.prorated, self.condition, [row.camera_id, row.hour])
            for camera_id, hour, e, r in (await self.session.execute(per)).all():
                if camera_id in cameras:
                    share = sum(f for _, f in self.hours.weights(hour))
                    cameras[camera_id].expected_s += float(e or 0.0) * share
                    cameras[camera_id].recorded_s += float(r or 0.0) * share
        for camera_id, series in self.exact.items():
            if camera_id in cameras:
                cameras[camera_id].expected_s += sum(series.expected)
                cameras[camera_id].recorded_s += sum(series.recorded)
        return cameras

    async def _exact(self, timeline_of: TimelineOf, camera_id: str) -> None:
        """The camera's own timeline over each partial stretch (each read with CONTEXT before
        it; a range's two ends are read apart, as a timeline spans at most 31 days)."""
        into = Series.zero(self.plan.window.count)
        for lo, hi in self.plan.partial:
            try:
                timeline = await timeline_of(camera_id, lo - CONTEXT, hi)
            except NotFound:
                return  # deleted since: not listed either
            into.add(exact(timeline, [(lo, hi)], self.plan.window))
        self.exact[camera_id] = into

    async def series(self, ids: list[str] | None) -> dict[str, Series]:
        """Per-bucket figures of the cameras `ids`, or of the fleet (key "") when None."""
        window = self.plan.window
        out: dict[str, Series] = {}
        if self.from_hours:
            row = CoverageHourRow
            if ids is None:
                stmt = hour_sums(self.from_hours, self.condition, [row.hour])
                fleet = out.setdefault("", Series.zero(window.count))
                for hour, e, r in (await self.session.execute(stmt)).all():
                    self.hours.add(fleet, hour, float(e or 0.0), float(r or 0.0))
            else:
                group = [row.camera_id, row.hour]
                stmt = hour_sums(self.from_hours, self.condition, group, ids)
                for camera_id, hour, e, r in (await self.session.execute(stmt)).all():
                    into = out.setdefault(camera_id, Series.zero(window.count))
                    self.hours.add(into, hour, float(e or 0.0), float(r or 0.0))
        if self.inside and self.split is not None and self.split.days is not None:
            d = CameraDayRow
            group = [d.camera_id, d.day] if ids is not None else [d.day]
            stmt = day_sums(self.split.days, self.condition, group, ids)
            for *key, day, e, r in (await self.session.execute(stmt)).all():
                k = self.inside.get(day)
                if k is not None:
                    into = out.setdefault(key[0] if key else "", Series.zero(window.count))
                    into.expected[k] += float(e or 0.0)
                    into.recorded[k] += float(r or 0.0)
        for camera_id, series in self.exact.items():
            if ids is not None and camera_id not in ids:
                continue
            into = out.setdefault(camera_id if ids is not None else "", Series.zero(window.count))
            into.add(series)
        return out


def _buckets(window: Window, series: Series | None) -> list[CoverageBucket]:
    series = series or Series.zero(window.count)
    return [
        CoverageBucket(s, series.expected[k], series.recorded[k])
        for k, s in enumerate(window.bucket_starts())
    ]


async def get_coverage(
    sessions: async_sessionmaker[AsyncSession],
    timeline_of: TimelineOf,
    query: CoverageQuery,
    *,
    now: datetime | None = None,
    rollups: bool = True,
    whole_fleet: bool = False,
) -> CoverageReport:
    """One page of cameras (worst coverage first by default) and the fleet's figures.
    `rollups=False` reads the hours alone (the benchmark's baseline; the same answer);
    `whole_fleet` answers every camera on one page (for reports; not through the API)."""
    condition = selection.camera_condition(query.filter)
    size = selection.page_size(query.page_size)
    terms = order_terms(query.order_by, ORDER, "order_by")
    print_ = selection.fingerprint("coverage", query.window, (query.filter.strip(), repr(terms)))
    offset = selection.page_offset(query.page_token, print_)
    window = query.window
    async with sessions() as session:
        await selection.require_named_cameras(session, query.filter)
        until = await rolled_until(session) if rollups else None
        reader = _Reader(session, Plan.of(window, now or utcnow()), condition, until)
        cameras = await reader.cameras(timeline_of)
        ordered = list(cameras.values())
        _sort(ordered, terms)
        if whole_fleet:  # every camera on one page (reports: one pass over the fleet)
            offset, size = 0, max(1, len(ordered))
        page = ordered[offset : offset + size]
        # One bucket is the totals: no second pass over the hourly rows.
        many = window.count > 1
        per_camera = await reader.series([c.camera_id for c in page]) if many and page else {}
        fleet_series = await reader.series(None) if many else {}
        gaps, fleet_gaps = await gap_totals(
            session,
            reader.sql,
            reader.plan.window,
            reader.plan.hi,
            reader.plan.now,
            condition,
            until,
        )
    for camera in page:
        camera.gaps = gaps.get(camera.camera_id, [])
        camera.buckets = (
            _buckets(window, per_camera.get(camera.camera_id))
            if many
            else [CoverageBucket(window.start, camera.expected_s, camera.recorded_s)]
        )
    expected = sum(c.expected_s for c in ordered)
    recorded = sum(c.recorded_s for c in ordered)
    fleet_buckets = (
        _buckets(window, fleet_series.get(""))
        if many
        else [CoverageBucket(window.start, expected, recorded)]
    )
    fleet = CameraCoverage("", "", expected, recorded, fleet_gaps, fleet_buckets)
    total = len(ordered)
    return CoverageReport(fleet, page, selection.next_token(offset, size, total, print_), total)
