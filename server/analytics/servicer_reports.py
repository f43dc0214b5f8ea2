"""AnalyticsService's reports: ExportReport (streamed in chunks of at most 64 KiB, the first
with the file's name and type) and the report schedules. Thin: check the request's shape, call
the domain (server/analytics/reports/), map the result (convert_reports.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from camfleet.v1 import analytics_pb2
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.analytics.convert_reports import (
    export_range,
    format_from_proto,
    kind_from_proto,
    schedule_from_proto,
    schedule_to_proto,
)
from server.analytics.reports.service import Reports
from server.analytics.reports.source import DomainFigures
from server.common.validation import require_id
from server.db.engine import Sessions
from server.errors import InvalidArgument
from server.recordings.service import RecordingService


class ReportMethods:
    """ExportReport and the schedule RPCs. A mixin of AnalyticsServicer (servicer.py), whose
    `_sessions` and `_recordings` it reads; the reports' domain is built on first use."""

    _sessions: async_sessionmaker[AsyncSession]
    _recordings: RecordingService
    _reports: Reports | None = None

    def _domain(self) -> Reports:
        if self._reports is None:
            sessions = self._sessions
            assert isinstance(sessions, Sessions)
            figures = DomainFigures(sessions, self._recordings.timeline)
            self._reports = Reports.build(sessions, figures)
        return self._reports

    async def ExportReport(
        self, request: analytics_pb2.ExportReportRequest, context: Any
    ) -> AsyncIterator[analytics_pb2.ExportReportResponse]:
        start, end = export_range(request)
        export = await self._domain().export(
            kind_from_proto(request.kind),
            format_from_proto(request.format),
            start,
            end,
            list(request.camera_ids),
        )
        first = True
        async for chunk in export.chunks:
            if first:
                yield analytics_pb2.ExportReportResponse(
                    filename=export.filename, content_type=export.content_type, data=chunk
                )
                first = False
            else:
                yield analytics_pb2.ExportReportResponse(data=chunk)

    async def CreateReportSchedule(
        self, request: analytics_pb2.CreateReportScheduleRequest, context: Any
    ) -> analytics_pb2.CreateReportScheduleResponse:
        if not request.HasField("schedule"):
            raise InvalidArgument.for_field("schedule", "is required")
        created = await self._domain().schedules.create(schedule_from_proto(request.schedule))
        return analytics_pb2.CreateReportScheduleResponse(schedule=schedule_to_proto(created))

    async def ListReportSchedules(
        self, request: analytics_pb2.ListReportSchedulesRequest, context: Any
    ) -> analytics_pb2.ListReportSchedulesResponse:
        schedules = await self._domain().schedules.list()
        return analytics_pb2.ListReportSchedulesResponse(
            schedules=[schedule_to_proto(s) for s in schedules]
        )

    async def UpdateReportSchedule(
        self, request: analytics_pb2.UpdateReportScheduleRequest, context: Any
    ) -> analytics_pb2.UpdateReportScheduleResponse:
        if not request.HasField("schedule"):
            raise InvalidArgument.for_field("schedule", "is required")
        schedule_id = require_id(request.schedule.id, "schedule.id")
        updated = await self._domain().schedules.update(
            schedule_id, schedule_from_proto(request.schedule), request.update_mask.paths
        )
        return analytics_pb2.UpdateReportScheduleResponse(schedule=schedule_to_proto(updated))

    async def DeleteReportSchedule(
        self, request: analytics_pb2.DeleteReportScheduleRequest, context: Any
    ) -> analytics_pb2.DeleteReportScheduleResponse:
        await self._domain().schedules.delete(require_id(request.id))
        return analytics_pb2.DeleteReportScheduleResponse()

    async def RunReportSchedule(
        self, request: analytics_pb2.RunReportScheduleRequest, context: Any
    ) -> analytics_pb2.RunReportScheduleResponse:
        schedule = await self._domain().runner.run_now(require_id(request.id))
        return analytics_pb2.RunReportScheduleResponse(schedule=schedule_to_proto(schedule))
