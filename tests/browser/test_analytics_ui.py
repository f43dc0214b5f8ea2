"""Analytics in the browser UI (issue 14), in Debian's chromium against `./start`: a camera that
publishes (recording on) and one that never does; the Analytics page shows the fleet's uptime
and coverage and each camera's uptime, outages, time down, longest outage, MTBF and coverage,
all equal to what AnalyticsService answers for the range the page shows; the camera-performance
export downloads a CSV whose fleet and camera uptime are the page's, an XLSX that openpyxl
reads and a PDF that pdftoppm renders; the Storage page shows the node's forecast sentence as
the API gives it; the publishing camera's page charts its bitrate and frame rate once its node
has reported them."""

from __future__ import annotations

import csv
import io
import secrets
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from camfleet.v1 import (
    alert_pb2,
    analytics_pb2,
    analytics_pb2_grpc,
    camera_pb2,
)
from google.protobuf import duration_pb2
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from tests.browser.analytics_helpers import (
    VERDICTS,
    Analytics,
    create_channel,
    download,
    duration,
    instant,
    local_input,
    same_percent,
    time_range,
)
from tests.browser.conftest import screenshot
from tests.browser.helpers import admin_rpc, goto, log_in, publish, wait_for
from tests.support.local_platform import LocalPlatform


@pytest.fixture(scope="module")
def fleet(local_platform: LocalPlatform) -> Iterator[dict[str, camera_pb2.Camera]]:
    """A camera publishing with recording on ("up") and one that never publishes ("down"),
    both known to the history writers before any test looks."""
    tag = secrets.token_hex(3)
    with admin_rpc(local_platform) as (channel, auth):
        api = Analytics(channel, auth)
        made = {}
        for role in ("up", "down"):
            made[role] = api.call(
                api.cameras.CreateCamera,
                camera_pb2.CreateCameraRequest(
                    camera=camera_pb2.Camera(
                        name=f"Analytics {role} {tag}",
                        ingest_mode=camera_pb2.INGEST_MODE_PUSH,
                        recording_enabled=True,
                    )
                ),
            ).camera
        url = api.call(
            api.cameras.GetStreamUrls, camera_pb2.GetStreamUrlsRequest(id=made["up"].id)
        ).rtmp_publish_url
        publisher = publish(url)
        try:
            wait_for(
                lambda: (
                    api.call(
                        api.cameras.GetCamera, camera_pb2.GetCameraRequest(id=made["up"].id)
                    ).camera.status
                ),
                lambda s: s == camera_pb2.CAMERA_STATUS_ONLINE,
                "the publishing camera ONLINE",
                120,
            )

            def known() -> dict[str, tuple[float, float]]:
                end = datetime.now(UTC)
                found = api.call(
                    api.analytics.GetUptime,
                    analytics_pb2.GetUptimeRequest(
                        range=time_range(end - timedelta(hours=1), end), page_size=1000
                    ),
                )
                return {
                    c.camera_id: (c.up.ToTimedelta().total_seconds(), c.uptime)
                    for c in found.cameras
                }

            # The interval writer follows the event log: the page is opened once it has
            # written both cameras' states (ONLINE up, the other down since it was made).
            wait_for(
                known,
                lambda k: (
                    k.get(made["up"].id, (0, 0))[0] > 5
                    and made["down"].id in k
                    and k[made["down"].id][1] < 1
                ),
                "both cameras in the uptime history",
                120,
            )
            yield made
        finally:
            publisher.terminate()
            publisher.wait(10)


def _open_analytics(page: Page, platform: LocalPlatform) -> tuple[datetime, datetime]:
    log_in(page, platform.url, "admin", platform.admin_password)
    page.get_by_test_id("nav-analytics").click()
    body = page.get_by_test_id("analytics-page")
    expect(body).to_have_attribute("data-loading", "false")
    expect(page.get_by_test_id("fleet-uptime")).to_be_visible()
    start = body.get_attribute("data-start")
    end = body.get_attribute("data-end")
    assert start and end
    return instant(start), instant(end)


@pytest.mark.timeout(420)
def test_the_analytics_page_shows_the_apis_figures_for_its_range(
    page: Page, local_platform: LocalPlatform, fleet: dict[str, camera_pb2.Camera]
) -> None:
    start, end = _open_analytics(page, local_platform)
    assert end - start == timedelta(hours=24)
    with admin_rpc(local_platform) as (channel, auth):
        api = Analytics(channel, auth)
        uptime = api.call(
            api.analytics.GetUptime,
            analytics_pb2.GetUptimeRequest(range=time_range(start, end), page_size=1000),
        )
        coverage = api.call(
            api.analytics.GetCoverage,
            analytics_pb2.GetCoverageRequest(range=time_range(start, end), page_size=1000),
        )
    shown = page.get_by_test_id("fleet-uptime").inner_text()
    assert same_percent(shown, uptime.fleet_uptime), (shown, uptime.fleet_uptime)
    assert 0 < uptime.fleet_uptime < 1, "one camera up and one down: neither 0 nor 1"
    expect(page.get_by_test_id("fleet-outages")).to_have_text(str(uptime.fleet_outages.count))
    shown_cov = page.get_by_test_id("fleet-coverage").inner_text()
    assert same_percent(shown_cov, coverage.fleet_coverage), (shown_cov, coverage.fleet_coverage)

    # The least covered cameras (the page asks for 10) that missed something are listed.
    missed = [c for c in coverage.cameras if c.coverage < 1]
    expect(page.get_by_test_id("coverage-row")).to_have_count(min(10, len(missed)))
    by_id = {c.camera_id: c for c in uptime.cameras}
    cov_by_id = {c.camera_id: c for c in coverage.cameras}
    for camera in fleet.values():
        figures = by_id[camera.id]
        row = page.locator(f'[data-testid="worst-row"][data-camera-id="{camera.id}"]')
        expect(row).to_contain_text(camera.name)
        cells = {
            name: row.get_by_test_id(f"cell-{name}").inner_text()
            for name in ("uptime", "outages", "down", "longest", "mtbf", "coverage")
        }
        cell = cells.__getitem__
        assert same_percent(cell("uptime"), figures.uptime), (cell("uptime"), figures.uptime)
        assert cell("outages") == str(figures.outages.count)
        assert cell("down") == duration(figures.down)
        assert cell("longest") == duration(figures.outages.longest)
        mtbf = figures.outages.mtbf if figures.outages.HasField("mtbf") else None
        assert cell("mtbf") == duration(mtbf)
        assert same_percent(cell("coverage"), cov_by_id[camera.id].coverage)
    # The one that never published is down the whole time it existed; the other mostly up.
    assert by_id[fleet["down"].id].uptime == 0
    assert by_id[fleet["up"].id].uptime > 0.5
    screenshot(page, "analytics-page")


@pytest.mark.timeout(420)
def test_the_performance_export_downloads_files_with_the_pages_figures(
    page: Page,
    local_platform: LocalPlatform,
    fleet: dict[str, camera_pb2.Camera],
    tmp_path: Path,
) -> None:
    _open_analytics(page, local_platform)
    up = fleet["up"]
    row = page.locator(f'[data-testid="worst-row"][data-camera-id="{up.id}"]')
    shown_camera = row.get_by_test_id("cell-uptime").inner_text()
    shown_outages = row.get_by_test_id("cell-outages").inner_text()
    shown_down = row.get_by_test_id("cell-down").inner_text()
    shown_fleet = page.get_by_test_id("fleet-uptime").inner_text()

    path = download(page, "export-performance-csv", tmp_path)
    assert path.suffix == ".csv", path.name
    lines = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    summary = {line[0]: line[1] for line in lines if len(line) == 2}
    assert same_percent(shown_fleet, float(summary["Fleet uptime (0-1)"]))
    [header] = [line for line in lines if "Camera id" in line and "Uptime (0-1)" in line]
    [camera_line] = [line for line in lines if len(line) == len(header) and up.id in line]
    values = dict(zip(header, camera_line, strict=True))
    assert values["Camera"] == up.name
    assert same_percent(shown_camera, float(values["Uptime (0-1)"]))
    assert values["Outages"] == shown_outages
    down = duration_pb2.Duration()
    down.FromTimedelta(timedelta(seconds=float(values["Down (s)"])))
    assert duration(down) == shown_down

    xlsx = download(page, "export-performance-xlsx", tmp_path)
    book = load_workbook(xlsx, read_only=True)
    cells = [c for r in book["Summary"].iter_rows(values_only=True) for c in r if c is not None]
    assert "Fleet uptime" in cells
    fleet_value = cells[cells.index("Fleet uptime") + 1]
    assert same_percent(shown_fleet, float(fleet_value))

    pdf = download(page, "export-performance-pdf", tmp_path)
    assert pdf.read_bytes().startswith(b"%PDF-")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
        check=True,
        timeout=60,
    )
    assert list(tmp_path.glob("page*.png")), "pdftoppm rendered no page"


@pytest.mark.timeout(300)
def test_the_storage_page_shows_the_nodes_forecast(
    page: Page, local_platform: LocalPlatform, fleet: dict[str, camera_pb2.Camera]
) -> None:
    log_in(page, local_platform.url, "admin", local_platform.admin_password)
    page.get_by_test_id("nav-storage").click()
    storage = page.get_by_test_id("node-storage")
    expect(storage).to_be_visible()
    node_id = storage.get_attribute("data-node-id")
    with admin_rpc(local_platform) as (channel, auth):
        api = Analytics(channel, auth)
        forecast = api.call(
            api.analytics.GetStorageForecast,
            analytics_pb2.GetStorageForecastRequest(node_id=node_id or ""),
        )
    assert forecast.nodes, "the node has a forecast"
    summaries = page.get_by_test_id("forecast-summary")
    expect(summaries).to_have_count(len(forecast.nodes))
    # The summary is measured at each call (the write rate moves): the page's is one the API
    # gives for the same node and tier, word for word up to its figures' last digits.
    verdicts = page.get_by_test_id("forecast-verdict").all_inner_texts()
    for shown, verdict, answered in zip(
        summaries.all_inner_texts(), verdicts, forecast.nodes, strict=True
    ):
        assert shown.split(":")[0] == answered.summary.split(":")[0], (shown, answered.summary)
        # (The badge shows it in capitals.)
        assert verdict.lower() == VERDICTS[answered.verdict].lower()
    expect(page.get_by_test_id("written-chart")).to_be_visible()
    screenshot(page, "storage-page")


@pytest.mark.timeout(300)
def test_a_cameras_page_charts_its_stream_health(
    page: Page, local_platform: LocalPlatform, fleet: dict[str, camera_pb2.Camera]
) -> None:
    up = fleet["up"]
    with admin_rpc(local_platform) as (channel, auth):
        api = Analytics(channel, auth)

        def samples() -> int:
            end = datetime.now(UTC)
            health = api.call(
                api.analytics.GetStreamHealth,
                analytics_pb2.GetStreamHealthRequest(
                    camera_id=up.id, range=time_range(end - timedelta(hours=1), end)
                ),
            )
            return sum(p.samples for p in health.points)

        wait_for(samples, lambda n: n > 0, "stream health reported", 120)
    log_in(page, local_platform.url, "admin", local_platform.admin_password)
    goto(page, f"{local_platform.url}/#/cameras/{up.id}")
    expect(page.get_by_test_id("stream-health")).to_be_visible()
    expect(page.get_by_test_id("bitrate-chart")).to_be_visible()
    expect(page.get_by_test_id("fps-chart")).to_be_visible()
    # The reported buckets are drawn: at least one point of the average bitrate.
    expect(
        page.get_by_test_id("bitrate-chart").locator(".recharts-line-dots circle").first
    ).to_be_visible()
    screenshot(page, "camera-stream-health")
    # A camera that never published has nothing to chart, and says so.
    goto(page, f"{local_platform.url}/#/cameras/{fleet['down'].id}")
    expect(page.get_by_test_id("stream-health-empty")).to_be_visible()


@pytest.mark.timeout(300)
def test_a_report_schedule_is_created_for_an_email_channel_only(
    page: Page, local_platform: LocalPlatform
) -> None:
    tag = secrets.token_hex(3)
    config = alert_pb2.EmailConfig(
        smtp_host="127.0.0.1",
        smtp_port=2525,
        security=alert_pb2.EmailConfig.SECURITY_NONE,
        to=["ops@example.test"],
    )
    setattr(config, "from", "camfleet@example.test")  # a Python keyword as a field name
    email = create_channel(
        local_platform, alert_pb2.Channel(name=f"Reports mail {tag}", email=config)
    )
    hook = create_channel(
        local_platform,
        alert_pb2.Channel(
            name=f"Reports hook {tag}",
            webhook=alert_pb2.WebhookConfig(url="http://127.0.0.1:9/hook"),
        ),
    )
    _open_analytics(page, local_platform)
    page.get_by_test_id("schedule-new").click()
    page.get_by_test_id("schedule-name").fill(f"Weekly {tag}")
    page.get_by_test_id("schedule-channel").click()
    # Reports are mailed: only e-mail channels are offered.
    expect(page.get_by_role("option", name=hook.name)).to_have_count(0)
    page.get_by_role("option", name=email.name).click()
    expect(page.get_by_test_id("schedule-channel")).to_have_value(email.name)
    page.get_by_test_id("schedule-save").click()
    row = page.locator(f'[data-testid="schedule-row"][data-name="Weekly {tag}"]')
    expect(row).to_contain_text(email.name)
    expect(row).to_contain_text("Weekly")

    with admin_rpc(local_platform) as (rpc, auth):
        listed = analytics_pb2_grpc.AnalyticsServiceStub(rpc).ListReportSchedules(
            analytics_pb2.ListReportSchedulesRequest(), metadata=auth, timeout=30
        )
    [made] = [s for s in listed.schedules if s.name == f"Weekly {tag}"]
    assert made.channel_id == email.id
    assert made.period == analytics_pb2.REPORT_PERIOD_WEEKLY
    assert made.kind == analytics_pb2.REPORT_KIND_CAMERA_PERFORMANCE
    assert made.format == analytics_pb2.REPORT_FORMAT_PDF
    assert made.enabled


@pytest.mark.timeout(300)
def test_a_custom_range_is_checked_in_words_and_then_shown(
    page: Page, local_platform: LocalPlatform, fleet: dict[str, camera_pb2.Camera]
) -> None:
    _open_analytics(page, local_platform)
    body = page.get_by_test_id("analytics-page")
    page.get_by_test_id("range-picker").get_by_text("Custom", exact=True).click()
    # The browser's inputs are in its local time zone, as is datetime.now() here.
    now = datetime.now().replace(second=0, microsecond=0)
    page.get_by_test_id("range-start").fill(local_input(now))
    page.get_by_test_id("range-end").fill(local_input(now - timedelta(hours=1)))
    expect(page.get_by_test_id("range-problem")).to_have_text("The end must be after the start.")
    expect(page.get_by_test_id("range-apply")).to_be_disabled()

    page.get_by_test_id("range-start").fill(local_input(now - timedelta(hours=2)))
    page.get_by_test_id("range-apply").click()
    expect(body).to_have_attribute(
        "data-end", (now - timedelta(hours=1)).astimezone(UTC).isoformat()[:19] + ".000Z"
    )
    expect(body).to_have_attribute("data-loading", "false")
    start = instant(body.get_attribute("data-start") or "")
    end = instant(body.get_attribute("data-end") or "")
    assert end - start == timedelta(hours=1)
    with admin_rpc(local_platform) as (channel, auth):
        api = Analytics(channel, auth)
        uptime = api.call(
            api.analytics.GetUptime,
            analytics_pb2.GetUptimeRequest(range=time_range(start, end), page_size=1000),
        )
    shown = page.get_by_test_id("fleet-uptime").inner_text()
    assert same_percent(shown, uptime.fleet_uptime), (shown, uptime.fleet_uptime)
