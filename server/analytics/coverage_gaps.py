"""GetCoverage's gap seconds by cause: the stored gaps (`recording_gaps`) clipped to the range
(an open gap lasts until now) less the recorded time at their ends, as GetTimeline shows them,
summed by the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from server.analytics.buckets import Sql, epoch
from server.analytics.ranges import Window
from server.db.models import CameraRow, RecordingGapRow, RecordingRow
from server.recordings.causes import GapCause


@dataclass(frozen=True)
class GapTotal:
    cause: GapCause
    seconds: float
    count: int


def _gap_seconds(
    sql: Sql, window: Window, hi: datetime, now: datetime, condition: ColumnElement[bool] | None
) -> Any:
    """(camera_id, cause, seconds, count) of the stored gaps within the range, each less what
    was recorded after all, as GetTimeline shows them: a gap is stored from the moment the
    camera stopped until its next segment is indexed, so it begins no earlier than the end of
    the segment it interrupted and ends no later than the start of the next one (two indexed
    lookups per gap)."""
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
            or_(g.end_time.is_(None), g.end_time > window.start),
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
    lo_u, hi_u, far = epoch(window.start), epoch(hi), epoch(hi) + 1.0
    end = sql.least(
        func.coalesce(sql.epoch(s1.c.end_time), epoch(now)),
        func.coalesce(sql.epoch(next_start), far),
        hi_u,
    )
    length = end - sql.greatest(sql.epoch(begins), lo_u)
    lasted = case((length > 0, length), else_=0.0)
    return select(
        s1.c.camera_id,
        s1.c.cause,
        func.sum(lasted),
        func.sum(case((length > 0, 1), else_=0)),
    ).group_by(s1.c.camera_id, s1.c.cause)


async def gap_totals(  # noqa: PLR0917 (the reader's plan, spelled out)
    session: AsyncSession,
    sql: Sql,
    window: Window,
    hi: datetime,
    now: datetime,
    condition: ColumnElement[bool] | None,
) -> tuple[dict[str, list[GapTotal]], list[GapTotal]]:
    stmt = _gap_seconds(sql, window, hi, now, condition)
    per_camera: dict[str, dict[GapCause, list[float]]] = {}
    fleet: dict[GapCause, list[float]] = {}
    for camera_id, cause, total, count in (await session.execute(stmt)).all():
        parsed = GapCause.parse(cause)
        for into in (per_camera.setdefault(camera_id, {}), fleet):
            figures = into.setdefault(parsed, [0.0, 0])
            figures[0] += max(0.0, float(total or 0.0))
            figures[1] += int(count)

    def listed(by_cause: dict[GapCause, list[float]]) -> list[GapTotal]:
        return [
            GapTotal(cause, s, int(n))
            for cause, (s, n) in sorted(by_cause.items(), key=lambda kv: -kv[1][0])
        ]

    return {c: listed(v) for c, v in per_camera.items()}, listed(fleet)
