"""AnalyticsService's storage, forecast and stream-health methods (thin: check the request,
call the domain, map the result). A mixin: server/analytics/servicer.py composes it into the
one AnalyticsServicer, whose `_sessions` it reads."""

from __future__ import annotations

from typing import Any

from camfleet.v1 import analytics_pb2
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.analytics import convert_storage
from server.analytics.convert import window
from server.analytics.forecast import check_window, floor_in_force, forecast
from server.analytics.health import health_window, stream_health
from server.analytics.storage import storage
from server.db.models import utcnow
from server.errors import InvalidArgument


class StorageMethods:
    """GetStorage, GetStorageForecast and GetStreamHealth."""

    _sessions: async_sessionmaker[AsyncSession]

    async def GetStorage(
        self, request: analytics_pb2.GetStorageRequest, context: Any
    ) -> analytics_pb2.GetStorageResponse:
        grouping = convert_storage.GROUPINGS.get(request.group_by)
        if grouping is None:
            raise InvalidArgument.for_field("group_by", "is not a known grouping")
        report = await storage(
            self._sessions,
            window(request),
            grouping,
            filter_text=request.filter,
            size=request.page_size,
            page_token=request.page_token,
        )
        return convert_storage.storage_to_proto(report)

    async def GetStorageForecast(
        self, request: analytics_pb2.GetStorageForecastRequest, context: Any
    ) -> analytics_pb2.GetStorageForecastResponse:
        span = check_window(convert_storage.optional_duration(request))
        floor = await floor_in_force(self._sessions)
        nodes = await forecast(self._sessions, request.node_id, span, utcnow(), floor_bytes=floor)
        return analytics_pb2.GetStorageForecastResponse(
            nodes=[convert_storage.node_forecast_to_proto(n) for n in nodes]
        )

    async def GetStreamHealth(
        self, request: analytics_pb2.GetStreamHealthRequest, context: Any
    ) -> analytics_pb2.GetStreamHealthResponse:
        if not request.camera_id:
            raise InvalidArgument.for_field("camera_id", "is required")
        checked = health_window(*convert_storage.range_and_bucket(request))
        series = await stream_health(self._sessions, request.camera_id, checked)
        return convert_storage.health_to_proto(series)
