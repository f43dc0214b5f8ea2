"""ExportReport and the report schedules through the API on both backends: the CSV, XLSX and
PDF hold the figures GetUptime, GetCoverage and GetStorage answer for the same range and
cameras (what the UI shows), in chunks of at most 64 KiB, the first naming the file; bad
requests are clear statuses naming the field; a schedule run now arrives at a real SMTP server
(aiosmtpd) with its attachment."""

from __future__ import annotations

import asyncio
import csv
import io
import secrets
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from camfleet.v1 import alert_pb2, alert_pb2_grpc, analytics_pb2, analytics_pb2_grpc, camera_pb2
from google.protobuf import field_mask_pb2, timestamp_pb2
from openpyxl import load_workbook

from harness.alert_receivers import plain_smtp_server
from tests.support.assertions import eventually, refused
from tests.support.platform import Platform

A = analytics_pb2
CHUNK = 64 * 1024


def _ts(when: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(when)
    return ts


def span(start: datetime, end: datetime) -> analytics_pb2.TimeRange:
    return A.TimeRange(start_time=_ts(start), end_time=_ts(end))


def api(platform: Platform) -> analytics_pb2_grpc.AnalyticsServiceStub:
    return analytics_pb2_grpc.AnalyticsServiceStub(platform.channel)


async def export(
    platform: Platform, request: analytics_pb2.ExportReportRequest
) -> tuple[str, str, bytes]:
    chunks = [c async for c in api(platform).ExportReport(request, metadata=platform.admin)]
    assert chunks and all(0 < len(c.data) <= CHUNK for c in chunks)
    assert all(not c.filename for c in chunks[1:])
    return chunks[0].filename, chunks[0].content_type, b"".join(c.data for c in chunks)


async def two_cameras(platform: Platform) -> list[camera_pb2.Camera]:
    tag = secrets.token_hex(4)
    made = []
    for name in (f"report-a-{tag}", f"report-b-{tag}"):
        reply = await platform.cameras.CreateCamera(
            camera_pb2.CreateCameraRequest(camera=camera_pb2.Camera(name=name)),
            metadata=platform.admin,
        )
        made.append(reply.camera)
    return made


def seconds(d: object) -> float:
    return d.ToTimedelta().total_seconds()  # type: ignore[attr-defined,no-any-return]


async def test_exports_hold_the_figures_the_api_answers(platform: Platform, tmp_path: Path) -> None:
    cameras = await two_cameras(platform)
    ids = [c.id for c in cameras]
    text = " OR ".join(f'camera_id = "{i}"' for i in ids)
    start = datetime.now(UTC) - timedelta(hours=1)

    async def known() -> float:
        reply = await api(platform).GetUptime(
            A.GetUptimeRequest(range=span(start, datetime.now(UTC)), filter=text),
            metadata=platform.admin,
        )
        return min(seconds(c.up) + seconds(c.down) for c in reply.cameras)

    # The history writers have the cameras' states; a range that has ended stays as it is.
    await eventually(known, lambda s: s > 0, within_seconds=30)
    end = datetime.now(UTC).replace(microsecond=0)
    await asyncio.sleep(1.2)
    time_range = span(start, end)
    uptime = await api(platform).GetUptime(
        A.GetUptimeRequest(range=time_range, filter=text, order_by="name"),
        metadata=platform.admin,
    )
    coverage = await api(platform).GetCoverage(
        A.GetCoverageRequest(range=time_range, filter=text, order_by="name"),
        metadata=platform.admin,
    )
    stored = await api(platform).GetStorage(
        A.GetStorageRequest(range=time_range, filter=text), metadata=platform.admin
    )
    assert [c.camera_id for c in uptime.cameras] == ids
    by_id = {c.camera_id: c for c in uptime.cameras}
    covered = {c.camera_id: c for c in coverage.cameras}

    request = A.ExportReportRequest(
        kind=A.REPORT_KIND_CAMERA_PERFORMANCE, range=time_range, camera_ids=ids
    )
    # CSV
    request.format = A.REPORT_FORMAT_CSV
    name, content_type, data = await export(platform, request)
    assert name.startswith("camera-performance-") and name.endswith(".csv")
    assert content_type == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    summary = {r[0]: r[1] for r in rows if len(r) == 2}
    assert float(summary["Fleet uptime (0-1)"]) == uptime.fleet_uptime
    assert int(summary["Outages"]) == uptime.fleet_outages.count
    assert int(summary["Cameras"]) == uptime.total_size == 2
    assert float(summary["Fleet coverage (recorded ÷ expected) (0-1)"]) == coverage.fleet_coverage
    assert float(summary["Expected (s)"]) == pytest.approx(seconds(coverage.fleet_expected))
    header_at = rows.index(["Cameras"]) + 1
    table = [dict(zip(rows[header_at], r, strict=True)) for r in rows[header_at + 1 :]]
    assert [r["Camera id"] for r in table] == ids
    for row in table:
        u, c = by_id[row["Camera id"]], covered[row["Camera id"]]
        assert row["Camera"] == u.camera_name
        assert float(row["Uptime (0-1)"]) == u.uptime
        assert float(row["Down (s)"]) == pytest.approx(seconds(u.down), abs=1e-6)
        assert float(row["Up (s)"]) == pytest.approx(seconds(u.up), abs=1e-6)
        assert int(row["Outages"]) == u.outages.count
        assert float(row["Coverage (0-1)"]) == c.coverage
        assert float(row["Expected (s)"]) == pytest.approx(seconds(c.expected), abs=1e-6)
        assert float(row["Recorded (s)"]) == pytest.approx(seconds(c.recorded), abs=1e-6)

    # XLSX
    request.format = A.REPORT_FORMAT_XLSX
    name, content_type, data = await export(platform, request)
    assert name.endswith(".xlsx") and "spreadsheetml" in content_type
    (tmp_path / name).write_bytes(data)
    book = load_workbook(tmp_path / name)
    figures = {r[0]: r[1] for r in book["Summary"].iter_rows(values_only=True) if r and r[0]}
    assert figures["Fleet uptime"] == uptime.fleet_uptime
    assert figures["Outages"] == uptime.fleet_outages.count
    sheet = list(book["Cameras"].iter_rows(values_only=True))
    cells = [dict(zip(sheet[0], r, strict=True)) for r in sheet[1:]]
    assert [c["Camera id"] for c in cells] == ids
    for cell in cells:
        assert cell["Uptime (0-1)"] == by_id[cell["Camera id"]].uptime
        assert cell["Coverage (0-1)"] == covered[cell["Camera id"]].coverage

    # PDF: rendered, and its text has the figures as the UI writes them.
    request.format = A.REPORT_FORMAT_PDF
    name, content_type, data = await export(platform, request)
    assert content_type == "application/pdf"
    pdf = tmp_path / name
    pdf.write_bytes(data)
    subprocess.run(
        ["pdftoppm", "-r", "30", "-png", str(pdf), str(tmp_path / "page")],
        check=True,
        timeout=60,
    )
    assert (tmp_path / "page-1.png").stat().st_size > 0
    words = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, timeout=60
    ).stdout.decode()
    assert f"{uptime.fleet_uptime * 100:.2f} %" in words
    for camera in uptime.cameras:
        assert camera.camera_name in words

    # Storage: the totals GetStorage answers.
    name, _, data = await export(
        platform,
        A.ExportReportRequest(
            kind=A.REPORT_KIND_STORAGE,
            format=A.REPORT_FORMAT_CSV,
            range=time_range,
            camera_ids=ids,
        ),
    )
    assert name.startswith("storage-")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    summary = {r[0]: r[1] for r in rows if len(r) == 2}
    assert int(summary["Stored (bytes)"]) == stored.total_stored_bytes
    assert float(summary["Growth (bytes/h)"]) == stored.total_bytes_per_hour


NOW = datetime.now(UTC)
DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"kind": None}, "kind", "is required"),
        ({"format": None}, "format", "is required"),
        ({"range": span(NOW, NOW - DAY)}, "range.end_time", "must be after"),
        ({"range": span(NOW - 3650 * DAY, NOW)}, "range.end_time", "at most 400 days"),
        ({"range": None}, "range.start_time", "is required"),
        ({"camera_ids": ["nope"]}, "camera_ids[0]", "must be a UUID"),
        ({"format": 9}, "format", "has no value 9"),
    ],
)
async def test_bad_exports_are_invalid_argument_naming_the_field(
    platform: Platform, fields: dict[str, object], field: str, words: str
) -> None:
    values: dict[str, object] = {
        "kind": A.REPORT_KIND_CAMERA_PERFORMANCE,
        "format": A.REPORT_FORMAT_PDF,
        "range": span(NOW - DAY, NOW),
    }
    values.update(fields)
    request = A.ExportReportRequest(**{k: v for k, v in values.items() if v is not None})  # type: ignore[arg-type]
    refusal = await refused(export(platform, request), grpc.StatusCode.INVALID_ARGUMENT)
    assert field in refusal.fields, refusal
    assert words in refusal.fields[field]


async def test_an_unknown_camera_is_not_found(platform: Platform) -> None:
    missing = "00000000-0000-4000-8000-00000000abcd"
    request = A.ExportReportRequest(
        kind=A.REPORT_KIND_CAMERA_PERFORMANCE,
        format=A.REPORT_FORMAT_CSV,
        range=span(NOW - DAY, NOW),
        camera_ids=[missing],
    )
    refusal = await refused(export(platform, request), grpc.StatusCode.NOT_FOUND)
    assert missing in refusal.message


async def _channel(platform: Platform, **config: object) -> str:
    alerts = alert_pb2_grpc.AlertServiceStub(platform.channel)
    name = f"reports {secrets.token_hex(4)}"
    if "url" in config:
        channel = alert_pb2.Channel(
            name=name, webhook=alert_pb2.WebhookConfig(url=str(config["url"]))
        )
    else:
        email = alert_pb2.EmailConfig(
            smtp_host="127.0.0.1",
            smtp_port=int(config["port"]),  # type: ignore[call-overload]
            security=alert_pb2.EmailConfig.SECURITY_NONE,
            to=["ops@example.org"],
        )
        setattr(email, "from", "camfleet@example.org")
        channel = alert_pb2.Channel(name=name, email=email)
    reply = await alerts.CreateChannel(
        alert_pb2.CreateChannelRequest(channel=channel), metadata=platform.admin
    )
    return reply.channel.id


async def test_a_schedule_run_now_arrives_by_mail(platform: Platform) -> None:
    stub = api(platform)
    with plain_smtp_server() as box:
        channel_id = await _channel(platform, port=box.port)
        created = (
            await stub.CreateReportSchedule(
                A.CreateReportScheduleRequest(
                    schedule=A.ReportSchedule(
                        name=f"daily {secrets.token_hex(4)}",
                        kind=A.REPORT_KIND_STORAGE,
                        format=A.REPORT_FORMAT_XLSX,
                        period=A.REPORT_PERIOD_DAILY,
                        channel_id=channel_id,
                        enabled=True,
                    )
                ),
                metadata=platform.admin,
            )
        ).schedule
        midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        assert created.next_run_time.ToDatetime(UTC) == midnight + DAY
        ran = (
            await stub.RunReportSchedule(
                A.RunReportScheduleRequest(id=created.id), metadata=platform.admin
            )
        ).schedule
        assert ran.last_error == ""
        assert ran.HasField("last_run_time")
        [attachment] = list(box.message().iter_attachments())
    yesterday = (midnight - DAY).date().isoformat()
    assert attachment.get_filename() == f"storage-{yesterday}--{midnight.date().isoformat()}.xlsx"
    data = attachment.get_payload(decode=True)
    assert isinstance(data, bytes) and data[:2] == b"PK"  # a zip: the workbook

    listed = await stub.ListReportSchedules(A.ListReportSchedulesRequest(), metadata=platform.admin)
    assert created.id in [s.id for s in listed.schedules]
    updated = (
        await stub.UpdateReportSchedule(
            A.UpdateReportScheduleRequest(
                schedule=A.ReportSchedule(id=created.id, enabled=False),
                update_mask=field_mask_pb2.FieldMask(paths=["enabled"]),
            ),
            metadata=platform.admin,
        )
    ).schedule
    assert not updated.enabled and updated.name == created.name
    await stub.DeleteReportSchedule(
        A.DeleteReportScheduleRequest(id=created.id), metadata=platform.admin
    )
    await refused(
        stub.RunReportSchedule(A.RunReportScheduleRequest(id=created.id), metadata=platform.admin),
        grpc.StatusCode.NOT_FOUND,
    )


async def test_bad_schedules_are_clear_statuses(platform: Platform) -> None:
    stub = api(platform)

    def create(**fields: object) -> object:
        return stub.CreateReportSchedule(
            A.CreateReportScheduleRequest(schedule=A.ReportSchedule(**fields)),  # type: ignore[arg-type]
            metadata=platform.admin,
        )

    refusal = await refused(create(name="x"), grpc.StatusCode.INVALID_ARGUMENT)  # type: ignore[arg-type]
    assert {"schedule.kind", "schedule.format", "schedule.period", "schedule.channel_id"} <= set(
        refusal.fields
    )
    valid = {
        "name": f"weekly {secrets.token_hex(4)}",
        "kind": A.REPORT_KIND_CAMERA_PERFORMANCE,
        "format": A.REPORT_FORMAT_PDF,
        "period": A.REPORT_PERIOD_WEEKLY,
    }
    hook = await _channel(platform, url="https://hooks.example.org/reports")
    refusal = await refused(
        create(**valid, channel_id=hook),
        grpc.StatusCode.FAILED_PRECONDITION,  # type: ignore[arg-type]
    )
    assert "needs an e-mail channel" in refusal.message
    await refused(
        create(**valid, channel_id="00000000-0000-4000-8000-0000000000ff"),  # type: ignore[arg-type]
        grpc.StatusCode.NOT_FOUND,
    )
    await refused(
        stub.UpdateReportSchedule(
            A.UpdateReportScheduleRequest(
                schedule=A.ReportSchedule(id="00000000-0000-4000-8000-0000000000ff", name="y"),
                update_mask=field_mask_pb2.FieldMask(paths=["name"]),
            ),
            metadata=platform.admin,
        ),
        grpc.StatusCode.NOT_FOUND,
    )
