"""GetUptime's figures gathered from their parts: the whole rolled days from `camera_days` and
the edges from `state_intervals` (server/analytics/days.py says which is which), each part
summed by the database and added up here per camera (a dict of the filter's cameras).

An outage is counted in the part where it began; one that began on a rolled day and went on
past its midnight is the day's `cross_start`, its end the rollup's `cross_end` when that is
before the rolled days end, else looked up (uptime_sql.outage_end): counted once, with its
full length clipped to the range's end, as the whole range's computation does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.analytics.buckets import spread, totals
from server.analytics.days import Split, bucketed
from server.analytics.uptime_sql import Frame, intervals, outage_end, outages, sums
from server.db.models import CameraRow
from server.db.models.analytics import CameraDayRow

VALUES = ("up", "known")
Series = dict[tuple[Any, ...], dict[str, list[float]]]


@dataclass
class Sums:
    up: float = 0.0
    known: float = 0.0
    n: int = 0
    total: float = 0.0
    longest: float = 0.0

    def outage(self, n: int, total: float, longest: float) -> None:
        self.n += n
        self.total += total
        self.longest = max(self.longest, longest)


def _days(
    split: Split, condition: ColumnElement[bool] | None, ids: list[str] | None, *columns: Any
) -> Any:
    """SELECT columns FROM the rolled days' rows of the filter's cameras (or `ids`)."""
    assert split.days is not None
    d = CameraDayRow
    # The cameras as a list of ids (not a join), so a filter's cameras are read by the primary
    # key (camera_id, day) rather than every row of the days.
    cameras = select(CameraRow.id)
    if condition is not None:
        cameras = cameras.where(condition)
    stmt = select(*columns).where(
        d.day >= split.days[0], d.day < split.days[1], d.camera_id.in_(cameras)
    )
    if ids is not None:
        stmt = stmt.where(d.camera_id.in_(ids))
    return stmt


async def camera_sums(
    session: AsyncSession, f: Frame, split: Split, condition: ColumnElement[bool] | None
) -> dict[str, Sums]:
    """{camera_id: its seconds up and known and its outages} of the cameras with history."""
    out: dict[str, Sums] = {}

    def of(camera_id: str) -> Sums:
        return out.setdefault(camera_id, Sums())

    for lo, hi in split.edges:
        part = f.part(lo, hi, split.until)
        for camera_id, up, known in (await session.execute(sums(part, condition))).all():
            s = of(camera_id)
            s.up += float(up or 0.0)
            s.known += float(known or 0.0)
        stmt = outages(part, condition, whole=hi >= f.end)
        for camera_id, n, total, longest in (await session.execute(stmt)).all():
            of(camera_id).outage(int(n or 0), float(total or 0.0), float(longest or 0.0))
    if split.days is None:
        return out
    d = CameraDayRow
    rows = await session.execute(
        _days(
            split,
            condition,
            None,
            d.camera_id,
            func.sum(d.up_s),
            func.sum(d.known_s),
            func.sum(d.outage_starts),
            func.sum(d.outage_s),
            func.max(d.longest_outage_s),
        ).group_by(d.camera_id)
    )
    for camera_id, up, known, n, total, longest in rows.all():
        s = of(camera_id)
        s.up += float(up or 0.0)
        s.known += float(known or 0.0)
        s.outage(int(n or 0), float(total or 0.0), float(longest or 0.0))
    # The outages that began on a rolled day and went on past its midnight: their length.
    rolled_end = split.days[1]
    ends = case(
        (d.cross_end < rolled_end, f.sql.epoch(d.cross_end)),
        else_=outage_end(f, d.camera_id, d.cross_start),
    )
    length = f.sql.least(ends, f.end_u) - f.sql.epoch(d.cross_start)
    crossing = _days(split, condition, None, d.camera_id, length).where(d.cross_start.is_not(None))
    for camera_id, lasted in (await session.execute(crossing)).all():
        of(camera_id).outage(0, float(lasted or 0.0), float(lasted or 0.0))
    return out


async def series(
    session: AsyncSession,
    f: Frame,
    split: Split,
    condition: ColumnElement[bool] | None,
    ids: list[str] | None,
) -> Series:
    """Per-bucket up and known seconds of the cameras `ids` (keyed (camera_id,)) or of the
    fleet (keyed ()): the rolled days within one bucket from their rows, the rest spread
    from the intervals."""
    keys = ("camera_id",) if ids is not None else ()
    window = f.window
    inside, fine = bucketed(split, window)
    out: Series = {}

    def add(key: tuple[Any, ...], name: str, k: int, value: float) -> None:
        out.setdefault(key, {v: [0.0] * window.count for v in VALUES})[name][k] += value

    for lo, hi in fine:
        iv = intervals(f.part(lo, hi, split.until), condition, ids)
        rows = (await session.execute(spread(f.sql, iv, keys, VALUES, window.bucket_seconds))).all()
        for key, values in totals(rows, keys, VALUES, window.count, window.bucket_seconds).items():
            for name, per_bucket in values.items():
                for k, value in enumerate(per_bucket):
                    if value:
                        add(key, name, k, value)
    if inside:
        d = CameraDayRow
        group: list[Any] = [d.camera_id, d.day] if ids is not None else [d.day]
        stmt = _days(split, condition, ids, *group, func.sum(d.up_s), func.sum(d.known_s))
        for row in (await session.execute(stmt.group_by(*group))).all():
            at = inside.get(row.day)
            if at is None:
                continue
            key = (row.camera_id,) if ids is not None else ()
            add(key, "up", at, float(row[-2] or 0.0))
            add(key, "known", at, float(row[-1] or 0.0))
    return out
