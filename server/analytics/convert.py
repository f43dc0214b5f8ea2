"""AnalyticsService's messages ⇄ the analytics domain's typed results (uptime, coverage,
security), and the request's range and bucket ⇄ a checked ranges.Window."""

from __future__ import annotations

from datetime import datetime, timedelta

from camfleet.v1 import analytics_pb2, recording_pb2
from google.protobuf import duration_pb2

from server.analytics.coverage import CoverageBucket, CoverageReport
from server.analytics.coverage_gaps import GapTotal
from server.analytics.ranges import Window, check_window
from server.analytics.security import SecurityCount, SecurityStats
from server.analytics.uptime import Outages, UptimeBucket, UptimeReport, mtbf_s
from server.common.wire import from_duration, from_timestamp, timestamp
from server.recordings.convert import GAP_CAUSES


def duration(value_s: float) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromNanoseconds(round(value_s * 1e9))
    return d


def window(
    message: object,
    *,
    range_name: str = "range",
    bucket_name: str | None = "bucket",
) -> Window:
    """The checked Window of a request's `range` (a TimeRange) and `bucket` (a Duration; unset:
    one bucket for the range). Every AnalyticsService read goes through this one check."""
    start: datetime | None = None
    end: datetime | None = None
    if message.HasField(range_name):  # type: ignore[attr-defined]
        time_range: analytics_pb2.TimeRange = getattr(message, range_name)
        if time_range.HasField("start_time"):
            start = from_timestamp(time_range.start_time, f"{range_name}.start_time")
        if time_range.HasField("end_time"):
            end = from_timestamp(time_range.end_time, f"{range_name}.end_time")
    bucket: timedelta | None = None
    if bucket_name is not None and message.HasField(bucket_name):  # type: ignore[attr-defined]
        bucket = from_duration(getattr(message, bucket_name), bucket_name)
    return check_window(
        start, end, bucket, range_field=range_name, bucket_field=bucket_name or "bucket"
    )


# --- uptime -----------------------------------------------------------------------------------


def _outages(up_s: float, outages: Outages) -> analytics_pb2.Outages:
    message = analytics_pb2.Outages(
        count=outages.count, total=duration(outages.total_s), longest=duration(outages.longest_s)
    )
    mtbf = mtbf_s(up_s, outages)
    if mtbf is not None:
        message.mtbf.CopyFrom(duration(mtbf))
    return message


def _uptime_buckets(buckets: list[UptimeBucket]) -> list[analytics_pb2.UptimeBucket]:
    return [
        analytics_pb2.UptimeBucket(
            start_time=timestamp(b.start),
            uptime=b.uptime,
            up=duration(b.up_s),
            down=duration(b.down_s),
        )
        for b in buckets
    ]


def uptime_to_proto(report: UptimeReport) -> analytics_pb2.GetUptimeResponse:
    fleet = report.fleet
    return analytics_pb2.GetUptimeResponse(
        fleet_uptime=fleet.uptime,
        fleet_outages=_outages(fleet.up_s, fleet.outages),
        fleet_buckets=_uptime_buckets(fleet.buckets),
        cameras=[
            analytics_pb2.CameraUptime(
                camera_id=c.camera_id,
                camera_name=c.name,
                uptime=c.uptime,
                up=duration(c.up_s),
                down=duration(c.down_s),
                outages=_outages(c.up_s, c.outages),
                buckets=_uptime_buckets(c.buckets),
            )
            for c in report.cameras
        ],
        next_page_token=report.next_page_token,
        total_size=report.total_size,
    )


# --- coverage ---------------------------------------------------------------------------------


def _gaps(gaps: list[GapTotal]) -> list[analytics_pb2.GapSeconds]:
    return [
        analytics_pb2.GapSeconds(
            cause=GAP_CAUSES.get(g.cause, recording_pb2.GAP_CAUSE_UNKNOWN),
            total=duration(g.seconds),
            count=g.count,
        )
        for g in gaps
    ]


def _coverage_buckets(buckets: list[CoverageBucket]) -> list[analytics_pb2.CoverageBucket]:
    return [
        analytics_pb2.CoverageBucket(
            start_time=timestamp(b.start),
            expected=duration(b.expected_s),
            recorded=duration(b.recorded_s),
            coverage=b.coverage,
        )
        for b in buckets
    ]


def coverage_to_proto(report: CoverageReport) -> analytics_pb2.GetCoverageResponse:
    fleet = report.fleet
    return analytics_pb2.GetCoverageResponse(
        fleet_expected=duration(fleet.expected_s),
        fleet_recorded=duration(fleet.recorded_s),
        fleet_coverage=fleet.coverage,
        fleet_gaps=_gaps(fleet.gaps),
        cameras=[
            analytics_pb2.CameraCoverage(
                camera_id=c.camera_id,
                camera_name=c.name,
                expected=duration(c.expected_s),
                recorded=duration(c.recorded_s),
                coverage=c.coverage,
                gaps=_gaps(c.gaps),
                buckets=_coverage_buckets(c.buckets),
            )
            for c in report.cameras
        ],
        next_page_token=report.next_page_token,
        total_size=report.total_size,
    )


# --- security ---------------------------------------------------------------------------------


def security_to_proto(stats: SecurityStats) -> analytics_pb2.GetSecurityStatsResponse:
    def counts(items: list[SecurityCount]) -> list[analytics_pb2.SecurityCount]:
        return [
            analytics_pb2.SecurityCount(
                key=c.key, failed_logins=c.failed_logins, denied_calls=c.denied_calls
            )
            for c in items
        ]

    return analytics_pb2.GetSecurityStatsResponse(
        failed_logins=stats.failed_logins,
        denied_calls=stats.denied_calls,
        by_user=counts(stats.by_user),
        by_address=counts(stats.by_address),
        buckets=[
            analytics_pb2.SecurityBucket(
                start_time=timestamp(b.start),
                failed_logins=b.failed_logins,
                denied_calls=b.denied_calls,
            )
            for b in stats.buckets
        ],
    )
