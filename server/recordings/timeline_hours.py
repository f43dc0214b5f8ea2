"""GetTimeline's recorded stretches over a long range from an hourly rollup, exactly as
spans.recorded finds them over the segments themselves.

The segments of a range are split by their start time: those before the first whole hour of
the range and those from its last hour on (its ends) are merged by spans.py's query as before;
those starting in the whole hours between come as each hour's islands (`timeline_islands`,
merged by the same query, partitioned by hour). Islands joined in start order, a later one
merging into the stretch so far when it starts within MERGE_S of the latest end so far, are
the islands of all their segments: within a part that is the query's own rule, and a segment
that starts a part's island is compared with the latest end of everything before it, as in one
query over the whole range.

An hour's islands are trusted only while they were rolled at the hour's current version, which
triggers on `recordings` raise on every change of a segment starting in it (migration 0014):
a segment ingested late from a spool, deleted or moved. Hours not rolled or changed since are
merged from the segments in the read and written back afterwards (RecordingService), guarded by
the version read before them, so a read racing an ingest never stores islands that miss it.
A camera-hour without a row had no segment start in it.

Holes within ~1 ms of MERGE_S may be judged differently than on SQLite, whose query compares
julian days in floating point at millisecond precision; both sides of such a hole are
recorded time either way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    String,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db.models import RecordingRow
from server.db.models.timeline import TimelineHourRow, TimelineIslandRow
from server.recordings import spans
from server.recordings.ingest import MAX_SEGMENT
from server.recordings.spans import Island
from server.recordings.timeline import MERGE_S, Recorded

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MERGE = timedelta(seconds=MERGE_S)
# Stale hours written back per statement.
_CHUNK = 500


def floor_hour(at: datetime) -> datetime:
    return _EPOCH + ((at - _EPOCH) // HOUR) * HOUR


def hour_key(at: datetime) -> str:
    """The hour `at` falls in, as the triggers of migration 0014 name it."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H")


def _hour_of(key: str) -> datetime:
    return datetime.strptime(key, "%Y-%m-%d %H").replace(tzinfo=UTC)


def _hour_sql(session: AsyncSession) -> ColumnElement[Any]:
    """hour_key of a segment's start, in SQL, exactly as the triggers compute it."""
    if session.get_bind().dialect.name == "sqlite":
        return func.substr(RecordingRow.start_time, 1, 13, type_=String)
    utc = func.timezone("UTC", RecordingRow.start_time)
    return func.to_char(utc, "YYYY-MM-DD HH24", type_=String)


def _us(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(microseconds=1)


def _at(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


@dataclass(frozen=True)
class Rolled:
    """An hour's islands merged in a read, to store if the hour is still at `version`."""

    hour: str
    version: int
    islands: tuple[Island, ...]


def join(parts: Iterable[Island]) -> list[Island]:
    """Islands of consecutive parts (in start order) merged where a later one starts within
    MERGE_S of the latest end before it."""
    out: list[Island] = []
    for island in parts:
        if out and island.start - out[-1].end <= _MERGE:
            last = out[-1]
            out[-1] = Island(
                last.start,
                max(last.end, island.end),
                island.last_start,
                last.node_id,
                island.last_node_id,
            )
        else:
            out.append(island)
    return out


async def _rolled(
    session: AsyncSession, camera_id: str, k0: str, k1: str
) -> tuple[dict[str, list[Island]], dict[str, int]]:
    """({hour: its islands} of the hours in [k0, k1) rolled at their version, {hour: version}
    of those that are not)."""
    h, i = TimelineHourRow, TimelineIslandRow
    result = await session.execute(
        select(h.hour, h.version, h.rolled, i.start_us, i.end_us, i.last_start_us, i.node_id,
               i.last_node_id)
        .outerjoin(i, and_(i.camera_id == h.camera_id, i.hour == h.hour, h.rolled == h.version))
        .where(h.camera_id == camera_id, h.hour >= k0, h.hour < k1)
    )  # fmt: skip
    fresh: dict[str, list[Island]] = {}
    stale: dict[str, int] = {}
    for hour, version, rolled, start, end, last, node, last_node in result.all():
        if rolled != version:
            stale[hour] = version
            continue
        islands = fresh.setdefault(hour, [])
        if start is not None:
            islands.append(Island(_at(start), _at(end), _at(last), node, last_node))
    return fresh, stale


def _runs(hours: Iterable[str]) -> list[tuple[datetime, datetime]]:
    """Consecutive hours as [start, end) runs."""
    runs: list[tuple[datetime, datetime]] = []
    for at in sorted(_hour_of(k) for k in hours):
        if runs and runs[-1][1] == at:
            runs[-1] = (runs[-1][0], at + HOUR)
        else:
            runs.append((at, at + HOUR))
    return runs


async def _roll(
    session: AsyncSession, camera_id: str, stale: dict[str, int]
) -> dict[str, list[Island]]:
    """The islands of each of the `stale` hours, from their segments."""
    if not stale:
        return {}
    start = RecordingRow.start_time
    found = await spans.islands(
        session,
        camera_id,
        [or_(*(and_(start >= a, start < b) for a, b in _runs(stale)))],
        _hour_sql(session),
    )
    out: dict[str, list[Island]] = {hour: [] for hour in stale}
    for hour, island in found:
        out[hour].append(island)
    return out


async def recorded(
    session: AsyncSession, camera_id: str, lo: datetime, hi: datetime
) -> tuple[list[Recorded], list[Rolled]]:
    """spans.recorded(session, camera_id, lo, hi), and the hours merged from their segments in
    this read (for store)."""
    h0, h1 = floor_hour(lo) + HOUR, floor_hour(hi)
    if h1 <= h0:
        return await spans.recorded(session, camera_id, lo, hi), []
    start = RecordingRow.start_time
    # The version first: a segment committed after it raises it, so what this read merges for
    # a stale hour is stored only if nothing changed since (Rolled.version).
    fresh, stale = await _rolled(session, camera_id, hour_key(h0), hour_key(h1))
    head = await spans.islands(
        session,
        camera_id,
        [start > lo - MAX_SEGMENT, start < h0, RecordingRow.end_time > lo],
    )
    rolled = await _roll(session, camera_id, stale)
    tail = await spans.islands(session, camera_id, [start >= h1, start < hi])
    hours = {**fresh, **rolled}
    parts = [i for _, i in head]
    for hour in sorted(hours):
        parts += hours[hour]
    parts += [i for _, i in tail]
    todo = [Rolled(hour, version, tuple(rolled[hour])) for hour, version in stale.items()]
    return spans.chain(join(parts)), todo


async def store(
    sessions: async_sessionmaker[AsyncSession], camera_id: str, rolled: Sequence[Rolled]
) -> None:
    """Write back the hours a read merged, each only if still at the version it read. Best
    effort: the read's answer stands either way, and a later read merges the hour again."""
    hours = cast(Table, TimelineHourRow.__table__)
    ordered = sorted(rolled, key=lambda r: r.hour)  # one lock order for all writers
    try:
        async with sessions.begin() as session:
            # One statement for all: each hour is marked rolled only if still at its version.
            await session.execute(
                update(hours)
                .where(
                    hours.c.camera_id == camera_id,
                    hours.c.hour == bindparam("at"),
                    hours.c.version == bindparam("seen"),
                )
                .values(rolled=bindparam("seen")),
                [{"at": r.hour, "seen": r.version} for r in ordered],
            )
            kept: list[Rolled] = []
            for k in range(0, len(ordered), _CHUNK):
                chunk = ordered[k : k + _CHUNK]
                result = await session.execute(
                    select(TimelineHourRow.hour, TimelineHourRow.version).where(
                        TimelineHourRow.camera_id == camera_id,
                        TimelineHourRow.hour.in_([r.hour for r in chunk]),
                        TimelineHourRow.rolled == TimelineHourRow.version,
                    )
                )
                now: dict[str, int] = dict(result.all())
                kept += [r for r in chunk if now.get(r.hour) == r.version]
            for k in range(0, len(kept), _CHUNK):
                await session.execute(
                    delete(TimelineIslandRow).where(
                        TimelineIslandRow.camera_id == camera_id,
                        TimelineIslandRow.hour.in_([r.hour for r in kept[k : k + _CHUNK]]),
                    )
                )
            rows = [
                {"camera_id": camera_id, "hour": r.hour, "start_us": _us(i.start),
                 "end_us": _us(i.end), "last_start_us": _us(i.last_start), "node_id": i.node_id,
                 "last_node_id": i.last_node_id}
                for r in kept
                for i in r.islands
            ]  # fmt: skip
            if rows:
                await session.execute(insert(TimelineIslandRow), rows)
    except DBAPIError as exc:  # a busy SQLite, a deadlock with an ingest: next time
        log.info("timeline hours of camera %s not stored: %s", camera_id, exc)
