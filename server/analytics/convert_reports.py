"""AnalyticsService's report messages ⇄ the reports domain: kinds, formats and periods (an
unset enum is None, which the domain names as a missing field), schedules, and an export's
range."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

from camfleet.v1 import analytics_pb2

from server.analytics.reports.rows import ReportFormat, ReportKind
from server.analytics.reports.schedule import ReportPeriod, ReportSchedule
from server.common.wire import from_timestamp, timestamp
from server.errors import InvalidArgument

_KINDS: dict[analytics_pb2.ReportKind, ReportKind] = {
    analytics_pb2.REPORT_KIND_CAMERA_PERFORMANCE: ReportKind.CAMERA_PERFORMANCE,
    analytics_pb2.REPORT_KIND_STORAGE: ReportKind.STORAGE,
}
_FORMATS: dict[analytics_pb2.ReportFormat, ReportFormat] = {
    analytics_pb2.REPORT_FORMAT_CSV: ReportFormat.CSV,
    analytics_pb2.REPORT_FORMAT_XLSX: ReportFormat.XLSX,
    analytics_pb2.REPORT_FORMAT_PDF: ReportFormat.PDF,
}
_PERIODS: dict[analytics_pb2.ReportPeriod, ReportPeriod] = {
    analytics_pb2.REPORT_PERIOD_DAILY: ReportPeriod.DAILY,
    analytics_pb2.REPORT_PERIOD_WEEKLY: ReportPeriod.WEEKLY,
}
_KIND_VALUES = {v: k for k, v in _KINDS.items()}
_FORMAT_VALUES = {v: k for k, v in _FORMATS.items()}
_PERIOD_VALUES = {v: k for k, v in _PERIODS.items()}
E = TypeVar("E")


def _enum(value: int, known: Mapping[Any, E], field: str) -> E | None:
    """None when unset (0); InvalidArgument for a number this server does not know."""
    if value == 0:
        return None
    if value not in known:
        raise InvalidArgument.for_field(field, f"has no value {value}")
    return known[value]


def kind_from_proto(value: int, field: str = "kind") -> ReportKind | None:
    return _enum(value, _KINDS, field)


def format_from_proto(value: int, field: str = "format") -> ReportFormat | None:
    return _enum(value, _FORMATS, field)


def period_from_proto(value: int, field: str = "period") -> ReportPeriod | None:
    return _enum(value, _PERIODS, field)


def export_range(
    request: analytics_pb2.ExportReportRequest,
) -> tuple[datetime | None, datetime | None]:
    """The range's start and end (None: unset; the domain says it is required)."""
    if not request.HasField("range"):
        return None, None
    given = request.range
    start = (
        from_timestamp(given.start_time, "range.start_time")
        if given.HasField("start_time")
        else None
    )
    end = from_timestamp(given.end_time, "range.end_time") if given.HasField("end_time") else None
    return start, end


def schedule_from_proto(message: analytics_pb2.ReportSchedule) -> ReportSchedule:
    return ReportSchedule(
        id=message.id,
        name=message.name,
        kind=kind_from_proto(message.kind, "schedule.kind"),
        format=format_from_proto(message.format, "schedule.format"),
        period=period_from_proto(message.period, "schedule.period"),
        channel_id=message.channel_id,
        camera_ids=tuple(message.camera_ids),
        enabled=message.enabled,
    )


def schedule_to_proto(schedule: ReportSchedule) -> analytics_pb2.ReportSchedule:
    return analytics_pb2.ReportSchedule(
        id=schedule.id,
        name=schedule.name,
        kind=(
            _KIND_VALUES[schedule.kind] if schedule.kind else analytics_pb2.REPORT_KIND_UNSPECIFIED
        ),
        format=(
            _FORMAT_VALUES[schedule.format]
            if schedule.format
            else analytics_pb2.REPORT_FORMAT_UNSPECIFIED
        ),
        period=(
            _PERIOD_VALUES[schedule.period]
            if schedule.period
            else analytics_pb2.REPORT_PERIOD_UNSPECIFIED
        ),
        channel_id=schedule.channel_id,
        camera_ids=list(schedule.camera_ids),
        enabled=schedule.enabled,
        last_run_time=timestamp(schedule.last_run_time),
        next_run_time=timestamp(schedule.next_run_time),
        last_error=schedule.last_error,
        create_time=timestamp(schedule.create_time),
        update_time=timestamp(schedule.update_time),
    )
