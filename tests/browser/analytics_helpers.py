"""What the analytics browser tests share: the page's formatting of figures mirrored
(clients/web/src/analytics/format.ts), AnalyticsService over plain gRPC as admin, downloads, and
the inputs of the custom range."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

import grpc
from camfleet.v1 import (
    alert_pb2,
    alert_pb2_grpc,
    analytics_pb2,
    analytics_pb2_grpc,
    camera_pb2_grpc,
)
from google.protobuf import duration_pb2
from playwright.sync_api import Page

from tests.browser.helpers import admin_rpc
from tests.support.local_platform import LocalPlatform

# clients/web/src/analytics/format.ts verdictLabel
VERDICTS = {
    analytics_pb2.FORECAST_VERDICT_RETENTION_MET: "Retention met",
    analytics_pb2.FORECAST_VERDICT_FILLS_UP: "Fills up",
    analytics_pb2.FORECAST_VERDICT_UNKNOWN: "Not enough history",
}


def _percent(ratio: float) -> float:
    """The number a "98.77 %" on the page stands for, from the API's ratio."""
    return ratio * 100


def _shown_percent(text: str) -> float:
    assert text.endswith(" %"), text
    return float(text[:-2])


def same_percent(text: str, ratio: float) -> bool:
    # The page shows two decimals (JavaScript's toFixed rounds half up, Python half to even).
    return abs(_shown_percent(text) - _percent(ratio)) <= 0.005 + 1e-9


def duration(d: duration_pb2.Duration | None) -> str:
    """clients/web/src/analytics/format.ts formatDurationMs: the two largest units."""
    if d is None:
        return "—"
    s = math.floor(d.seconds + d.nanos / 1e9 + 0.5)
    if s < 60:
        return f"{s} s"

    def two(big: int, big_unit: str, small: int, small_unit: str) -> str:
        return f"{big} {big_unit} {small} {small_unit}" if small else f"{big} {big_unit}"

    if s < 3600:
        return two(s // 60, "min", s % 60, "s")
    if s < 86400:
        return two(s // 3600, "h", (s % 3600) // 60, "min")
    return two(s // 86400, "d", (s % 86400) // 3600, "h")


def time_range(start: datetime, end: datetime) -> analytics_pb2.TimeRange:
    r = analytics_pb2.TimeRange()
    r.start_time.FromDatetime(start)
    r.end_time.FromDatetime(end)
    return r


class Analytics:
    """AnalyticsService and CameraService over plain gRPC as admin, behind the browser's back."""

    def __init__(self, channel: grpc.Channel, auth: tuple[tuple[str, str | bytes], ...]) -> None:
        self.analytics = analytics_pb2_grpc.AnalyticsServiceStub(channel)
        self.cameras = camera_pb2_grpc.CameraServiceStub(channel)
        self.auth = auth

    def call(self, method: Any, request: Any) -> Any:
        return method(request, metadata=self.auth, timeout=30)


def instant(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def local_input(d: datetime) -> str:
    """What an <input type="datetime-local"> holds."""
    return d.strftime("%Y-%m-%dT%H:%M")


def download(page: Page, test_id: str, into: Path) -> Path:
    with page.expect_download(timeout=60_000) as info:
        page.get_by_test_id(test_id).click()
    download = info.value
    assert download.failure() is None, download.failure()
    path = into / download.suggested_filename
    download.save_as(path)
    return path


def create_channel(platform: LocalPlatform, channel: alert_pb2.Channel) -> alert_pb2.Channel:
    with admin_rpc(platform) as (rpc, auth):
        stub = alert_pb2_grpc.AlertServiceStub(rpc)
        request = alert_pb2.CreateChannelRequest(channel=channel)
        return stub.CreateChannel(request, metadata=auth, timeout=30).channel
