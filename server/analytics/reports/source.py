"""The reports' figures read through the very functions behind GetUptime, GetCoverage,
GetStorage and GetStorageForecast (server/analytics/uptime.py, coverage.py, storage.py,
forecast.py), with the same filter a client would send, so a report holds exactly the figures
the UI shows. The performance report reads the fleet's uptime and coverage once, every camera
at once, and cuts its camera pages (1,000) from them by name."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.analytics.coverage import (
    CameraCoverage,
    CoverageQuery,
    TimelineOf,
    get_coverage,
)
from server.analytics.forecast import Verdict, floor_in_force, forecast
from server.analytics.ranges import Window
from server.analytics.reports.figures import (
    CameraPerformance,
    DiskForecast,
    FleetPerformance,
    PerformanceFigures,
    StorageFigures,
    StorageUse,
)
from server.analytics.reports.rows import CHART_BARS
from server.analytics.storage import Grouping, StorageReport, storage
from server.analytics.storage import StorageUse as DomainUse
from server.analytics.uptime import CameraUptime, UptimeQuery, get_uptime, mtbf_s
from server.db.models import utcnow

PAGE = 1000
# GetStorageForecast's default window: the UI's forecast is read over the last day.
FORECAST_WINDOW = timedelta(hours=24)


def camera_filter(camera_ids: Sequence[str]) -> str:
    """The filter selecting these cameras ("" every camera); ids are checked UUIDs."""
    return " OR ".join(f'camera_id = "{c}"' for c in camera_ids)


def _performance(uptime: CameraUptime, coverage: CameraCoverage | None) -> CameraPerformance:
    coverage = coverage or CameraCoverage(uptime.camera_id, uptime.name)
    return CameraPerformance(
        camera_id=uptime.camera_id,
        name=uptime.name,
        uptime=uptime.uptime,
        up_s=uptime.up_s,
        down_s=uptime.down_s,
        outages=uptime.outages.count,
        outage_total_s=uptime.outages.total_s,
        longest_outage_s=uptime.outages.longest_s,
        mtbf_s=mtbf_s(uptime.up_s, uptime.outages),
        expected_s=coverage.expected_s,
        recorded_s=coverage.recorded_s,
        coverage=coverage.coverage,
        gaps_s={g.cause: g.seconds for g in coverage.gaps},
    )


class DomainFigures:
    """Figures for reports from the analytics domain (what AnalyticsService answers)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], timeline_of: TimelineOf):
        self._sessions = sessions
        self._timeline_of = timeline_of

    async def performance(self, window: Window, camera_ids: Sequence[str]) -> PerformanceFigures:
        """One pass over the fleet: GetUptime and GetCoverage answer every camera at once
        (worst uptime first, as the UI's worst cameras), and the camera pages are cut from
        those answers by name."""
        whole = replace(window, bucket=window.end - window.start, aligned=False)
        text = camera_filter(camera_ids)
        uptime = await get_uptime(self._sessions, UptimeQuery(whole, filter=text), whole_fleet=True)
        coverage = await get_coverage(
            self._sessions, self._timeline_of, CoverageQuery(whole, filter=text), whole_fleet=True
        )
        by_id = {c.camera_id: c for c in coverage.cameras}
        u, c = uptime.fleet, coverage.fleet
        fleet = FleetPerformance(
            cameras=uptime.total_size,
            uptime=u.uptime,
            outages=u.outages.count,
            outage_total_s=u.outages.total_s,
            longest_outage_s=u.outages.longest_s,
            mtbf_s=mtbf_s(u.up_s, u.outages),
            expected_s=c.expected_s,
            recorded_s=c.recorded_s,
            coverage=c.coverage,
            gaps_s={g.cause: g.seconds for g in c.gaps},
        )
        worst = uptime.cameras[:CHART_BARS]
        # By name as GetUptime orders them (name, then id).
        by_name = sorted(uptime.cameras, key=lambda x: (x.name.lower(), x.camera_id))
        return PerformanceFigures(
            fleet,
            [_performance(w, by_id.get(w.camera_id)) for w in worst],
            _pages(by_name, by_id),
        )

    async def storage(self, window: Window, camera_ids: Sequence[str]) -> StorageFigures:
        whole = replace(window, bucket=window.end - window.start, aligned=False)
        text = camera_filter(camera_ids)
        first = await storage(self._sessions, whole, Grouping.CAMERA, filter_text=text, size=PAGE)
        nodes = await self._all(whole, Grouping.NODE, text)
        tiers = await self._all(whole, Grouping.TIER, text)
        floor = await floor_in_force(self._sessions)
        disks = await forecast(self._sessions, "", FORECAST_WINDOW, utcnow(), floor_bytes=floor)
        return StorageFigures(
            total_stored_bytes=first.total_stored_bytes,
            total_bytes_per_hour=first.total_bytes_per_hour,
            nodes=nodes,
            tiers=tiers,
            forecast=[
                DiskForecast(
                    d.node_id,
                    d.node_name,
                    d.tier,
                    d.total_bytes,
                    d.free_bytes,
                    d.bytes_per_hour,
                    d.verdict.value,
                    d.days_until_full if d.verdict is Verdict.FILLS_UP else None,
                    d.summary,
                )
                for d in disks
            ],
            cameras=self._storage_pages(whole, text, first),
        )

    async def _all(self, window: Window, group: Grouping, text: str) -> list[StorageUse]:
        items: list[StorageUse] = []
        token = ""
        while True:
            page = await storage(
                self._sessions, window, group, filter_text=text, size=PAGE, page_token=token
            )
            items.extend(_use(u) for u in page.items)
            if not page.next_page_token:
                return items
            token = page.next_page_token

    async def _storage_pages(
        self, window: Window, text: str, page: StorageReport
    ) -> AsyncIterator[list[StorageUse]]:
        while True:
            yield [_use(u) for u in page.items]
            if not page.next_page_token:
                return
            page = await storage(
                self._sessions,
                window,
                Grouping.CAMERA,
                filter_text=text,
                size=PAGE,
                page_token=page.next_page_token,
            )


def _use(use: DomainUse) -> StorageUse:
    return StorageUse(
        use.key, use.name, use.stored_bytes, use.segments, use.bytes_written, use.bytes_per_hour
    )


async def _pages(
    cameras: list[CameraUptime], coverage: dict[str, CameraCoverage]
) -> AsyncIterator[list[CameraPerformance]]:
    """Every camera, PAGE at a time, uptime and coverage joined by id."""
    for at in range(0, len(cameras), PAGE):
        yield [_performance(u, coverage.get(u.camera_id)) for u in cameras[at : at + PAGE]]
