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

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, extract, func, select
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


async def _islands(
    session: AsyncSession, camera_id: str, lo: datetime, hi: datetime
) -> list[tuple[datetime, datetime, datetime]]:
    """(start, end, start of its last segment) of each island, in order."""
    ordered = RecordingRow.start_time
    previous_end = (
        func.max(RecordingRow.end_time)
        .over(order_by=ordered, rows=(None, -1))
        .label("previous_end")
    )
    rows = (
        select(RecordingRow.start_time, RecordingRow.end_time, previous_end)
        .where(*overlapping(camera_id, lo, hi))
        .subquery()
    )
    starts_island = case(
        (rows.c.previous_end.is_(None), 1),
        (_seconds_between(session, rows.c.start_time, rows.c.previous_end) > timeline.MERGE_S, 1),
        else_=0,
    )
    flagged = select(
        rows.c.start_time,
        rows.c.end_time,
        func.sum(starts_island).over(order_by=rows.c.start_time, rows=(None, 0)).label("island"),
    ).subquery()
    result = await session.execute(
        select(
            func.min(flagged.c.start_time),
            func.max(flagged.c.end_time),
            func.max(flagged.c.start_time),
        )
        .group_by(flagged.c.island)
        .order_by(func.min(flagged.c.start_time))
    )
    return [(start, end, last) for start, end, last in result.all()]


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


async def recorded(
    session: AsyncSession, camera_id: str, lo: datetime, hi: datetime
) -> list[Recorded]:
    """The camera's segments overlapping [lo, hi) merged into stretches (holes up to MERGE_S
    closed), each with the node of its first segment and of the last one before it."""
    islands = await _islands(session, camera_id, lo, hi)
    nodes = await _nodes_at(
        session, camera_id, [i[0] for i in islands] + [i[2] for i in islands[:-1]]
    )
    out: list[Recorded] = []
    previous = ""
    for start, end, last in islands:
        out.append(Recorded(start, end, nodes.get(start, ""), previous))
        previous = nodes.get(last, "")
    return out
