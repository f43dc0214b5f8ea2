"""The report files (server/analytics/reports/): a CSV parsed back with the csv module, an XLSX
read back with openpyxl, a PDF rendered to PNG by poppler's pdftoppm (pages exist, not blank)
and its text (pdftotext) holding the figures; chunks of at most 64 KiB; 100,000 rows written
with bounded memory (tracemalloc's peak far below the file's size)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook
from PIL import Image, ImageStat

from server.analytics.ranges import check_window
from server.analytics.reports.build import build_report
from server.analytics.reports.rows import ReportFormat, ReportKind, filename
from server.analytics.reports.stream import CHUNK, report_chunks
from server.recordings.causes import GapCause
from tests.server.analytics.report_samples import END, START, SampleFigures, camera, fleet

WINDOW = check_window(START, END, None)


async def render(kind: ReportKind, fmt: ReportFormat, n: int = 40) -> tuple[bytes, list[int]]:
    report = await build_report(SampleFigures(n), kind, WINDOW, [])
    chunks = [c async for c in report_chunks(report, fmt)]
    return b"".join(chunks), [len(c) for c in chunks]


def test_file_names_say_the_kind_and_the_range() -> None:
    assert (
        filename(ReportKind.CAMERA_PERFORMANCE, ReportFormat.PDF, START, END)
        == "camera-performance-2026-12-01--2026-12-08.pdf"
    )
    assert (
        filename(ReportKind.STORAGE, ReportFormat.CSV, START.replace(hour=6), END)
        == "storage-2026-12-01T06-00--2026-12-08T00-00.csv"
    )


async def test_csv_parses_back_to_the_figures() -> None:
    data, sizes = await render(ReportKind.CAMERA_PERFORMANCE, ReportFormat.CSV)
    assert max(sizes) <= CHUNK
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["Camera performance"]
    assert rows[1] == ["From", "2026-12-01T00:00:00Z", "To", "2026-12-08T00:00:00Z"]
    summary = {r[0]: r[1] for r in rows[2:20] if len(r) == 2}
    expected = fleet(40)
    assert float(summary["Fleet uptime (0-1)"]) == pytest.approx(expected.uptime)
    assert int(summary["Outages"]) == expected.outages
    assert float(summary["Gap: node lost (s)"]) == expected.gaps_s[GapCause.NODE_LOST]
    header_at = rows.index(["Cameras"]) + 1
    header = rows[header_at]
    assert header[:4] == ["Camera", "Camera id", "Uptime (0-1)", "Up (s)"]
    table = [dict(zip(header, r, strict=True)) for r in rows[header_at + 1 :]]
    assert len(table) == 40
    seven = camera(7)
    row = next(r for r in table if r["Camera"] == seven.name)
    assert row["Camera id"] == seven.camera_id
    assert float(row["Uptime (0-1)"]) == seven.uptime
    assert float(row["Down (s)"]) == seven.down_s
    assert int(row["Outages"]) == seven.outages
    assert float(row["MTBF (s)"]) == seven.mtbf_s
    assert float(row["Coverage (0-1)"]) == seven.coverage
    # No outage: no MTBF, an empty cell rather than a made-up number.
    assert next(r for r in table if r["Camera"] == camera(4).name)["MTBF (s)"] == ""


async def test_csv_keeps_a_formula_like_name_as_text() -> None:
    from server.analytics.reports.rows import Column, Report, Table
    from server.analytics.reports.tabular import write_csv

    out = io.BytesIO()
    table = Table("Cameras", (Column("Camera"),), [('=HYPERLINK("http://x")',), ("-1",)])
    write_csv(Report(ReportKind.STORAGE, "Storage", START, END, tables=[table]), out)
    rows = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"))))
    assert rows[-2:] == [['\'=HYPERLINK("http://x")'], ["'-1"]]


async def test_xlsx_reads_back_with_openpyxl(tmp_path: Path) -> None:
    data, sizes = await render(ReportKind.CAMERA_PERFORMANCE, ReportFormat.XLSX)
    assert max(sizes) <= CHUNK
    path = tmp_path / "report.xlsx"
    path.write_bytes(data)
    book = load_workbook(path)
    assert book.sheetnames == ["Summary", "Cameras"]
    summary = {r[0]: r[1] for r in book["Summary"].iter_rows(values_only=True) if r and r[0]}
    assert summary["Camera performance"] is None
    assert summary["Fleet uptime"] == pytest.approx(fleet(40).uptime)
    assert summary["Cameras"] == 40
    sheet = book["Cameras"]
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    assert header[2] == "Uptime (0-1)"
    assert len(rows) == 41
    seven = camera(7)
    row = dict(zip(header, next(r for r in rows if r[0] == seven.name), strict=True))
    assert row["Uptime (0-1)"] == seven.uptime
    assert row["Down (s)"] == seven.down_s
    assert row["Gap: node lost (s)"] == seven.down_s
    # The ratio reads as a percentage in a spreadsheet.
    assert sheet.cell(row=2, column=3).number_format == "0.00%"


async def test_storage_xlsx_has_nodes_tiers_forecast_and_cameras(tmp_path: Path) -> None:
    data, _ = await render(ReportKind.STORAGE, ReportFormat.XLSX, n=5)
    path = tmp_path / "storage.xlsx"
    path.write_bytes(data)
    book = load_workbook(path, read_only=True)
    assert book.sheetnames == ["Summary", "Nodes", "Tiers", "Forecast per node disk", "Cameras"]
    forecast = list(book["Forecast per node disk"].iter_rows(values_only=True))
    assert forecast[1][0] == "node-a"
    assert forecast[1][5] == 17.5
    assert forecast[2][6] == "Retention met: usage levels off at 412 GB of 1 TB."
    book.close()


def pages_of(pdf: Path, tmp: Path) -> list[Path]:
    subprocess.run(
        ["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp / "page")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return sorted(tmp.glob("page*.png"))


def text_of(pdf: Path) -> str:
    done = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, timeout=120
    )
    return done.stdout.decode()


def not_blank(png: Path) -> bool:
    with Image.open(png) as image:
        grey = image.convert("L")
        # Ink: a page of text and bars has dark pixels and varies; a blank page is all white.
        return bool(grey.getextrema()[0] < 128 and ImageStat.Stat(grey).stddev[0] > 5)


async def test_pdf_renders_with_charts_and_the_figures(tmp_path: Path) -> None:
    data, sizes = await render(ReportKind.CAMERA_PERFORMANCE, ReportFormat.PDF, n=120)
    assert max(sizes) <= CHUNK
    assert data.startswith(b"%PDF-")
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(data)
    pages = pages_of(pdf, tmp_path)
    # A first page of summary and charts, then 120 rows at about 35 a page.
    assert len(pages) >= 4
    assert all(not_blank(p) for p in pages)
    text = text_of(pdf)
    assert "Camera performance" in text
    assert "From 2026-12-01 00:00 UTC to 2026-12-08 00:00 UTC" in text
    assert f"{fleet(120).uptime * 100:.2f} %" in text
    assert "Lowest uptime" in text
    for i in (0, 7, 119):
        assert camera(i).name in text
    assert f"{camera(119).uptime * 100:.2f} %" in text
    # A duration as people read it (camera 100: down 3,700 s).
    assert "1h 01m 40s" in text
    assert text.count("page ") >= len(pages)


async def test_pdf_chart_draws_bars(tmp_path: Path) -> None:
    """The first page (summary and charts) has the chart's blue bars."""
    data, _ = await render(ReportKind.STORAGE, ReportFormat.PDF, n=3)
    pdf = tmp_path / "storage.pdf"
    pdf.write_bytes(data)
    first = pages_of(pdf, tmp_path)[0]
    with Image.open(first) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20) or []
    blue = sum(n for n, (r, g, b) in colours if b > 180 and r < 80 and g < 170)
    assert blue > 200
    text = text_of(pdf)
    assert "Stored per node" in text and "node-a" in text and "412.00 GB" in text
    assert "Fills up in 17.5 days" in text


def measure(n: int, fmt: ReportFormat, kind: ReportKind) -> dict[str, int]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.server.analytics.report_memory", str(n), fmt, kind],
        check=True,
        capture_output=True,
        timeout=560,
        cwd=Path(__file__).parents[3],
    )
    result: dict[str, int] = json.loads(done.stdout)
    return result


# The XLSX of the storage report: 6 columns a row (openpyxl writes ~20,000 cells a second on
# a busy machine; 100,000 camera-performance rows are 1.7 million cells).
@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    ("fmt", "kind"),
    [
        (ReportFormat.CSV, ReportKind.CAMERA_PERFORMANCE),
        (ReportFormat.PDF, ReportKind.CAMERA_PERFORMANCE),
        (ReportFormat.XLSX, ReportKind.STORAGE),
    ],
)
def test_100000_rows_stream_with_bounded_memory(fmt: ReportFormat, kind: ReportKind) -> None:
    """Peak RSS of 100,000 rows against 1,000 rows measured in the same run: the writer's
    memory does not grow with the rows (the file does, by megabytes)."""
    small = measure(1000, fmt, kind)
    large = measure(100_000, fmt, kind)
    assert large["largest_chunk"] <= CHUNK
    assert large["chunks"] > 4
    growth = large["peak_rss"] - small["peak_rss"]
    if fmt is not ReportFormat.PDF:  # a PDF lists at most 2,000 rows (the test below)
        assert large["bytes"] > 10 * small["bytes"]
    assert growth < 24 * 1024 * 1024, (
        f"peak RSS grew {growth:,} B from 1,000 to 100,000 rows "
        f"(files of {small['bytes']:,} and {large['bytes']:,} B)"
    )


async def test_pdf_lists_at_most_2000_rows_and_says_how_many_more(tmp_path: Path) -> None:
    data, _ = await render(ReportKind.CAMERA_PERFORMANCE, ReportFormat.PDF, n=2500)
    pdf = tmp_path / "big.pdf"
    pdf.write_bytes(data)
    text = text_of(pdf)
    assert camera(1999).name in text
    assert camera(2000).name not in text
    assert "… and 500 more rows: the CSV and XLSX exports of this report list all 2,500." in text


async def test_a_reader_that_leaves_stops_the_writer() -> None:
    """A client that goes away after the first chunk: the writer stops at its next page of
    cameras instead of reading all 100 pages."""
    figures = SampleFigures(100_000)
    report = await build_report(figures, ReportKind.CAMERA_PERFORMANCE, WINDOW, [])
    chunks = report_chunks(report, ReportFormat.CSV)
    first = await anext(chunks)
    assert first.startswith("\ufeffCamera performance".encode())
    await chunks.aclose()
    assert report.abandoned.is_set()
    assert 1 <= figures.pages_read < 10
