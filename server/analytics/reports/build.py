"""Figures -> a Report: which tables, columns, summary figures and charts each kind has. The
camera rows stay an iterator (rows.py), drawn from the figures' async pages as the writer
reaches them (stream.rows_from)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime

from server.analytics.ranges import Window
from server.analytics.reports.figures import (
    CameraPerformance,
    Figures,
    PerformanceFigures,
    StorageFigures,
    StorageUse,
)
from server.analytics.reports.rows import (
    CHART_BARS,
    Chart,
    Column,
    Figure,
    Report,
    ReportKind,
    Table,
    Unit,
    Value,
)
from server.analytics.reports.stream import rows_from
from server.recordings.causes import GapCause

TITLES = {
    ReportKind.CAMERA_PERFORMANCE: "Camera performance",
    ReportKind.STORAGE: "Storage",
}
CAUSE_TITLES = {
    GapCause.NODE_LOST: "Gap: node lost",
    GapCause.SOURCE_ERROR: "Gap: source error",
    GapCause.RECORDER_CRASH: "Gap: recorder crash",
    GapCause.DISK_FULL: "Gap: disk full",
    GapCause.CAMERA_STOPPED: "Gap: camera stopped",
    GapCause.UNKNOWN: "Gap: unknown",
}
PERFORMANCE_COLUMNS = (
    Column("Camera"),
    Column("Camera id", in_pdf=False),
    Column("Uptime", Unit.RATIO),
    Column("Up", Unit.SECONDS, in_pdf=False),
    Column("Down", Unit.SECONDS),
    Column("Outages", Unit.COUNT),
    Column("Longest outage", Unit.SECONDS),
    Column("MTBF", Unit.SECONDS),
    Column("Expected", Unit.SECONDS, in_pdf=False),
    Column("Recorded", Unit.SECONDS),
    Column("Coverage", Unit.RATIO),
    *(Column(title, Unit.SECONDS) for title in CAUSE_TITLES.values()),
)
STORAGE_COLUMNS = (
    Column("Name"),
    Column("Id", in_pdf=False),
    Column("Stored", Unit.BYTES),
    Column("Segments", Unit.COUNT),
    Column("Written", Unit.BYTES),
    Column("Growth", Unit.BYTES_PER_HOUR),
)
FORECAST_COLUMNS = (
    Column("Node"),
    Column("Tier"),
    Column("Total", Unit.BYTES),
    Column("Free", Unit.BYTES),
    Column("Growth", Unit.BYTES_PER_HOUR),
    Column("Days until full", Unit.COUNT),
    Column("Forecast"),
)


async def build_report(
    figures: Figures, kind: ReportKind, window: Window, camera_ids: Sequence[str]
) -> Report:
    """The report of `kind` over the window (camera_ids empty: every camera)."""
    loop = asyncio.get_running_loop()
    # The writer's row sources stop once the stream's reader has gone (stream.report_chunks).
    abandoned = threading.Event()
    if kind is ReportKind.CAMERA_PERFORMANCE:
        performance = await figures.performance(window, camera_ids)
        cameras = rows_from(performance.cameras, loop, abandoned)
        report = performance_report(performance, window.start, window.end, cameras)
    else:
        storage = await figures.storage(window, camera_ids)
        uses = rows_from(storage.cameras, loop, abandoned)
        report = storage_report(storage, window.start, window.end, uses)
    report.abandoned = abandoned
    return report


def performance_row(camera: CameraPerformance) -> tuple[Value, ...]:
    return (
        camera.name,
        camera.camera_id,
        camera.uptime,
        camera.up_s,
        camera.down_s,
        camera.outages,
        camera.longest_outage_s,
        camera.mtbf_s,
        camera.expected_s,
        camera.recorded_s,
        camera.coverage,
        *(camera.gaps_s.get(cause, 0.0) for cause in CAUSE_TITLES),
    )


def performance_report(
    figures: PerformanceFigures,
    start: datetime,
    end: datetime,
    cameras: Iterator[CameraPerformance],
) -> Report:
    fleet = figures.fleet
    summary = [
        Figure("Cameras", fleet.cameras, Unit.COUNT),
        Figure("Fleet uptime", fleet.uptime, Unit.RATIO),
        Figure("Outages", fleet.outages, Unit.COUNT),
        Figure("Time in outages", fleet.outage_total_s, Unit.SECONDS),
        Figure("Longest outage", fleet.longest_outage_s, Unit.SECONDS),
        Figure("MTBF", fleet.mtbf_s, Unit.SECONDS),
        Figure("Fleet coverage (recorded ÷ expected)", fleet.coverage, Unit.RATIO),
        Figure("Expected", fleet.expected_s, Unit.SECONDS),
        Figure("Recorded", fleet.recorded_s, Unit.SECONDS),
        *(
            Figure(title, fleet.gaps_s.get(cause, 0.0), Unit.SECONDS)
            for cause, title in CAUSE_TITLES.items()
        ),
    ]
    worst = list(figures.worst)[:CHART_BARS]
    charts = [
        Chart(
            "Lowest uptime",
            tuple(c.name for c in worst),
            tuple(c.uptime for c in worst),
            Unit.RATIO,
        ),
        Chart(
            "Their coverage (recorded ÷ expected)",
            tuple(c.name for c in worst),
            tuple(c.coverage for c in worst),
            Unit.RATIO,
        ),
    ]
    table = Table("Cameras", PERFORMANCE_COLUMNS, (performance_row(c) for c in cameras))
    return Report(
        ReportKind.CAMERA_PERFORMANCE,
        TITLES[ReportKind.CAMERA_PERFORMANCE],
        start,
        end,
        summary,
        charts,
        [table],
    )


def _use_row(use: StorageUse) -> tuple[Value, ...]:
    return (
        use.name,
        use.key,
        use.stored_bytes,
        use.segments,
        use.bytes_written,
        use.bytes_per_hour,
    )


def storage_report(
    figures: StorageFigures, start: datetime, end: datetime, cameras: Iterator[StorageUse]
) -> Report:
    summary = [
        Figure("Stored", figures.total_stored_bytes, Unit.BYTES),
        Figure("Growth", figures.total_bytes_per_hour, Unit.BYTES_PER_HOUR),
        Figure("Nodes", len(figures.nodes), Unit.COUNT),
    ]
    largest = sorted(figures.nodes, key=lambda n: n.stored_bytes, reverse=True)[:CHART_BARS]
    charts = [
        Chart(
            "Stored per node",
            tuple(n.name for n in largest),
            tuple(float(n.stored_bytes) for n in largest),
            Unit.BYTES,
        ),
        Chart(
            "Growth per node",
            tuple(n.name for n in largest),
            tuple(n.bytes_per_hour for n in largest),
            Unit.BYTES_PER_HOUR,
        ),
    ]
    forecast = Table(
        "Forecast per node disk",
        FORECAST_COLUMNS,
        [
            (
                f.node_name,
                f.tier,
                f.total_bytes,
                f.free_bytes,
                f.bytes_per_hour,
                None if f.days_until_full is None else round(f.days_until_full, 1),
                f.summary,
            )
            for f in figures.forecast
        ],
    )
    tables = [
        Table("Nodes", STORAGE_COLUMNS, [_use_row(n) for n in figures.nodes]),
        Table("Tiers", STORAGE_COLUMNS, [_use_row(t) for t in figures.tiers]),
        forecast,
        Table("Cameras", STORAGE_COLUMNS, (_use_row(c) for c in cameras)),
    ]
    return Report(
        ReportKind.STORAGE, TITLES[ReportKind.STORAGE], start, end, summary, charts, tables
    )
