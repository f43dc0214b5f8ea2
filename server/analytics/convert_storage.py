"""AnalyticsService's storage, forecast and stream-health messages ⇄ the analytics domain's
typed results (storage.py, forecast.py, health.py)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from camfleet.v1 import analytics_pb2, recording_pb2

from server.analytics.convert import duration
from server.analytics.forecast import CameraForecast, NodeForecast, Verdict
from server.analytics.health import HealthSeries
from server.analytics.storage import Grouping, StorageReport
from server.common.wire import from_duration, from_timestamp, timestamp

GROUPINGS = {
    analytics_pb2.STORAGE_GROUPING_UNSPECIFIED: Grouping.CAMERA,
    analytics_pb2.STORAGE_GROUPING_CAMERA: Grouping.CAMERA,
    analytics_pb2.STORAGE_GROUPING_NODE: Grouping.NODE,
    analytics_pb2.STORAGE_GROUPING_TIER: Grouping.TIER,
}
_VERDICTS = {
    Verdict.RETENTION_MET: analytics_pb2.FORECAST_VERDICT_RETENTION_MET,
    Verdict.FILLS_UP: analytics_pb2.FORECAST_VERDICT_FILLS_UP,
    Verdict.UNKNOWN: analytics_pb2.FORECAST_VERDICT_UNKNOWN,
}
_TIERS = {
    "hot": recording_pb2.STORAGE_TIER_HOT,
    "warm": recording_pb2.STORAGE_TIER_WARM,
    "cold": recording_pb2.STORAGE_TIER_COLD,
}


def range_and_bucket(
    request: analytics_pb2.GetStreamHealthRequest,
) -> tuple[datetime | None, datetime | None, timedelta | None]:
    """The request's range and bucket as given (None: unset), each read or InvalidArgument."""
    start = end = None
    if request.HasField("range"):
        if request.range.HasField("start_time"):
            start = from_timestamp(request.range.start_time, "range.start_time")
        if request.range.HasField("end_time"):
            end = from_timestamp(request.range.end_time, "range.end_time")
    bucket = from_duration(request.bucket, "bucket") if request.HasField("bucket") else None
    return start, end, bucket


def optional_duration(request: analytics_pb2.GetStorageForecastRequest) -> timedelta | None:
    return from_duration(request.window, "window") if request.HasField("window") else None


def storage_to_proto(report: StorageReport) -> analytics_pb2.GetStorageResponse:
    return analytics_pb2.GetStorageResponse(
        items=[
            analytics_pb2.StorageUse(
                key=item.key,
                name=item.name,
                stored_bytes=item.stored_bytes,
                segments=item.segments,
                bytes_written=item.bytes_written,
                bytes_per_hour=item.bytes_per_hour,
                buckets=[
                    analytics_pb2.StorageBucket(start_time=timestamp(s), bytes_written=b)
                    for s, b in item.buckets
                ],
            )
            for item in report.items
        ],
        total_stored_bytes=report.total_stored_bytes,
        total_bytes_per_hour=report.total_bytes_per_hour,
        next_page_token=report.next_page_token,
        total_size=report.total_size,
    )


def _camera(c: CameraForecast) -> analytics_pb2.CameraForecast:
    out = analytics_pb2.CameraForecast(
        camera_id=c.camera_id,
        camera_name=c.camera_name,
        bytes_per_hour=c.bytes_per_hour,
        steady_bytes=c.steady_bytes or 0,
    )
    if c.retention_s is not None:
        out.retention.CopyFrom(duration(c.retention_s))
    return out


def node_forecast_to_proto(n: NodeForecast) -> analytics_pb2.NodeForecast:
    out = analytics_pb2.NodeForecast(
        node_id=n.node_id,
        node_name=n.node_name,
        tier=_TIERS.get(n.tier, recording_pb2.STORAGE_TIER_UNSPECIFIED),
        total_bytes=n.total_bytes,
        free_bytes=n.free_bytes,
        floor_bytes=n.floor_bytes,
        recordings_bytes=n.recordings_bytes,
        bytes_per_hour=n.bytes_per_hour,
        verdict=_VERDICTS[n.verdict],
        plateau_bytes=n.plateau_bytes,
        days_until_full=n.days_until_full if math.isfinite(n.days_until_full) else 0.0,
        summary=n.summary,
        cameras=[_camera(c) for c in n.cameras],
    )
    if n.verdict is Verdict.FILLS_UP:
        out.achievable_retention.CopyFrom(duration(n.achievable_retention_s))
    return out


def health_to_proto(series: HealthSeries) -> analytics_pb2.GetStreamHealthResponse:
    return analytics_pb2.GetStreamHealthResponse(
        points=[
            analytics_pb2.HealthPoint(
                start_time=timestamp(p.start),
                bitrate_kbps_avg=p.bitrate_kbps_avg,
                bitrate_kbps_min=p.bitrate_kbps_min,
                fps_avg=p.fps_avg,
                fps_min=p.fps_min,
                viewers_max=p.viewers_max,
                samples=p.samples,
            )
            for p in series.points
        ],
        bucket=duration(series.bucket.total_seconds()),
    )
