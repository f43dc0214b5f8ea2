"""AnalyticsService's uptime, coverage and security reads through the API on both backends: a
caller's mistake is a clear status naming the field (never INTERNAL), an unknown camera is
NOT_FOUND, and the security figures count the failed login and the refused call just made."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from camfleet.v1 import analytics_pb2, analytics_pb2_grpc, common_pb2
from google.protobuf import duration_pb2, timestamp_pb2

from tests.support.assertions import refused
from tests.support.platform import Platform

NOW = datetime.now(UTC)


def _range(start: datetime, end: datetime) -> analytics_pb2.TimeRange:
    return analytics_pb2.TimeRange(
        start_time=timestamp_pb2.Timestamp(seconds=int(start.timestamp())),
        end_time=timestamp_pb2.Timestamp(seconds=int(end.timestamp())),
    )


def _stub(platform: Platform) -> analytics_pb2_grpc.AnalyticsServiceStub:
    return analytics_pb2_grpc.AnalyticsServiceStub(platform.channel)


DAY = timedelta(days=1)
LAST_DAY = _range(NOW - DAY, NOW)


@pytest.mark.parametrize(
    ("time_range", "bucket_s", "extra", "field", "words"),
    [
        (_range(NOW, NOW - DAY), 0, {}, "range.end_time", "must be after"),
        (_range(NOW - 3650 * DAY, NOW), 0, {}, "range.end_time", "at most 400 days"),
        (_range(NOW - 365 * DAY, NOW), 30, {}, "bucket", "at least 1 minute"),
        (_range(NOW - 365 * DAY, NOW), 600, {}, "bucket", "at least 1 hour"),
        (_range(NOW - 10 * DAY, NOW), 60, {}, "bucket", "at most 10,000"),
        (None, 0, {}, "range.start_time", "is required"),
        (LAST_DAY, 0, {"filter": 'camera_id = "x" OR 1=1; --'}, "filter", ""),
        (LAST_DAY, 0, {"filter": "labels.a = 'b' AND (((("}, "filter", ""),
        (LAST_DAY, 0, {"order_by": "uptime; DROP TABLE cameras"}, "order_by", ""),
        (LAST_DAY, 0, {"page_token": "not-ours"}, "page_token", "not a token"),
        (LAST_DAY, 0, {"page_size": -1}, "page_size", "must not be negative"),
    ],
)
@pytest.mark.parametrize("method", ["GetUptime", "GetCoverage"])
async def test_bad_input_is_invalid_argument_naming_the_field(
    platform: Platform,
    method: str,
    time_range: analytics_pb2.TimeRange | None,
    bucket_s: int,
    extra: dict[str, object],
    field: str,
    words: str,
) -> None:
    request_type = getattr(analytics_pb2, f"{method}Request")
    request = request_type(range=time_range, **extra)  # type: ignore[arg-type]
    if bucket_s:
        request.bucket.CopyFrom(duration_pb2.Duration(seconds=bucket_s))
    refusal = await refused(
        getattr(_stub(platform), method)(request, metadata=platform.admin),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert field in refusal.fields, refusal
    assert words in refusal.fields[field]


async def test_security_stats_check_their_range(platform: Platform) -> None:
    refusal = await refused(
        _stub(platform).GetSecurityStats(
            analytics_pb2.GetSecurityStatsRequest(range=_range(NOW, NOW - DAY)),
            metadata=platform.admin,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "range.end_time" in refusal.fields


@pytest.mark.parametrize("method", ["GetUptime", "GetCoverage"])
async def test_an_unknown_camera_is_not_found(platform: Platform, method: str) -> None:
    missing = "00000000-0000-4000-8000-00000000abcd"
    request = getattr(analytics_pb2, f"{method}Request")(
        range=LAST_DAY, filter=f'camera_id = "{missing}"'
    )
    refusal = await refused(
        getattr(_stub(platform), method)(request, metadata=platform.admin),
        grpc.StatusCode.NOT_FOUND,
    )
    assert missing in refusal.message


async def test_a_new_camera_is_listed_with_nothing_known(platform: Platform) -> None:
    camera = await platform.new_camera()
    stub = _stub(platform)
    uptime = await stub.GetUptime(
        analytics_pb2.GetUptimeRequest(
            range=LAST_DAY,
            bucket=duration_pb2.Duration(seconds=6 * 3600),
            filter=f'camera_id = "{camera.id}"',
        ),
        metadata=platform.admin,
    )
    assert uptime.total_size == 1 and uptime.cameras[0].camera_name == camera.name
    assert uptime.cameras[0].uptime == 1.0 and uptime.cameras[0].outages.count == 0
    assert not uptime.cameras[0].outages.HasField("mtbf")  # no outage, no MTBF
    assert len(uptime.cameras[0].buckets) == 4 and len(uptime.fleet_buckets) == 4
    coverage = await stub.GetCoverage(
        analytics_pb2.GetCoverageRequest(range=LAST_DAY, filter=f'camera_id = "{camera.id}"'),
        metadata=platform.admin,
    )
    assert [c.camera_id for c in coverage.cameras] == [camera.id]
    assert coverage.cameras[0].coverage == 1.0 and coverage.fleet_coverage == 1.0


async def test_security_stats_count_a_failed_login_and_a_refused_call(
    platform: Platform,
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=2)
    stranger = f"nobody-{secrets.token_hex(4)}"
    with pytest.raises(grpc.aio.AioRpcError):
        await platform.login(stranger, "wrong-password-123")
    viewer = await platform.as_role(common_pb2.ROLE_VIEWER)
    await refused(
        _stub(platform).GetSecurityStats(
            analytics_pb2.GetSecurityStatsRequest(range=LAST_DAY), metadata=viewer
        ),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    stats = await _stub(platform).GetSecurityStats(
        analytics_pb2.GetSecurityStatsRequest(
            range=_range(since, datetime.now(UTC) + timedelta(seconds=2))
        ),
        metadata=platform.admin,
    )
    users = {c.key: c for c in stats.by_user}
    assert users[stranger].failed_logins == 1
    assert stats.failed_logins >= 1 and stats.denied_calls >= 1
    assert any(c.denied_calls >= 1 for c in stats.by_user if c.key != stranger)
    assert sum(b.failed_logins for b in stats.buckets) == stats.failed_logins
