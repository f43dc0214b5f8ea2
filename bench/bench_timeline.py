"""How long GetTimeline's domain work takes over a long range, and a ListRecordings page.

    python -m bench.bench_timeline [--days 31] [--segment-seconds 10] [--backend sqlite|postgres]
        [--overlap-hours 0]

Fills a throwaway database (a temporary SQLite file, or a throwaway PostgreSQL database that
is dropped afterwards) with one camera's back-to-back segments over `--days`, with a few
explicit gaps, then times RecordingService.timeline over the whole range and the first and a
deep ListRecordings page (in process: the query and interval work, not gRPC). Prints numbers:
wall time, this process's CPU (on SQLite that includes the database's work) and on PostgreSQL
the CPU of its backends serving the bench (per call). The first read
of the range merges its hours from the segments and stores them (server/recordings/
timeline_hours.py); the later ones read them. Beside them, in the same run, the baseline: the
merge of the whole range's segments that GetTimeline ran before (spans.recorded), and the same
stretches from the hours.
`--overlap-hours N`: a second node also recorded the first N hours of every day (a returning
partitioned node's spool), its segments offset by half a segment, which the timeline counts
once (the printed recorded time says so).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from harness.databases import throwaway_postgres
from server.config import sqlite_url
from server.db.engine import create_engine, session_factory
from server.db.migrate import upgrade_to_head
from server.db.models import CameraRow, RecordingGapRow, RecordingRow
from server.recordings import spans, timeline_hours
from server.recordings.service import RecordingService
from server.recordings.timeline import Timeline


def _segment(camera_id: str, node_id: str, start: datetime, seconds: int) -> dict[str, object]:
    return {"id": str(uuid.uuid4()), "camera_id": camera_id, "node_id": node_id,
            "start_time": start, "end_time": start + timedelta(seconds=seconds),
            "duration_s": float(seconds), "size_bytes": 1, "sha256": "", "tier": "hot",
            "profile": "original", "container": "mpegts", "recovered": False,
            "create_time": start}  # fmt: skip


async def _db_cpu(sessions: async_sessionmaker[AsyncSession]) -> float:
    """CPU seconds so far of the PostgreSQL backends serving the bench's database (from /proc:
    the server runs here), 0 on SQLite, whose work is this process's own CPU. Wall times on a
    shared machine follow its load; CPU times hardly do."""
    async with sessions() as session:
        if session.get_bind().dialect.name != "postgresql":
            return 0.0
        pids = (
            await session.scalars(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            )
        ).all()
    return _proc_cpu(pids)


def _proc_cpu(pids: Sequence[int]) -> float:
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # a backend that just ended
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


async def run(url: str, days: int, segment_s: int, overlap_hours: int = 0) -> None:
    engine = create_engine(url)
    await upgrade_to_head(engine)
    sessions = session_factory(engine)
    camera_id, node_id, other_node = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    end = datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(days=days)
    count = days * 86_400 // segment_s
    async with sessions.begin() as session:
        session.add(CameraRow(id=camera_id, name="bench", name_key="bench", stream_key="k" * 32))
    began = time.perf_counter()
    batch: list[dict[str, object]] = []
    for i in range(count):
        if i % 5000 == 2500:
            continue  # a hole nobody explains, now and then
        s = start + timedelta(seconds=i * segment_s)
        batch.append(_segment(camera_id, node_id, s, segment_s))
        if (i * segment_s) % 86_400 < overlap_hours * 3600:
            batch.append(
                _segment(camera_id, other_node, s + timedelta(seconds=segment_s / 2), segment_s)
            )
        if len(batch) >= 10_000 or i == count - 1:
            async with sessions.begin() as session:
                await session.execute(insert(RecordingRow), batch)
            batch = []
    async with sessions.begin() as session:
        for k in range(days):
            at = start + timedelta(days=k, hours=3)
            session.add(
                RecordingGapRow(
                    camera_id=camera_id, node_id=node_id, start_time=at,
                    end_time=at + timedelta(seconds=30), reason="recorder exited",
                    cause="recorder_crash",
                )
            )  # fmt: skip
    overlap = f", a second node's over {overlap_hours} h a day" if overlap_hours else ""
    print(f"{count} segments of {segment_s} s over {days} days{overlap} loaded in "
          f"{time.perf_counter() - began:.1f} s")  # fmt: skip
    service = RecordingService(sessions)
    t0, c0, d0 = time.perf_counter(), time.process_time(), await _db_cpu(sessions)
    first = await service.timeline(camera_id, start, end)
    wall, cpu0 = time.perf_counter() - t0, time.process_time() - c0
    db0 = await _db_cpu(sessions) - d0
    print(f"{'GetTimeline (whole range), 1st':30s} {wall * 1000:8.1f} ms  "
          f"cpu {cpu0 * 1000:8.1f} ms  db cpu {db0 * 1000:6.0f} ms  "
          "(merges and stores the hours)")  # fmt: skip

    async def merge_segments() -> object:  # what GetTimeline merged before the rollup
        async with sessions() as session:
            return await spans.recorded(session, camera_id, start, end)

    async def from_hours() -> object:
        async with sessions() as session:
            return await timeline_hours.recorded(session, camera_id, start, end)

    for name, call in (
        ("GetTimeline (whole range)", lambda: service.timeline(camera_id, start, end)),
        ("  its stretches: from hours", from_hours),
        ("  baseline: merge segments", merge_segments),
        (
            "GetTimeline (one day)",
            lambda: service.timeline(camera_id, end - timedelta(days=1), end),
        ),
        ("ListRecordings page 1 (50)", lambda: service.list(camera_id, start, end, 50, "")),
    ):
        times, cpu = [], []
        d0 = await _db_cpu(sessions)
        for _ in range(5):
            t0, c0 = time.perf_counter(), time.process_time()
            result = await call()
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        db = (await _db_cpu(sessions) - d0) / 5
        print(f"{name:30s} median {statistics.median(times) * 1000:8.1f} ms  "
              f"max {max(times) * 1000:8.1f} ms  cpu {statistics.median(cpu) * 1000:8.1f} ms  "
              f"db cpu {db * 1000:6.0f} ms  ({type(result).__name__})")  # fmt: skip
        if isinstance(result, Timeline):
            print(f"{'':30s} recorded {result.recorded_s / 86_400:.3f} days, "
                  f"{len(result.gaps)} gaps, coverage {result.coverage:.5f}")  # fmt: skip
    assert await service.timeline(camera_id, start, end) == first  # the rollup changes nothing
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--segment-seconds", type=int, default=10)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--overlap-hours", type=int, default=0, choices=range(25))
    args = parser.parse_args()
    if args.backend == "postgres":
        with throwaway_postgres("bench") as url:
            asyncio.run(run(url, args.days, args.segment_seconds, args.overlap_hours))
        return
    with tempfile.TemporaryDirectory(prefix="camfleet-bench-") as tmp:
        asyncio.run(run(sqlite_url(Path(tmp)), args.days, args.segment_seconds, args.overlap_hours))


if __name__ == "__main__":
    main()
