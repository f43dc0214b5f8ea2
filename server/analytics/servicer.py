"""camfleet.v1.AnalyticsService (thin: check input, call the domain, map the result; see
server/cameras/servicer.py). One class composed of an area's methods each: this module's
uptime, coverage and security reads; storage, forecast and health (servicer_storage.py);
reports and their schedules (servicer_reports.py)."""

from __future__ import annotations

from typing import Any

from camfleet.v1 import analytics_pb2, analytics_pb2_grpc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.analytics import convert
from server.analytics.coverage import CoverageQuery, get_coverage
from server.analytics.security import get_security_stats
from server.analytics.servicer_reports import ReportMethods
from server.analytics.servicer_storage import StorageMethods
from server.analytics.uptime import UptimeQuery, get_uptime
from server.recordings.service import RecordingService


class FleetMethods:
    """GetUptime, GetCoverage and GetSecurityStats."""

    _sessions: async_sessionmaker[AsyncSession]
    _recordings: RecordingService

    async def GetUptime(
        self, request: analytics_pb2.GetUptimeRequest, context: Any
    ) -> analytics_pb2.GetUptimeResponse:
        query = UptimeQuery(
            convert.window(request),
            filter=request.filter,
            order_by=request.order_by,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return convert.uptime_to_proto(await get_uptime(self._sessions, query))

    async def GetCoverage(
        self, request: analytics_pb2.GetCoverageRequest, context: Any
    ) -> analytics_pb2.GetCoverageResponse:
        query = CoverageQuery(
            convert.window(request),
            filter=request.filter,
            order_by=request.order_by,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        report = await get_coverage(self._sessions, self._recordings.timeline, query)
        return convert.coverage_to_proto(report)

    async def GetSecurityStats(
        self, request: analytics_pb2.GetSecurityStatsRequest, context: Any
    ) -> analytics_pb2.GetSecurityStatsResponse:
        stats = await get_security_stats(self._sessions, convert.window(request))
        return convert.security_to_proto(stats)


class AnalyticsServicer(
    FleetMethods,
    StorageMethods,
    ReportMethods,
    analytics_pb2_grpc.AnalyticsServiceServicer,
):
    """camfleet.v1.AnalyticsService over the analytics domain."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        # Reads only: coverage's partial hours are GetTimeline's own arithmetic.
        self._recordings = RecordingService(sessions)
