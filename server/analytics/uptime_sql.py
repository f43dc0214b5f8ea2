"""GetUptime's statements over `state_intervals` (server/analytics/uptime.py), for any stretch
[lo, hi) of the range: the whole range when no daily rollups apply, or only its edges (the
partial days and today) beside the rollups' whole days (server/analytics/days.py).

Times are offsets in seconds from the range's start (for buckets.spread); intervals are clipped
to [lo, hi), to now (an open interval lasts until now) and to the camera's creation."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Float, String, Text, and_, case, func, literal, or_, select, true, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.expression import ColumnElement

from server.analytics.buckets import Sql, epoch
from server.analytics.days import DAY, floor_day
from server.analytics.ranges import Window
from server.db.models import CameraRow
from server.db.models.analytics import CameraDayRow, StateIntervalRow
from server.db.types import UTCDateTime

ONLINE = "online"


@dataclass(frozen=True)
class Frame:
    """The range as numbers: offsets from its buckets' origin (its start, or the aligned
    boundary before it); [lo, hi) the part read here, with `end`
    min(range end, now) (what an outage's length is clipped to)."""

    sql: Sql
    window: Window
    start_u: float
    now_u: float
    lo: datetime
    hi: datetime
    end: datetime
    # Find the intervals of [lo, hi) as those starting in it and each camera's last one before
    # lo (an indexed lookup a camera), not by scanning every interval that starts before hi:
    # for the parts of a range (its edges, a day), where that scan would read all history.
    seek: bool = False
    # With seek: the midnight at or before lo whose running intervals the daily rollup keeps
    # (camera_days.midnight_* of the day before it): the intervals are then those starting in
    # [midnight, hi) and those kept, with no lookup a camera. None: looked up.
    midnight: datetime | None = None

    @classmethod
    def of(cls, session: AsyncSession, window: Window, now: datetime) -> Frame:
        end = max(min(window.end, now), window.start)
        return cls(
            Sql(session.get_bind().dialect.name),
            window,
            epoch(window.origin),  # offsets from bucket 0's (aligned) start, for spread
            epoch(now),
            window.start,
            end,
            end,
        )

    def part(self, lo: datetime, hi: datetime, rolled: datetime | None = None) -> Frame:
        """[lo, hi) of the range; `rolled`: the first day the rollups do not hold (their
        midnight intervals are used when the day before lo's midnight is rolled)."""
        midnight = floor_day(lo)
        kept = midnight if rolled is not None and midnight <= rolled else None
        return replace(self, lo=lo, hi=hi, seek=True, midnight=kept)

    @property
    def end_u(self) -> float:
        return epoch(self.end)


def _rows(f: Frame) -> tuple[Any, ColumnElement[bool]]:
    """(the camera intervals that may overlap [lo, hi), a condition on them; the callers filter
    on their ends): all those starting before hi, or (seek) the union of those starting within
    it and each camera's last one before lo (a camera's intervals do not overlap, so no earlier
    one reaches lo): two index scans, not one of every interval before hi. With a kept
    midnight: those starting from that midnight and the rollup's intervals running at it (one
    index scan, and the day's rows of camera_days)."""
    table = StateIntervalRow.__table__
    if not f.seek:
        return table, and_(table.c.subject_kind == "camera", table.c.start_time < f.hi)
    c = table.c
    lo = f.lo if f.midnight is None else f.midnight
    within = select(table).where(
        c.subject_kind == "camera", c.start_time >= lo, c.start_time < f.hi
    )
    if f.midnight is not None:
        return union_all(within, _kept(f.midnight)).subquery("cand"), true()
    return union_all(within, last_before(f.sql, lo)).subquery("cand"), true()


def _kept(midnight: datetime) -> Any:
    """The intervals running at `midnight` as the rollup of the day before keeps them, as rows
    of state_intervals (an end still unknown then is read by the interval's id)."""
    d, si = CameraDayRow, aliased(StateIntervalRow)
    now_end = select(si.end_time).where(si.id == d.midnight_id).correlate(d).scalar_subquery()
    columns = {
        "id": d.midnight_id,
        "subject_kind": literal("camera", String(8)),
        "subject_id": d.camera_id,
        "state": d.midnight_state,
        "reason": literal("", Text),
        "start_time": d.midnight_start,
        "end_time": func.coalesce(d.midnight_end, now_end),
    }
    table = StateIntervalRow.__table__
    return select(*(columns[k.name].label(k.name) for k in table.c)).where(
        d.day == midnight - DAY, d.midnight_id.is_not(None)
    )


def last_before(sql: Sql, at: datetime) -> Any:
    """Each camera's last interval starting before `at` (an indexed lookup a camera), as rows
    of state_intervals."""
    table = StateIntervalRow.__table__
    c = table.c
    last = aliased(StateIntervalRow)
    newest_first = (
        last.subject_kind == "camera",
        last.subject_id == CameraRow.id,
        last.start_time < at,
    )
    if sql.dialect == "postgresql":
        # A lateral join: one backward index probe a camera, the row itself.
        found = (
            select(*(getattr(last, k.key).label(k.name) for k in c))
            .where(*newest_first)
            .order_by(last.start_time.desc())
            .limit(1)
            .lateral("last")
        )
        before = select(*found.c).select_from(CameraRow).join(found, true())
    else:
        newest = (
            select(last.id)
            .where(*newest_first)
            .order_by(last.start_time.desc())
            .limit(1)
            .correlate(CameraRow)
            .scalar_subquery()
        )
        before = select(table).where(c.id.in_(select(newest).select_from(CameraRow)))
    return before


def clipped(f: Frame, condition: ColumnElement[bool] | None, ids: list[str] | None) -> Any:
    """(camera_id, state, s_t, e_t) of each camera interval overlapping [lo, hi), its times
    clipped to it and to the camera's creation. Times are clipped as times (greatest/least
    compare SQLite's text timestamps as they are), so each row costs one subtraction."""
    sql = f.sql
    rows, overlapping = _rows(f)
    row = rows.c
    lo = literal(f.lo, UTCDateTime)
    hi = literal(f.hi, UTCDateTime)
    s_t = sql.greatest(row.start_time, CameraRow.created_at, lo)
    e_t = sql.least(func.coalesce(row.end_time, hi), hi)
    stmt = (
        select(
            row.subject_id.label("camera_id"),
            row.state.label("state"),
            s_t.label("s_t"),
            e_t.label("e_t"),
        )
        .join(CameraRow, CameraRow.id == row.subject_id)
        .where(
            overlapping,
            or_(row.end_time.is_(None), row.end_time > f.lo),
        )
    )
    if condition is not None:
        stmt = stmt.where(condition)
    if ids is not None:
        stmt = stmt.where(row.subject_id.in_(ids))
    return stmt.subquery("ct")


def intervals(f: Frame, condition: ColumnElement[bool] | None, ids: list[str] | None) -> Any:
    """(camera_id, s, e, up, known): offsets in seconds from the range's start (for spread)."""
    ct = clipped(f, condition, ids)
    s = f.sql.epoch(ct.c.s_t) - f.start_u
    e = f.sql.epoch(ct.c.e_t) - f.start_u
    return (
        select(
            ct.c.camera_id,
            s.label("s"),
            e.label("e"),
            case((ct.c.state == ONLINE, 1.0), else_=0.0).label("up"),
            literal(1.0, Float).label("known"),
        )
        .where(ct.c.e_t > ct.c.s_t)
        .subquery("iv")
    )


def sums(f: Frame, condition: ColumnElement[bool] | None) -> Any:
    """(camera_id, up, known) of the cameras with intervals in [lo, hi)."""
    ct = clipped(f, condition, None)
    length = f.sql.epoch(ct.c.e_t) - f.sql.epoch(ct.c.s_t)
    return (
        select(
            ct.c.camera_id,
            func.sum(case((ct.c.state == ONLINE, length), else_=0.0)).label("up"),
            func.sum(length).label("known"),
        )
        .where(ct.c.e_t > ct.c.s_t)
        .group_by(ct.c.camera_id)
    )


def stretches(f: Frame, condition: ColumnElement[bool] | None, ids: list[str] | None) -> Any:
    """(subject_id, s0, e0, s0_t) of the outages (a stretch of intervals not ONLINE) seen
    among the intervals starting before hi and not ended before lo; s0 and e0 are epoch
    seconds (e0 the latest end seen, now for an open one), s0_t the start as a time."""
    sql = f.sql
    rows, overlapping = _rows(f)
    row = rows.c
    # Each ONLINE interval starts a new group: the intervals not ONLINE after it are one outage.
    group = func.sum(case((row.state == ONLINE, 1), else_=0)).over(
        partition_by=row.subject_id, order_by=row.start_time
    )
    ordered = (
        select(row.subject_id, row.state, row.start_time, row.end_time, group.label("grp"))
        .join(CameraRow, CameraRow.id == row.subject_id)
        .where(
            overlapping,
            or_(row.end_time.is_(None), row.end_time >= f.lo),
        )
    )
    if condition is not None:
        ordered = ordered.where(condition)
    if ids is not None:
        ordered = ordered.where(row.subject_id.in_(ids))
    w = ordered.subquery("w")
    return (
        select(
            w.c.subject_id,
            sql.epoch(func.min(w.c.start_time)).label("s0"),
            func.max(func.coalesce(sql.epoch(w.c.end_time), f.now_u)).label("e0"),
            func.min(w.c.start_time).label("s0_t"),
        )
        .where(w.c.state != ONLINE)
        .group_by(w.c.subject_id, w.c.grp)
        .subquery("st")
    )


def outage_end(f: Frame, camera_id: Any, s0_t: Any) -> ColumnElement[float]:
    """The end (epoch seconds, clipped to the range's end) of the outage of `camera_id` that
    began at `s0_t`, as the whole range's stretches see it: the latest end (now for an open
    one) of its intervals not ONLINE that start before the range's end and before the next
    ONLINE interval. Two indexed lookups; for the few outages running past an edge."""
    row, nxt = aliased(StateIntervalRow), aliased(StateIntervalRow)
    next_online = (
        select(func.min(nxt.start_time))
        .where(
            nxt.subject_kind == "camera",
            nxt.subject_id == camera_id,
            nxt.state == ONLINE,
            nxt.start_time > s0_t,
        )
        .correlate_except(nxt)
        .scalar_subquery()
    )
    latest = (
        select(func.max(func.coalesce(f.sql.epoch(row.end_time), f.now_u)))
        .where(
            row.subject_kind == "camera",
            row.subject_id == camera_id,
            row.state != ONLINE,
            row.start_time >= s0_t,
            row.start_time < f.end,
            or_(next_online.is_(None), row.start_time < next_online),
        )
        .correlate_except(row)
        .scalar_subquery()
    )
    return f.sql.least(latest, f.end_u)


def outages(
    f: Frame, condition: ColumnElement[bool] | None, *, whole: bool, ids: list[str] | None = None
) -> Any:
    """(camera_id, n, total, longest) of the outages that began in [lo, hi), each clipped to
    the range's end. `whole`: [lo, hi) reaches the range's end, so the stretches seen are
    whole; otherwise the length of one running past hi is looked up (outage_end)."""
    st = stretches(f, condition, ids)
    ends = st.c.e0 if whole else outage_end(f, st.c.subject_id, st.c.s0_t)
    if not whole:
        ends = case((st.c.e0 < epoch(f.hi), st.c.e0), else_=ends)
    length = f.sql.least(ends, f.end_u) - st.c.s0
    return (
        select(
            st.c.subject_id.label("camera_id"),
            func.count().label("n"),
            func.sum(length).label("total"),
            func.max(length).label("longest"),
        )
        .where(st.c.s0 >= epoch(f.lo), st.c.s0 < epoch(f.hi))
        .group_by(st.c.subject_id)
    )
