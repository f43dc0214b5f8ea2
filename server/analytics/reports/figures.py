"""The figures a report is made of, as the analytics domain computes them for GetUptime,
GetCoverage, GetStorage and GetStorageForecast (a report shows exactly what the UI shows; see
source.py, which reads them through those same functions). Camera rows come as an async
iterable of pages, so 100,000 cameras are never in memory at once."""

from __future__ import annotations

from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from server.analytics.ranges import Window
from server.recordings.causes import GapCause


@dataclass(frozen=True)
class CameraPerformance:
    """One camera over the range: uptime (GetUptime) and coverage (GetCoverage)."""

    camera_id: str
    name: str
    uptime: float
    up_s: float
    down_s: float
    outages: int
    outage_total_s: float
    longest_outage_s: float
    # None: no outage, so no time between failures.
    mtbf_s: float | None
    expected_s: float
    recorded_s: float
    coverage: float
    gaps_s: dict[GapCause, float] = field(default_factory=dict)


@dataclass(frozen=True)
class FleetPerformance:
    cameras: int
    uptime: float
    outages: int
    outage_total_s: float
    longest_outage_s: float
    mtbf_s: float | None
    expected_s: float
    recorded_s: float
    coverage: float
    gaps_s: dict[GapCause, float] = field(default_factory=dict)


@dataclass
class PerformanceFigures:
    fleet: FleetPerformance
    # The cameras of lowest uptime, worst first (the PDF's chart).
    worst: Sequence[CameraPerformance]
    # Every camera in the order of the table, a page at a time.
    cameras: AsyncIterable[Sequence[CameraPerformance]]


@dataclass(frozen=True)
class StorageUse:
    """A camera's, node's or tier's storage (GetStorage's StorageUse)."""

    key: str
    name: str
    stored_bytes: int
    segments: int
    bytes_written: int
    bytes_per_hour: float


@dataclass(frozen=True)
class DiskForecast:
    """One node disk (tier) of GetStorageForecast."""

    node_id: str
    node_name: str
    tier: str
    total_bytes: int
    free_bytes: int
    bytes_per_hour: float
    # retention_met, fills_up, unknown
    verdict: str
    # fills_up: days until free space reaches the floor (None otherwise).
    days_until_full: float | None
    # A sentence for people, as the UI shows it.
    summary: str


@dataclass
class StorageFigures:
    total_stored_bytes: int
    total_bytes_per_hour: float
    nodes: Sequence[StorageUse]
    tiers: Sequence[StorageUse]
    forecast: Sequence[DiskForecast]
    # Every camera, a page at a time.
    cameras: AsyncIterable[Sequence[StorageUse]]


class Figures(Protocol):
    """Where reports read their figures (source.py reads the analytics domain)."""

    async def performance(
        self, window: Window, camera_ids: Sequence[str]
    ) -> PerformanceFigures: ...

    async def storage(self, window: Window, camera_ids: Sequence[str]) -> StorageFigures: ...


def range_of(start: datetime, end: datetime) -> str:
    return f"{start.isoformat()} to {end.isoformat()}"
