"""Sample figures for the report tests (engineer of reports): a camera-performance and a
storage report of known figures, and a figures source serving them page by page as the
analytics domain does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

from server.analytics.ranges import Window
from server.analytics.reports.figures import (
    CameraPerformance,
    DiskForecast,
    FleetPerformance,
    PerformanceFigures,
    StorageFigures,
    StorageUse,
)
from server.recordings.causes import GapCause

START = datetime(2026, 12, 1, tzinfo=UTC)
END = datetime(2026, 12, 8, tzinfo=UTC)
WEEK_S = 7 * 86_400.0


def camera(i: int) -> CameraPerformance:
    """Camera i: down i*37 s in (i % 4) outages; recorded all but its down time."""
    down = float(i * 37)
    outages = i % 4
    return CameraPerformance(
        camera_id=f"00000000-0000-4000-8000-{i:012d}",
        name=f"Camera {i:06d}",
        uptime=(WEEK_S - down) / WEEK_S,
        up_s=WEEK_S - down,
        down_s=down,
        outages=outages,
        outage_total_s=down if outages else 0.0,
        longest_outage_s=down / outages if outages else 0.0,
        mtbf_s=(WEEK_S - down) / outages if outages else None,
        expected_s=WEEK_S,
        recorded_s=WEEK_S - down,
        coverage=(WEEK_S - down) / WEEK_S,
        gaps_s={GapCause.NODE_LOST: down} if down else {},
    )


def fleet(n: int) -> FleetPerformance:
    down = sum(camera(i).down_s for i in range(n))
    return FleetPerformance(
        cameras=n,
        uptime=1 - down / (WEEK_S * n),
        outages=sum(camera(i).outages for i in range(n)),
        outage_total_s=sum(camera(i).outage_total_s for i in range(n)),
        longest_outage_s=max(camera(i).longest_outage_s for i in range(n)),
        mtbf_s=1234.5,
        expected_s=WEEK_S * n,
        recorded_s=WEEK_S * n - down,
        coverage=1 - down / (WEEK_S * n),
        gaps_s={GapCause.NODE_LOST: down},
    )


async def _pages(n: int, page: int = 1000) -> AsyncIterator[list[CameraPerformance]]:
    for first in range(0, n, page):
        yield [camera(i) for i in range(first, min(n, first + page))]


async def _storage_pages(n: int, page: int = 1000) -> AsyncIterator[list[StorageUse]]:
    for first in range(0, n, page):
        yield [
            StorageUse(f"cam-{i}", f"Camera {i:06d}", i * 1_000_000, i * 10, i * 5000, i * 29.76)
            for i in range(first, min(n, first + page))
        ]


class SampleFigures:
    """A Figures of `n` cameras made up here (the writers' tests; the real source is tested
    against the analytics RPCs)."""

    def __init__(self, n: int = 40) -> None:
        self.n = n
        self.fleet = fleet(n) if n else None
        # Camera pages the writer asked for.
        self.pages_read = 0

    async def performance(self, window: Window, camera_ids: Sequence[str]) -> PerformanceFigures:
        worst = [camera(i) for i in range(self.n - 1, max(-1, self.n - 16), -1)]
        assert self.fleet is not None
        return PerformanceFigures(self.fleet, worst, self._counted(_pages(self.n)))

    async def _counted(
        self, pages: AsyncIterator[list[CameraPerformance]]
    ) -> AsyncIterator[list[CameraPerformance]]:
        async for page in pages:
            self.pages_read += 1
            yield page

    async def storage(self, window: Window, camera_ids: Sequence[str]) -> StorageFigures:
        nodes = [
            StorageUse("n1", "node-a", 412_000_000_000, 9000, 20_000_000_000, 119_047_619.0),
            StorageUse("n2", "node-b", 98_000_000_000, 2100, 4_000_000_000, 23_809_523.8),
        ]
        tiers = [StorageUse("HOT", "HOT", 510_000_000_000, 11100, 24_000_000_000, 142_857_142.8)]
        forecast = [
            DiskForecast(
                "n1",
                "node-a",
                "HOT",
                1_000_000_000_000,
                500_000_000_000,
                119_047_619.0,
                "fills_up",
                17.5,
                "Fills up in 17.5 days: 9.2 days of retention fit.",
            ),
            DiskForecast(
                "n2",
                "node-b",
                "HOT",
                1_000_000_000_000,
                900_000_000_000,
                23_809_523.8,
                "retention_met",
                None,
                "Retention met: usage levels off at 412 GB of 1 TB.",
            ),
        ]
        return StorageFigures(
            510_000_000_000, 142_857_142.8, nodes, tiers, forecast, _storage_pages(self.n)
        )
