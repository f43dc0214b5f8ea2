"""Run by test_reports_writers.py in a process of its own: render a report of N sample cameras
and print the file's size and the process's peak RSS (so one measurement is not mixed with
what other tests allocated). Usage: python -m tests.server.analytics.report_memory N FORMAT
KIND."""

from __future__ import annotations

import asyncio
import json
import resource
import sys

from server.analytics.ranges import check_window
from server.analytics.reports.build import build_report
from server.analytics.reports.rows import ReportFormat, ReportKind
from server.analytics.reports.stream import CHUNK, report_chunks
from tests.server.analytics.report_samples import END, START, SampleFigures


async def measure(n: int, fmt: ReportFormat, kind: ReportKind) -> dict[str, int]:
    report = await build_report(SampleFigures(n), kind, check_window(START, END, None), [])
    total = chunks = largest = 0
    async for chunk in report_chunks(report, fmt):
        total += len(chunk)
        chunks += 1
        largest = max(largest, len(chunk))
    assert largest <= CHUNK
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"bytes": total, "chunks": chunks, "largest_chunk": largest, "peak_rss": peak}


if __name__ == "__main__":
    count, fmt, kind = int(sys.argv[1]), ReportFormat(sys.argv[2]), ReportKind(sys.argv[3])
    print(json.dumps(asyncio.run(measure(count, fmt, kind))))
