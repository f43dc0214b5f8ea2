"""The daily rollups (`camera_days`, `storage_daily`), kept by the compaction job.

Each closed UTC day (ended at least SETTLE ago and before the hourly writer's first unsettled
hour, so its rewritten hours and the intervals' lag are behind it) is rolled once, in order,
from the cursor `analytics_days` (the first day not rolled) on; a day is replaced whole, so a
run repeated by a new leader changes nothing. Per camera and day:

- up and known seconds: uptime_sql.sums over the day (the very statement a read runs);
- the outages that began that day (uptime_sql.stretches over the day): those that ended within
  it give outage_s and longest_outage_s; the one still running at midnight (or ending exactly
  then) is `cross_start`, and its `cross_end` is filled once the next ONLINE interval shows where
  it ended (on a later run if it is still running);
- the interval running at the day's end (the last one starting before the next midnight, if it
  reaches that midnight): `midnight_*`, for the reads whose edge starts the next day; its end,
  when still open, is filled once it closes (fill_midnight_ends);
- coverage_hourly's expected and recorded seconds summed; storage_hourly summed per node and
  tier into `storage_daily`;
- the stored gaps' seconds by cause (coverage_gaps.gap_seconds over the day, the statement a read
  runs over its edges) into `camera_gap_days`.

Like coverage_hourly, a day is rolled once settled: what changes the past later (a segment
indexed more than SETTLE late, which shortens a stored gap) is not rolled again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from server.analytics.buckets import Sql, epoch
from server.analytics.coverage_gaps import gap_seconds
from server.analytics.days import CURSOR, DAY, floor_day
from server.analytics.history.hourly import CURSOR as HOURLY
from server.analytics.history.loop import (
    cursor,
    from_epoch_s,
    peek_cursor,
    set_cursor,
    to_epoch_s,
)
from server.analytics.ranges import Window
from server.analytics.uptime_sql import ONLINE, Frame, last_before, stretches, sums
from server.db.models import CameraRow
from server.db.models.analytics import (
    CameraDayRow,
    CameraGapDayRow,
    CoverageHourRow,
    StateIntervalRow,
    StorageDayRow,
    StorageHourRow,
)

SETTLE = timedelta(hours=3)
# At most this many days a run (a first run over a year of history goes on at the next run,
# 5 minutes later), so the job's transaction stays short.
MAX_DAYS = 7


async def roll_days(session: AsyncSession, now: datetime) -> int:
    """Roll the closed days since the cursor (in the caller's fenced transaction) and fill the
    ends of the outages now over; returns how many days were rolled."""
    row = await cursor(session, CURSOR)
    last = floor_day(now - SETTLE)  # the first day not closed and settled
    hours = await peek_cursor(session, HOURLY)
    if hours is not None:  # nor one whose hours the hourly writer may still rewrite
        last = min(last, floor_day(from_epoch_s(hours)))
    if row is not None:
        first = datetime.fromtimestamp(row.revision, tz=last.tzinfo)
    else:
        first = await _oldest(session) or last
    done = 0
    day = first
    while day < last and done < MAX_DAYS:
        await roll_day(session, day, now)
        day += DAY
        done += 1
    await fill_cross_ends(session, now)
    if done:
        await fill_midnight_ends(session)
    set_cursor(session, row, CURSOR, to_epoch_s(max(day, first)), now)
    return done


async def _oldest(session: AsyncSession) -> datetime | None:
    found = [
        await session.scalar(select(func.min(StateIntervalRow.start_time))),
        await session.scalar(select(func.min(CoverageHourRow.hour))),
        await session.scalar(select(func.min(StorageHourRow.hour))),
    ]
    known = [f for f in found if f is not None]
    return floor_day(min(known)) if known else None


def _day_frame(session: AsyncSession, day: datetime, now: datetime) -> Frame:
    end = day + DAY
    return Frame(
        Sql(session.get_bind().dialect.name),
        Window(day, end, DAY),
        epoch(day),
        epoch(now),
        day,
        end,
        end,
        seek=True,
    )


async def roll_day(session: AsyncSession, day: datetime, now: datetime) -> None:
    """Replace the rollups of one closed day."""
    f = _day_frame(session, day, now)
    rows: dict[str, dict[str, Any]] = {}

    def of(camera_id: str) -> dict[str, Any]:
        return rows.setdefault(
            camera_id,
            {
                "camera_id": camera_id,
                "day": day,
                "up_s": 0.0,
                "known_s": 0.0,
                "outage_starts": 0,
                "outage_s": 0.0,
                "longest_outage_s": 0.0,
                "cross_start": None,
                "cross_end": None,
                "expected_s": 0.0,
                "recorded_s": 0.0,
                "midnight_id": None,
                "midnight_state": None,
                "midnight_start": None,
                "midnight_end": None,
            },
        )

    for camera_id, up, known in (await session.execute(sums(f, None))).all():
        of(camera_id).update(up_s=float(up or 0.0), known_s=float(known or 0.0))
    st = stretches(f, None, None)
    lo_u, hi_u = epoch(day), epoch(day + DAY)
    began = select(st.c.subject_id, st.c.s0, st.c.e0, st.c.s0_t).where(
        st.c.s0 >= lo_u, st.c.s0 < hi_u
    )
    for camera_id, s0, e0, s0_t in (await session.execute(began)).all():
        r = of(camera_id)
        r["outage_starts"] += 1
        if float(e0) < hi_u:
            length = float(e0) - float(s0)
            r["outage_s"] += length
            r["longest_outage_s"] = max(r["longest_outage_s"], length)
        else:
            r["cross_start"] = s0_t
    nxt = day + DAY
    kept = last_before(f.sql, nxt).subquery("kept")
    running = await session.execute(
        select(kept.c.subject_id, kept.c.id, kept.c.state, kept.c.start_time, kept.c.end_time)
        .join(CameraRow, CameraRow.id == kept.c.subject_id)
        .where(or_(kept.c.end_time.is_(None), kept.c.end_time >= nxt))
    )
    for camera_id, interval_id, state, began_at, ended_at in running.all():
        of(camera_id).update(
            midnight_id=interval_id,
            midnight_state=state,
            midnight_start=began_at,
            midnight_end=ended_at,
        )
    c = CoverageHourRow
    coverage = await session.execute(
        select(c.camera_id, func.sum(c.expected_s), func.sum(c.recorded_s))
        .where(c.hour >= day, c.hour < day + DAY)
        .group_by(c.camera_id)
    )
    for camera_id, expected, recorded in coverage.all():
        of(camera_id).update(expected_s=float(expected or 0.0), recorded_s=float(recorded or 0.0))
    await session.execute(delete(CameraDayRow).where(CameraDayRow.day == day))
    if rows:
        await session.execute(insert(CameraDayRow), list(rows.values()))
    s = StorageHourRow
    written = await session.execute(
        select(s.camera_id, s.node_id, s.tier, func.sum(s.bytes_written), func.sum(s.segments))
        .where(s.hour >= day, s.hour < day + DAY)
        .group_by(s.camera_id, s.node_id, s.tier)
    )
    storage = [
        {
            "camera_id": camera_id,
            "node_id": node_id,
            "tier": tier,
            "day": day,
            "bytes_written": int(total or 0),
            "segments": int(segments or 0),
        }
        for camera_id, node_id, tier, total, segments in written.all()
    ]
    await session.execute(delete(StorageDayRow).where(StorageDayRow.day == day))
    if storage:
        await session.execute(insert(StorageDayRow), storage)
    gaps = [
        {
            "camera_id": camera_id,
            "day": day,
            "cause": cause,
            "seconds": max(0.0, float(total or 0.0)),
            "began": int(began or 0),
            "carried": int(carried or 0),
        }
        for camera_id, cause, total, began, carried in (
            await session.execute(gap_seconds(f.sql, day, nxt, now, None))
        ).all()
        if (total or 0) > 0 or began or carried
    ]
    await session.execute(delete(CameraGapDayRow).where(CameraGapDayRow.day == day))
    if gaps:
        await session.execute(insert(CameraGapDayRow), gaps)


async def fill_midnight_ends(session: AsyncSession) -> None:
    """The end of each kept midnight interval that was open when its day was rolled and has
    closed since (reads look such an end up by the interval's id until then). Once per run that
    rolled a day: a scan of the rows still open, a key lookup each."""
    d, si = CameraDayRow, aliased(StateIntervalRow)
    ended = select(si.end_time).where(si.id == d.midnight_id).scalar_subquery()
    closed = select(si.id).where(si.id == d.midnight_id, si.end_time.is_not(None)).exists()
    await session.execute(
        update(d)
        .where(d.midnight_id.is_not(None), d.midnight_end.is_(None), closed)
        .values(midnight_end=ended)
        .execution_options(synchronize_session=False)
    )


async def fill_cross_ends(session: AsyncSession, now: datetime) -> None:
    """The end of each outage that ran past a rolled midnight, once an ONLINE interval follows
    it: the latest end of its intervals before that one (still unknown while any is open)."""
    d = CameraDayRow
    row, nxt = aliased(StateIntervalRow), aliased(StateIntervalRow)
    next_online = (
        select(func.min(nxt.start_time))
        .where(
            nxt.subject_kind == "camera",
            nxt.subject_id == d.camera_id,
            nxt.state == ONLINE,
            nxt.start_time > d.cross_start,
        )
        .correlate_except(nxt)
        .scalar_subquery()
    )
    group = (
        row.subject_kind == "camera",
        row.subject_id == d.camera_id,
        row.state != ONLINE,
        row.start_time >= d.cross_start,
        or_(next_online.is_(None), row.start_time < next_online),
    )
    latest = select(func.max(row.end_time)).where(*group).correlate_except(row).scalar_subquery()
    running = (
        select(func.count())
        .where(*group, row.end_time.is_(None))
        .correlate_except(row)
        .scalar_subquery()
    )
    found = await session.execute(
        select(d.camera_id, d.day, next_online, latest, running).where(
            d.cross_start.is_not(None), d.cross_end.is_(None)
        )
    )
    for camera_id, day, following, end, open_ in found.all():
        if following is None or open_ or end is None:
            continue
        await session.execute(
            update(d).where(d.camera_id == camera_id, d.day == day).values(cross_end=end)
        )
