"""GetCoverage's gap seconds by cause: the stored gaps (`recording_gaps`) clipped to the range
(an open gap lasts until now) less the recorded time at their ends, as GetTimeline shows them,
summed by the database.

The whole rolled days of the range come from `camera_gap_days` (kept by the daily rollup with
this very statement over each day), its edges from the gaps. A gap is counted once, in the part
of the range where its lost time begins: a part counts the gaps beginning within it, and the
range's first part also those that began before the range and lost time in it (a day's
`carried`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from server.analytics.buckets import Sql, epoch
from server.analytics.days import Split
from server.analytics.ranges import Window
from server.db.models import CameraRow, RecordingGapRow, RecordingRow
from server.db.models.analytics import CameraGapDayRow
from server.recordings.causes import GapCause


@dataclass(frozen=True)
class GapTotal:
    cause: GapCause
    seconds: float
    count: int


def gap_seconds(
    sql: Sql,
    lo: datetime,
    hi: datetime,
    now: datetime,
    condition: ColumnElement[bool] | None,
) -> Any:
    """(camera_id, cause, seconds, began, carried) of the stored gaps within [lo, hi), each
    less what was recorded after all, as GetTimeline shows them: a gap is stored from the
    moment the camera stopped until its next segment is indexed, so it begins no earlier than
    the end of the segment it interrupted and ends no later than the start of the next one (two
    indexed lookups per gap). began/carried: the gaps that lost time in [lo, hi) and began
    within it / before it."""
    g = RecordingGapRow
    before = aliased(RecordingRow)
    prev_end = (
        select(before.end_time)
        .where(before.camera_id == g.camera_id, before.start_time <= g.start_time)
        .order_by(before.start_time.desc())
        .limit(1)
        .correlate(g)
        .scalar_subquery()
    )
    stored = (
        select(g.camera_id, g.cause, g.start_time, g.end_time, prev_end.label("prev_end"))
        .join(CameraRow, CameraRow.id == g.camera_id)
        .where(
            g.start_time < hi,
            or_(g.end_time.is_(None), g.end_time > lo),
        )
    )
    if condition is not None:
        stored = stored.where(condition)
    s1 = stored.subquery("g1")
    begins = sql.greatest(s1.c.start_time, func.coalesce(s1.c.prev_end, s1.c.start_time))
    after = aliased(RecordingRow)
    next_start = (
        select(after.start_time)
        .where(after.camera_id == s1.c.camera_id, after.start_time >= begins)
        .order_by(after.start_time)
        .limit(1)
        .correlate(s1)
        .scalar_subquery()
    )
    lo_u, hi_u, far = epoch(lo), epoch(hi), epoch(hi) + 1.0
    end = sql.least(
        func.coalesce(sql.epoch(s1.c.end_time), epoch(now)),
        func.coalesce(sql.epoch(next_start), far),
        hi_u,
    )
    begins_u = sql.epoch(begins)
    length = end - sql.greatest(begins_u, lo_u)
    lasted = case((length > 0, length), else_=0.0)
    return select(
        s1.c.camera_id,
        s1.c.cause,
        func.sum(lasted),
        func.sum(case((and_(length > 0, begins_u >= lo_u), 1), else_=0)),
        func.sum(case((and_(length > 0, begins_u < lo_u), 1), else_=0)),
    ).group_by(s1.c.camera_id, s1.c.cause)


async def gap_totals(  # noqa: PLR0917 (the reader's plan, spelled out)
    session: AsyncSession,
    sql: Sql,
    window: Window,
    hi: datetime,
    now: datetime,
    condition: ColumnElement[bool] | None,
    until: datetime | None = None,
) -> tuple[dict[str, list[GapTotal]], list[GapTotal]]:
    """Per camera and for the fleet, the gaps' seconds and count by cause over [start, hi):
    the whole days below `until` (the first day not rolled; None: none) from the rollup."""
    split = Split.of(window.start, hi, until)
    per_camera: dict[str, dict[GapCause, list[float]]] = {}
    fleet: dict[GapCause, list[float]] = {}

    def add(camera_id: str, cause: str, total: Any, count: int) -> None:
        parsed = GapCause.parse(cause)
        for into in (per_camera.setdefault(camera_id, {}), fleet):
            figures = into.setdefault(parsed, [0.0, 0])
            figures[0] += max(0.0, float(total or 0.0))
            figures[1] += count

    for lo, part_hi in split.edges:
        stmt = gap_seconds(sql, lo, part_hi, now, condition)
        first = lo == window.start
        for camera_id, cause, total, began, carried in (await session.execute(stmt)).all():
            add(camera_id, cause, total, int(began or 0) + (int(carried or 0) if first else 0))
    if split.days is not None:
        d0, d1 = split.days
        d = CameraGapDayRow
        cameras = select(CameraRow.id)  # ids, not a join: read by the key (camera_id, day)
        if condition is not None:
            cameras = cameras.where(condition)
        carried = case((d.day == window.start, d.carried), else_=0)
        stmt = (
            select(d.camera_id, d.cause, func.sum(d.seconds), func.sum(d.began + carried))
            .where(d.day >= d0, d.day < d1, d.camera_id.in_(cameras))
            .group_by(d.camera_id, d.cause)
        )
        for camera_id, cause, total, count in (await session.execute(stmt)).all():
            add(camera_id, cause, total, int(count or 0))

    def listed(by_cause: dict[GapCause, list[float]]) -> list[GapTotal]:
        return [
            GapTotal(cause, s, int(n))
            for cause, (s, n) in sorted(by_cause.items(), key=lambda kv: -kv[1][0])
        ]

    return {c: listed(v) for c, v in per_camera.items()}, listed(fleet)
