"""CSV and XLSX: the figures as numbers a spreadsheet computes with (a ratio 0-1, seconds,
bytes), each column's unit in its header. Both write row by row: CSV straight into the output,
XLSX through openpyxl's write-only workbook (rows go to a temporary file as they come; the
finished workbook is then copied out), so memory stays flat whatever the number of rows."""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
from datetime import datetime
from typing import IO, Final

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from server.analytics.reports.rows import Column, Report, Unit, Value

# Appended to a column's title so a number read alone says what it counts.
SUFFIX: Final = {
    Unit.TEXT: "",
    Unit.COUNT: "",
    Unit.RATIO: " (0-1)",
    Unit.SECONDS: " (s)",
    Unit.BYTES: " (bytes)",
    Unit.BYTES_PER_HOUR: " (bytes/h)",
}
XLSX_FORMATS: Final = {
    Unit.RATIO: "0.00%",
    Unit.SECONDS: "#,##0",
    Unit.BYTES: "#,##0",
    Unit.BYTES_PER_HOUR: "#,##0",
    Unit.COUNT: "#,##0",
}
_FLUSH_BYTES = 64 * 1024


def header(column: Column) -> str:
    return column.title + SUFFIX[column.unit]


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def _cell(value: Value) -> Value:
    # A text starting with = + - @ would be a formula to a spreadsheet opening the CSV (a camera
    # named "=HYPERLINK(...)"): a leading apostrophe keeps it text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def write_csv(report: Report, out: IO[bytes]) -> None:
    """Title and range lines, the summary as label,value, then each table with its header,
    tables apart by an empty line. UTF-8 with a byte-order mark (Excel reads it as UTF-8)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush(force: bool = False) -> None:
        if force or buffer.tell() >= _FLUSH_BYTES:
            out.write(buffer.getvalue().encode("utf-8"))
            buffer.seek(0)
            buffer.truncate()

    buffer.write("\ufeff")
    writer.writerow([report.title])
    writer.writerow(["From", _iso(report.start), "To", _iso(report.end)])
    for figure in report.summary:
        writer.writerow([figure.label + SUFFIX[figure.unit], _cell(figure.value)])
    for table in report.tables:
        writer.writerow([])
        writer.writerow([table.title])
        writer.writerow([header(c) for c in table.columns])
        for row in table:
            writer.writerow([_cell(v) for v in row])
            flush()
    flush(force=True)


def write_xlsx(report: Report, out: IO[bytes]) -> None:
    """A Summary sheet (title, range, figures) and one sheet per table, numbers formatted by
    unit (a ratio as a percentage)."""
    book = Workbook(write_only=True)
    bold = Font(bold=True)
    summary = book.create_sheet("Summary")
    summary.column_dimensions["A"].width = 36
    summary.column_dimensions["B"].width = 24
    summary.append([_styled(summary, report.title, bold)])
    summary.append(["From", report.start.replace(tzinfo=None)])
    summary.append(["To", report.end.replace(tzinfo=None)])
    summary.append(["Times in UTC"])
    summary.append([])
    for figure in report.summary:
        summary.append([figure.label, _number(summary, figure.value, figure.unit)])
    used: set[str] = {"Summary"}
    for table in report.tables:
        sheet = book.create_sheet(_sheet_name(table.title, used))
        for index, column in enumerate(table.columns):
            letter = _letter(index)
            sheet.column_dimensions[letter].width = max(12, min(40, len(header(column)) + 2))
        sheet.freeze_panes = "A2"
        sheet.append([_styled(sheet, header(c), bold) for c in table.columns])
        units = [c.unit for c in table.columns]
        for row in table:
            sheet.append([_number(sheet, v, u) for v, u in zip(row, units, strict=True)])
    # openpyxl writes the finished archive to a path; rows are already in temporary files.
    with tempfile.NamedTemporaryFile(suffix=".xlsx") as spool:
        book.save(spool.name)
        with open(spool.name, "rb") as done:
            shutil.copyfileobj(done, out, _FLUSH_BYTES)


def _styled(sheet: WriteOnlyWorksheet, value: str, font: Font) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    cell.font = font
    return cell


def _number(sheet: WriteOnlyWorksheet, value: Value, unit: Unit) -> Value | WriteOnlyCell:
    if value is None or isinstance(value, str):
        return value
    fmt = XLSX_FORMATS.get(unit)
    if fmt is None:
        return value
    cell = WriteOnlyCell(sheet, value=value)
    cell.number_format = fmt
    return cell


def _sheet_name(title: str, used: set[str]) -> str:
    """A sheet name Excel takes: at most 31 characters, none of []:*?/\\, unique."""
    base = "".join("-" if ch in "[]:*?/\\" else ch for ch in title)[:31] or "Sheet"
    name, n = base, 2
    while name in used:
        name = f"{base[:28]} {n}"
        n += 1
    used.add(name)
    return name


def _letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
