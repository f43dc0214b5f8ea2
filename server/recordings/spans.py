"""A camera's recorded stretches, merged by the database: gaps and islands, so a month of
segments comes back as a handful of rows instead of hundreds of thousands.

An island continues while a segment starts within MERGE_S of the latest end so far (not just
the previous segment's end), so segments of two nodes that overlap (a returning partitioned
node's spool, a make-before-break handover) are one island: their time counts once. The nodes
around each hole (who stopped, who resumed) come from a second, indexed lookup of the islands'
first and last segments only: carrying node ids through the window functions doubled the
query's time over a month of segments (bench/bench_timeline.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, extract, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import RecordingRow
from server.recordings import timeline
from server.recordings.queries import overlapping
from server.recordings.timeline import Recorded

# Start times looked up per query (well under every backend's limit of bound parameters).
_LOOKUP_CHUNK = 500


def _seconds_between(session: AsyncSession, later: Any, earlier: Any) -> ColumnElement[Any]:
    """`later - earlier` in seconds, in SQL (SQLite keeps times as text)."""
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86_400.0
    return extract("epoch", later - earlier)


@dataclass(frozen=True)
class Island:
    """Segments merged: from the first one's start to the latest end, with the start of the
    last-starting segment, and the nodes of the first and of that last segment."""

    start: datetime
    end: datetime
    last_start: datetime
    node_id: str
    last_node_id: str


async def _islands(
    session: AsyncSession,
    where: Sequence[ColumnElement[bool]],
    part: ColumnElement[Any] | None,
) -> list[tuple[Any, datetime, datetime, datetime]]:
    """(part, start, end, start of its last segment) of each island of the segments `where`
    selects, in order; with `part`, islands never join segments of different parts."""
    ordered = RecordingRow.start_time
    parts = [] if part is None else [part]
    previous_end = (
        func.max(RecordingRow.end_time)
        .over(partition_by=parts or None, order_by=ordered, rows=(None, -1))
        .label("previous_end")
    )
    key = (part if part is not None else literal(0)).label("part")
    rows = select(key, RecordingRow.start_time, RecordingRow.end_time, previous_end).where(*where)
    sub = rows.subquery()
    starts_island = case(
        (sub.c.previous_end.is_(None), 1),
        (_seconds_between(session, sub.c.start_time, sub.c.previous_end) > timeline.MERGE_S, 1),
        else_=0,
    )
    flagged = select(
        sub.c.part,
        sub.c.start_time,
        sub.c.end_time,
        func.sum(starts_island)
        .over(partition_by=sub.c.part, order_by=sub.c.start_time, rows=(None, 0))
        .label("island"),
    ).subquery()
    result = await session.execute(
        select(
            flagged.c.part,
            func.min(flagged.c.start_time),
            func.max(flagged.c.end_time),
            func.max(flagged.c.start_time),
        )
        .group_by(flagged.c.part, flagged.c.island)
        .order_by(func.min(flagged.c.start_time))
    )
    return [(p, start, end, last) for p, start, end, last in result.all()]


async def _nodes_at(
    session: AsyncSession, camera_id: str, starts: Sequence[datetime]
) -> dict[datetime, str]:
    """The node of the camera's segment starting at each of `starts` (by the index)."""
    nodes: dict[datetime, str] = {}
    unique = sorted(set(starts))
    for i in range(0, len(unique), _LOOKUP_CHUNK):
        result = await session.execute(
            select(RecordingRow.start_time, RecordingRow.node_id).where(
                RecordingRow.camera_id == camera_id,
                RecordingRow.start_time.in_(unique[i : i + _LOOKUP_CHUNK]),
            )
        )
        for start, node_id in result.all():
            nodes.setdefault(start, node_id)
    return nodes


async def islands(
    session: AsyncSession,
    camera_id: str,
    where: Sequence[ColumnElement[bool]],
    part: ColumnElement[Any] | None = None,
) -> list[tuple[Any, Island]]:
    """The islands of the camera's segments that `where` selects, in order, each with its part
    (see _islands; None without `part`) and its nodes."""
    found = await _islands(session, [RecordingRow.camera_id == camera_id, *where], part)
    nodes = await _nodes_at(session, camera_id, [i[1] for i in found] + [i[3] for i in found])
    return [
        (p if part is not None else None, Island(s, e, last, nodes.get(s, ""), nodes.get(last, "")))
        for p, s, e, last in found
    ]


def chain(found: Iterable[Island]) -> list[Recorded]:
    """Islands in order as stretches: each with the node of its first segment and the node of
    the last segment before it (the end of the previous island)."""
    out: list[Recorded] = []
    previous = ""
    for island in found:
        out.append(Recorded(island.start, island.end, island.node_id, previous))
        previous = island.last_node_id
    return out


async def recorded(
    session: AsyncSession, camera_id: str, lo: datetime, hi: datetime
) -> list[Recorded]:
    """The camera's segments overlapping [lo, hi) merged into stretches (holes up to MERGE_S
    closed), each with the node of its first segment and of the last one before it."""
    found = await islands(session, camera_id, overlapping(camera_id, lo, hi))
    return chain(island for _, island in found)
