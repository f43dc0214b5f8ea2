"""GetStorage, GetStorageForecast and GetStreamHealth through gRPC on both backends (the shared
planes): answers for a real camera, and bad input as INVALID_ARGUMENT naming the field or
NOT_FOUND, never INTERNAL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
from camfleet.v1 import analytics_pb2, analytics_pb2_grpc
from google.protobuf import duration_pb2, timestamp_pb2

from tests.support.assertions import refused
from tests.support.platform import Platform

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND


def api(platform: Platform) -> analytics_pb2_grpc.AnalyticsServiceStub:
    return analytics_pb2_grpc.AnalyticsServiceStub(platform.channel)


def span(start: datetime, end: datetime) -> analytics_pb2.TimeRange:
    a, b = timestamp_pb2.Timestamp(), timestamp_pb2.Timestamp()
    a.FromDatetime(start)
    b.FromDatetime(end)
    return analytics_pb2.TimeRange(start_time=a, end_time=b)


NOW = datetime.now(UTC).replace(microsecond=0)


async def test_storage_forecast_and_health_answer(platform: Platform) -> None:
    analytics = api(platform)
    camera = await platform.new_camera()
    day = span(NOW - timedelta(days=1), NOW)
    storage = await analytics.GetStorage(
        analytics_pb2.GetStorageRequest(range=day, filter=f'camera_id = "{camera.id}"'),
        metadata=platform.admin,
    )
    assert storage.total_stored_bytes == 0 and list(storage.items) == []
    forecast = await analytics.GetStorageForecast(
        analytics_pb2.GetStorageForecastRequest(), metadata=platform.admin
    )
    assert all(n.verdict != analytics_pb2.FORECAST_VERDICT_UNSPECIFIED for n in forecast.nodes)
    health = await analytics.GetStreamHealth(
        analytics_pb2.GetStreamHealthRequest(
            camera_id=camera.id, range=span(NOW - timedelta(hours=1), NOW)
        ),
        metadata=platform.admin,
    )
    assert health.bucket.seconds == 60 and len(health.points) == 60
    assert all(p.samples == 0 for p in health.points)  # never online


async def test_bad_input_is_refused_with_the_field(platform: Platform) -> None:
    analytics = api(platform)
    camera = await platform.new_camera()
    backwards = await refused(
        analytics.GetStorage(
            analytics_pb2.GetStorageRequest(range=span(NOW, NOW - timedelta(hours=1))),
            metadata=platform.admin,
        ),
        INVALID,
    )
    assert "range.end_time" in backwards.fields
    decade = await refused(
        analytics.GetStreamHealth(
            analytics_pb2.GetStreamHealthRequest(
                camera_id=camera.id, range=span(NOW - timedelta(days=3650), NOW)
            ),
            metadata=platform.admin,
        ),
        INVALID,
    )
    assert "range.end_time" in decade.fields
    fine_year = await refused(
        analytics.GetStreamHealth(
            analytics_pb2.GetStreamHealthRequest(
                camera_id=camera.id,
                range=span(NOW - timedelta(days=365), NOW),
                bucket=duration_pb2.Duration(seconds=30),
            ),
            metadata=platform.admin,
        ),
        INVALID,
    )
    assert "bucket" in fine_year.fields
    window = await refused(
        analytics.GetStorageForecast(
            analytics_pb2.GetStorageForecastRequest(window=duration_pb2.Duration(seconds=60)),
            metadata=platform.admin,
        ),
        INVALID,
    )
    assert "window" in window.fields
    await refused(
        analytics.GetStreamHealth(
            analytics_pb2.GetStreamHealthRequest(
                camera_id="00000000-0000-0000-0000-000000000000",
                range=span(NOW - timedelta(hours=1), NOW),
            ),
            metadata=platform.admin,
        ),
        NOT_FOUND,
    )
    await refused(
        analytics.GetStorageForecast(
            analytics_pb2.GetStorageForecastRequest(node_id="no-such-node"),
            metadata=platform.admin,
        ),
        NOT_FOUND,
    )
    bad_filter = await refused(
        analytics.GetStorage(
            analytics_pb2.GetStorageRequest(
                range=span(NOW - timedelta(hours=1), NOW), filter="colour = red"
            ),
            metadata=platform.admin,
        ),
        INVALID,
    )
    assert "filter" in bad_filter.fields
