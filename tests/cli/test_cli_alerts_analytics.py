"""`camfleet analytics` and `camfleet alerts` against a live control plane of its own (rules,
silences and channels would reach the other tests of a shared one; tests/cli/conftest.py):
reports exported to files that open, the figures as JSON, rules, silences and channels
created, listed and removed, mistakes as sentences."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import openpyxl
import pytest
from camfleet.v1 import camera_pb2

from tests.cli.cli_process import Cli
from tests.conftest import PlatformFactory
from tests.support.platform import ADMIN_PASSWORD, Platform

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
async def plane(make_platform: PlatformFactory) -> Platform:
    return await make_platform()


@pytest.fixture
async def cli(plane: Platform, tmp_path: Path) -> Cli:
    c = Cli(tmp_path / "cli")
    await c.login(plane.target, "admin", ADMIN_PASSWORD)
    return c


def part_left(path: Path) -> bool:
    return path.with_name(path.name + ".part").exists()


def read_xlsx_rows(path: Path) -> list[tuple[object, ...]]:
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        return [
            tuple(row) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
        ]
    finally:
        book.close()


async def test_reports_are_exported_to_files_that_open(
    cli: Cli, plane: Platform, tmp_path: Path
) -> None:
    camera = await plane.cameras.CreateCamera(
        camera_pb2.CreateCameraRequest(camera=camera_pb2.Camera(name="report-lobby")),
        metadata=plane.admin,
    )
    as_csv = tmp_path / "perf.csv"
    done = await cli.run(
        "analytics", "export-report", "--format", "csv", "--start", "2d", "-O", str(as_csv)
    )
    assert done.code == 0, done
    assert f"Wrote {as_csv}" in done.stdout, done
    rows = list(csv.reader(io.StringIO(as_csv.read_text())))
    assert any("report-lobby" in cell for row in rows for cell in row), rows[:10]
    assert not part_left(as_csv)

    as_xlsx = tmp_path / "storage.xlsx"
    done = await cli.run(
        "analytics", "export-report", "--kind", "storage", "--format", "xlsx",
        "--start", "2d", "-O", str(as_xlsx),
    )  # fmt: skip
    assert done.code == 0, done
    assert read_xlsx_rows(as_xlsx), "an empty workbook"

    as_pdf = tmp_path / "perf.pdf"
    done = await cli.run(
        "analytics", "export-report", "--format", "pdf", "--camera", camera.camera.id,
        "--start", "2d", "-O", str(as_pdf),
    )  # fmt: skip
    assert done.code == 0, done
    data = as_pdf.read_bytes()
    assert data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]

    # The server's name for the file when none is given, in the working directory.
    named = await cli.run("-o", "json", "analytics", "export-report", "--start", "1d")
    assert named.code == 0, named
    written = Path(json.loads(named.stdout)["path"])
    assert written.suffix == ".csv" and (cli.home / written).stat().st_size > 0

    bad = await cli.run("analytics", "export-report", "--format", "docx")
    assert bad.code == 2 and "csv, xlsx or pdf" in bad.stderr, bad
    backwards = await cli.run("analytics", "uptime", "--start", "1h", "--end", "2h")
    assert backwards.code == 2 and "--end must be after --start" in backwards.stderr, backwards


async def test_analytics_figures(cli: Cli, plane: Platform) -> None:
    await plane.cameras.CreateCamera(
        camera_pb2.CreateCameraRequest(camera=camera_pb2.Camera(name="figures-lobby")),
        metadata=plane.admin,
    )
    uptime = await cli.run("-o", "json", "analytics", "uptime", "--start", "1d", "--bucket", "1h")
    assert uptime.code == 0, uptime
    assert "figures-lobby" in [c["camera_name"] for c in json.loads(uptime.stdout)["cameras"]]
    table = await cli.run("analytics", "coverage", "--start", "1d")
    assert table.code == 0 and "figures-lobby" in table.stdout, table
    for args in (("storage", "--group-by", "node"), ("forecast",), ("security", "--start", "1h")):
        done = await cli.run("analytics", *args)
        assert done.code == 0, done
    bucket = await cli.run("analytics", "uptime", "--start", "1d", "--bucket", "10s")
    assert bucket.code == 6 and "bucket" in bucket.stderr, bucket


async def test_alert_rules_silences_and_channels(cli: Cli) -> None:
    created = await cli.run(
        "-o", "json", "alerts", "rules", "create", "lobby-offline", "--kind", "camera-offline",
        "--for", "2m", "--severity", "critical", "--match", "site=north", "--disabled",
    )  # fmt: skip
    assert created.code == 0, created
    rule = json.loads(created.stdout)
    assert rule["severity"] == "ALERT_SEVERITY_CRITICAL" and rule["for"] == "120s"
    listed = await cli.run("alerts", "rules", "list")
    assert "lobby-offline" in listed.stdout and "camera_offline" in listed.stdout, listed
    on = await cli.run("-o", "json", "alerts", "rules", "enable", rule["id"])
    assert json.loads(on.stdout)["enabled"] is True, on
    gap = await cli.run(
        "-o", "json", "alerts", "rules", "create", "gaps", "--kind", "recording_gap",
        "-p", "min_gap=30s", "-p", "min_recorded_percent=95", "--disabled",
    )  # fmt: skip
    assert gap.code == 0, gap
    assert json.loads(gap.stdout)["condition"]["recording_gap"]["min_gap"] == "30s"
    deleted = await cli.run("alerts", "rules", "delete", rule["id"], "--yes")
    assert deleted.code == 0, deleted
    gone = await cli.run("alerts", "rules", "get", rule["id"])
    assert gone.code == 5, gone

    refused = await cli.run(
        "alerts", "rules", "create", "too-low", "--kind", "node_disk", "-p", "min_free_percent=150"
    )
    assert refused.code == 6 and "min_free_percent" in refused.stderr, refused
    unknown = await cli.run("alerts", "rules", "create", "x", "--kind", "sunspots")
    assert unknown.code == 2 and "camera_offline" in unknown.stderr, unknown

    silence = await cli.run(
        "-o", "json", "alerts", "silences", "create", "-m", "site=north", "-m", "severity!=info",
        "--duration", "1h", "--comment", "maintenance",
    )  # fmt: skip
    assert silence.code == 0, silence
    silence_id = json.loads(silence.stdout)["id"]
    active = await cli.run("alerts", "silences", "list", "--filter", "state = ACTIVE")
    assert silence_id in active.stdout and "severity!=info" in active.stdout, active
    expired = await cli.run("-o", "json", "alerts", "silences", "expire", silence_id)
    assert json.loads(expired.stdout)["state"] == "SILENCE_STATE_EXPIRED", expired

    channel = await cli.run(
        "alerts", "channels", "create", "ops-hook", "webhook", "url=http://127.0.0.1:9/hook"
    )
    assert channel.code == 0, channel
    assert "Signing secret (shown once): whsec_" in channel.stderr, channel
    channels = await cli.run("-o", "json", "alerts", "channels", "list")
    (made,) = [c for c in json.loads(channels.stdout) if c["name"] == "ops-hook"]
    assert made["webhook"]["url"] == "http://127.0.0.1:9/hook" and made["secret_set"]
    assert (await cli.run("alerts", "channels", "delete", made["id"], "-y")).code == 0

    alerts = await cli.run("-o", "json", "alerts", "list", "--filter", "state = FIRING")
    assert alerts.code == 0 and isinstance(json.loads(alerts.stdout), list), alerts
