"""GetCoverage's parts (server/analytics/coverage.py): which part of the range comes from
whole hours (and their whole rolled days) and which from the cameras' own timelines, the sums
of the hourly and daily rows, and the spread of an hour's seconds over the buckets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from server.analytics.ranges import Window
from server.db.models import CameraRow, RecordingGapRow, RecordingRow
from server.db.models.analytics import CameraDayRow, CoverageHourRow
from server.recordings.timeline import Interval, Timeline, clip, merge, seconds

HOUR = timedelta(hours=1)


def floor_hour(when: datetime) -> datetime:
    return when.replace(minute=0, second=0, microsecond=0)


def ceil_hour(when: datetime) -> datetime:
    floor = floor_hour(when)
    return floor if floor == when else floor + HOUR


@dataclass(frozen=True)
class Plan:
    """Which part of the range comes from whole hours, and the partial stretches around it."""

    window: Window
    now: datetime
    hi: datetime  # min(end, now)
    whole: tuple[datetime, datetime] | None
    partial: list[Interval]

    @classmethod
    def of(cls, window: Window, now: datetime) -> Plan:
        hi = max(min(window.end, now), window.start)
        lo_h, hi_h = ceil_hour(window.start), min(floor_hour(window.end), floor_hour(now))
        if hi_h <= lo_h:
            partial = [(window.start, hi)] if hi > window.start else []
            return cls(window, now, hi, None, partial)
        partial = [(a, b) for a, b in ((window.start, lo_h), (hi_h, hi)) if b > a]
        return cls(window, now, hi, (lo_h, hi_h), partial)


def hour_sums(
    spans: list[Interval],
    condition: ColumnElement[bool] | None,
    group: Sequence[Any],
    ids: list[str] | None = None,
) -> Any:
    """SUM(expected_s), SUM(recorded_s) of the hourly rows of the hours overlapping `spans`
    (of the filter's cameras, or `ids`), grouped by `group` (camera_id, hour or both): plain
    sums the database does from the rows, whatever the buckets. A group may come in a row per
    stretch of hours (the callers add them up).

    One SELECT per stretch, in a UNION ALL, not one SELECT with an OR of the stretches: the OR
    is no index condition, so PostgreSQL read a filter's cameras through the key (camera_id,
    hour) with every hour of theirs and filtered (720 rows a camera for a month, where the two
    edges of a range need ~24); each stretch alone is a range of that key."""
    row = CoverageHourRow
    cameras = select(CameraRow.id)
    if condition is not None:
        cameras = cameras.where(condition)
    parts = []
    for lo, hi in hour_stretches(spans):
        stmt = (
            select(*group, func.sum(row.expected_s), func.sum(row.recorded_s))
            .where(row.hour >= lo, row.hour < hi, row.camera_id.in_(cameras))
            .group_by(*group)
        )
        if ids is not None:
            stmt = stmt.where(row.camera_id.in_(ids))
        parts.append(stmt)
    assert parts, "hour_sums of no span"
    return parts[0] if len(parts) == 1 else union_all(*parts)


def hour_stretches(spans: list[Interval]) -> list[Interval]:
    """[floor_hour(lo), hi) of each span, sorted, overlapping ones merged (an hour once)."""
    out: list[Interval] = []
    for lo, hi in sorted((floor_hour(lo), hi) for lo, hi in spans if hi > lo):
        if out and lo < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def day_sums(
    days: tuple[datetime, datetime],
    condition: ColumnElement[bool] | None,
    group: Sequence[Any],
    ids: list[str] | None = None,
) -> Any:
    """SUM(expected_s), SUM(recorded_s) of the rolled days [d0, d1), grouped by `group`."""
    d = CameraDayRow
    cameras = select(CameraRow.id)  # ids, not a join: read by the key (camera_id, day)
    if condition is not None:
        cameras = cameras.where(condition)
    stmt = (
        select(*group, func.sum(d.expected_s), func.sum(d.recorded_s))
        .where(d.day >= days[0], d.day < days[1], d.camera_id.in_(cameras))
        .group_by(*group)
    )
    if ids is not None:
        stmt = stmt.where(d.camera_id.in_(ids))
    return stmt


class Hours:
    """How an hourly row's seconds fall into the buckets: spread evenly over its hour (or up
    to now for the hour still running), counted only where the hour overlaps `spans`."""

    def __init__(self, window: Window, spans: list[Interval], now: datetime) -> None:
        self._window = window
        self._spans = spans
        self._now = now
        self._cache: dict[datetime, list[tuple[int, float]]] = {}

    def weights(self, hour: datetime) -> list[tuple[int, float]]:
        """[(bucket, fraction of the hour's seconds)]."""
        found = self._cache.get(hour)
        if found is not None:
            return found
        end = min(hour + HOUR, self._now)
        length = (end - hour).total_seconds()
        out: list[tuple[int, float]] = []
        w = self._window
        for lo, hi in self._spans:
            a, b = max(hour, lo), min(end, hi)
            if b <= a or length <= 0:
                continue
            for k in range(w.bucket_of(a), w.bucket_of(b - timedelta(microseconds=1)) + 1):
                part = min(b, w.bucket_end(k)) - max(a, w.bucket_start(k))
                if part > timedelta(0):
                    out.append((k, part.total_seconds() / length))
        self._cache[hour] = out
        return out

    def add(self, into: Series, hour: datetime, expected: float, recorded: float) -> None:
        for k, fraction in self.weights(hour):
            into.expected[k] += expected * fraction
            into.recorded[k] += recorded * fraction


async def active(
    session: AsyncSession, spans: list[Interval], condition: ColumnElement[bool] | None
) -> list[str]:
    """Cameras of the filter with a segment or a stored gap within `spans`."""
    queries = []
    for lo, hi in spans:
        recorded = select(RecordingRow.camera_id).where(
            RecordingRow.end_time > lo, RecordingRow.start_time < hi
        )
        gapped = select(RecordingGapRow.camera_id).where(
            RecordingGapRow.start_time < hi,
            or_(RecordingGapRow.end_time.is_(None), RecordingGapRow.end_time > lo),
        )
        queries += [recorded, gapped]
    union = queries[0].union(*queries[1:]).subquery()
    stmt = select(CameraRow.id).where(CameraRow.id.in_(select(union.c.camera_id)))
    if condition is not None:
        stmt = stmt.where(condition)
    return list((await session.scalars(stmt)).all())


@dataclass
class Series:
    """Per-bucket expected and recorded seconds."""

    expected: list[float]
    recorded: list[float]

    @classmethod
    def zero(cls, count: int) -> Series:
        return cls([0.0] * count, [0.0] * count)

    def add(self, other: Series) -> None:
        for k, (e, r) in enumerate(zip(other.expected, other.recorded, strict=True)):
            self.expected[k] += e
            self.recorded[k] += r


def exact(timeline: Timeline, spans: list[Interval], window: Window) -> Series:
    """Per-bucket expected and recorded seconds of a timeline within `spans`."""
    expected = merge([*timeline.spans, *((g.start, g.end) for g in timeline.gaps)])
    out = Series.zero(window.count)
    for lo, hi in spans:
        first, last = window.bucket_of(lo), window.bucket_of(hi - timedelta(microseconds=1))
        for k in range(first, last + 1):
            b_lo, b_hi = max(lo, window.bucket_start(k)), min(hi, window.bucket_end(k))
            out.expected[k] += seconds(p for i in expected if (p := clip(i, b_lo, b_hi)))
            out.recorded[k] += seconds(p for i in timeline.spans if (p := clip(i, b_lo, b_hi)))
    return out
