"""GetTimeline from the hourly rollup (server/recordings/timeline_hours.py) answers exactly what
the merge over the segments themselves answers: on both backends, for random segment layouts
(back-to-back runs, holes just under, at and over MERGE_S, a second node's overlapping copy,
handovers, segments on and across hour boundaries, hours-long segments that swallow later
islands) and random ranges starting and ending mid-hour or on the hour, before and after the
rolled hours change under it (late segments, deletions, a segment moved or given to another
node)."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select, update

from harness.databases import throwaway_postgres
from server.config import sqlite_url
from server.db.engine import Sessions, create_engine, session_factory
from server.db.migrate import upgrade_to_head
from server.db.models import CameraRow, RecordingGapRow, RecordingRow
from server.db.models.timeline import TimelineHourRow
from server.recordings import spans, timeline
from server.recordings.causes import GapCause
from server.recordings.service import RecordingService
from server.recordings.timeline import StoredGap, Timeline

T0 = datetime(2026, 5, 4, 21, tzinfo=UTC)
HOURS = 10
NODES = ("node-a", "node-b", "node-c")
# Holes between consecutive segments: none, rounding, either side of MERGE_S (1.5 s), lost time.
HOLES = (0.0, 0.0, 0.0, 0.001, 0.5, 1.4, 1.499, 1.5, 1.501, 1.6, 4.0, 90.0, 1500.0)


@asynccontextmanager
async def _migrated(url: str) -> AsyncIterator[Sessions]:
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        yield session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
async def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Sessions]:
    if request.param == "sqlite":
        async with _migrated(sqlite_url(tmp_path)) as s:
            yield s
        return
    with throwaway_postgres("timeline") as url:
        async with _migrated(url) as s:
            yield s


def _ms(rng: random.Random, lo: float, hi: float) -> timedelta:
    """A random length in [lo, hi] seconds on the millisecond (SQLite compares milliseconds)."""
    return timedelta(milliseconds=rng.randint(int(lo * 1000), int(hi * 1000)))


def _segment(camera_id: str, node_id: str, start: datetime, end: datetime) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "camera_id": camera_id, "node_id": node_id,
            "start_time": start, "end_time": end, "duration_s": (end - start).total_seconds(),
            "size_bytes": 1, "create_time": start}  # fmt: skip


def _layout(rng: random.Random, camera_id: str) -> list[dict[str, Any]]:
    """Segments over HOURS hours from T0."""
    rows: list[dict[str, Any]] = []
    at, node = T0 + _ms(rng, 0, 600), rng.choice(NODES)
    while at < T0 + HOURS * timedelta(hours=1):
        roll = rng.random()
        if roll < 0.02:  # an hours-long segment (up to MAX_SEGMENT, 6 h)
            length = _ms(rng, 3600, 4 * 3600)
        elif roll < 0.04:
            length = timedelta(0)
        else:
            length = _ms(rng, 1, rng.choice((2, 10, 60, 400)))
        if rng.random() < 0.05:  # start on the hour
            hour = at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            at = hour if hour - at < timedelta(minutes=20) else at
        rows.append(_segment(camera_id, node, at, at + length))
        if rng.random() < 0.05:  # another node's copy, offset (a spool, a handover)
            offset = _ms(rng, 0.001, 5)
            rows.append(_segment(camera_id, rng.choice(NODES), at + offset, at + offset + length))
        if rng.random() < 0.03:
            node = rng.choice(NODES)
        at += length + timedelta(seconds=rng.choice(HOLES))
        if rng.random() < 0.01:  # a long silence, ending anywhere
            at += _ms(rng, 600, 7200)
    return rows


def _gaps(rng: random.Random, camera_id: str) -> list[dict[str, Any]]:
    out = []
    for _ in range(rng.randint(0, 6)):
        start = T0 + _ms(rng, 0, HOURS * 3600)
        out.append({"id": str(uuid.uuid4()), "camera_id": camera_id,
                    "node_id": rng.choice(NODES), "start_time": start,
                    "end_time": start + _ms(rng, 1, 3000),
                    "cause": rng.choice((GapCause.RECORDER_CRASH, GapCause.NODE_LOST)).value,
                    "reason": "recorder exited"})  # fmt: skip
    return out


def _range(rng: random.Random) -> tuple[datetime, datetime]:
    """Mid-hour or on the hour, at least two hours long (shorter ranges skip the rollup)."""
    lo = T0 - timedelta(hours=1) + _ms(rng, 0, 4 * 3600)
    if rng.random() < 0.3:
        lo = lo.replace(minute=0, second=0, microsecond=0)
    hi = lo + _ms(rng, 2 * 3600, (HOURS + 1) * 3600)
    if rng.random() < 0.3:
        hi = hi.replace(minute=0, second=0, microsecond=0)
    return lo, hi


async def _exact(
    sessions: Sessions, camera_id: str, lo: datetime, hi: datetime, gaps: list[dict[str, Any]]
) -> Timeline:
    """The timeline from the segments themselves (what GetTimeline answered before rollups)."""
    async with sessions() as session:
        recorded = await spans.recorded(session, camera_id, lo, hi)
    stored = [
        StoredGap(g["start_time"], g["end_time"], GapCause(g["cause"]), g["reason"], g["node_id"])
        for g in gaps
    ]
    return timeline.build(lo, hi, segments=recorded, stored_gaps=stored, stops=[], now=hi)


async def _check(
    sessions: Sessions, rng: random.Random, camera_id: str, gaps: list[dict[str, Any]]
) -> None:
    service = RecordingService(sessions)
    for _ in range(4):
        lo, hi = _range(rng)
        exact = await _exact(sessions, camera_id, lo, hi, gaps)
        assert await service.timeline(camera_id, lo, hi) == exact, (lo, hi)
        # Now from the hours that read rolled.
        assert await service.timeline(camera_id, lo, hi) == exact, (lo, hi)


async def _rolled_hours(sessions: Sessions, camera_id: str) -> int:
    async with sessions() as session:
        found = await session.scalar(
            select(func.count()).where(
                TimelineHourRow.camera_id == camera_id,
                TimelineHourRow.rolled == TimelineHourRow.version,
            )
        )
    return int(found or 0)


@pytest.mark.parametrize("seed", range(6))
async def test_rolled_hours_give_the_exact_timeline(sessions: Sessions, seed: int) -> None:
    rng = random.Random(seed)
    camera_id = str(uuid.uuid4())
    segments = _layout(rng, camera_id)
    gaps = _gaps(rng, camera_id)
    async with sessions.begin() as session:
        session.add(CameraRow(id=camera_id, name="c", name_key="c", stream_key="k" * 32))
        await session.execute(insert(RecordingRow), segments)
        if gaps:
            await session.execute(insert(RecordingGapRow), gaps)
    await _check(sessions, rng, camera_id, gaps)
    assert await _rolled_hours(sessions, camera_id) >= 1  # the reads above used the rollup

    # The rolled hours change under it: late segments (a spool), deletions, moves.
    late = [
        _segment(camera_id, rng.choice(NODES), at, at + _ms(rng, 0, 30))
        for at in (T0 + _ms(rng, 0, HOURS * 3600) for _ in range(8))
    ]
    async with sessions.begin() as session:
        await session.execute(insert(RecordingRow), late)
        doomed = [str(s["id"]) for s in rng.sample(segments, 10)]
        await session.execute(delete(RecordingRow).where(RecordingRow.id.in_(doomed)))
        kept = [s for s in segments if s["id"] not in doomed]
        for s in rng.sample(kept, 6):
            await session.execute(
                update(RecordingRow).where(RecordingRow.id == s["id"]).values(node_id="node-z")
            )
        moved = rng.choice(kept)
        shift = timedelta(minutes=rng.choice((-70, -3, 45)))
        await session.execute(
            update(RecordingRow)
            .where(RecordingRow.id == moved["id"])
            .values(start_time=moved["start_time"] + shift, end_time=moved["end_time"] + shift)
        )
    await _check(sessions, rng, camera_id, gaps)
