"""What a report is made of, in plain types: a title and range, summary figures, charts and
tables whose rows are an iterator (consumed once, as the writer goes). The figures come from
the same domain functions as GetUptime, GetCoverage and GetStorage (source.py), so a report
holds exactly what the UI shows; the writers only format them."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final


class ReportKind(StrEnum):
    CAMERA_PERFORMANCE = "camera_performance"
    STORAGE = "storage"


class ReportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    PDF = "pdf"


CONTENT_TYPES = {
    ReportFormat.CSV: "text/csv; charset=utf-8",
    ReportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ReportFormat.PDF: "application/pdf",
}
# Bars per chart: the worst cameras or the largest nodes (the table lists them all).
CHART_BARS: Final = 15


class Unit(StrEnum):
    """How a column's values read: the writers keep the number and format it for people."""

    TEXT = "text"
    COUNT = "count"
    # A 0-1 fraction, shown as a percentage with two decimals.
    RATIO = "ratio"
    SECONDS = "seconds"
    BYTES = "bytes"
    BYTES_PER_HOUR = "bytes_per_hour"


Value = str | int | float | None


@dataclass(frozen=True)
class Column:
    title: str
    unit: Unit = Unit.TEXT
    # False: in CSV and XLSX only (an id, or a figure another column implies), so the PDF's
    # page stays readable.
    in_pdf: bool = True


@dataclass
class Table:
    """One table: its columns and its rows (each a tuple of one value per column; None: no
    figure, such as the MTBF of a camera without an outage)."""

    title: str
    columns: tuple[Column, ...]
    rows: Iterable[tuple[Value, ...]]

    def __iter__(self) -> Iterator[tuple[Value, ...]]:
        return iter(self.rows)


@dataclass(frozen=True)
class Figure:
    """One summary figure: a label and a value in a unit."""

    label: str
    value: Value
    unit: Unit = Unit.TEXT


@dataclass(frozen=True)
class Chart:
    """Bars: one value per label (a camera, a node), in a unit; the PDF draws it."""

    title: str
    labels: tuple[str, ...]
    values: tuple[float, ...]
    unit: Unit = Unit.RATIO


@dataclass
class Report:
    kind: ReportKind
    title: str
    start: datetime
    end: datetime
    summary: list[Figure] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    # Set when nobody reads the file any more: row sources stop at their next page.
    abandoned: threading.Event = field(default_factory=threading.Event)


def filename(kind: ReportKind, fmt: ReportFormat, start: datetime, end: datetime) -> str:
    """camera-performance-2026-12-01--2026-12-08.pdf; with times when the range is not whole
    days (2026-12-01T06-00--2026-12-01T18-00)."""
    whole = all(t.hour == t.minute == t.second == t.microsecond == 0 for t in (start, end))
    pattern = "%Y-%m-%d" if whole else "%Y-%m-%dT%H-%M"
    name = kind.value.replace("_", "-")
    return f"{name}-{start.strftime(pattern)}--{end.strftime(pattern)}.{fmt.value}"


def human(value: Value, unit: Unit) -> str:
    """A value as people read it: 99.52 %, 1h 02m 03s, 1.5 GB, 12,345."""
    if value is None:
        return "—"
    if unit is Unit.TEXT or isinstance(value, str):
        return str(value)
    if unit is Unit.RATIO:
        return f"{value * 100:.2f} %"
    if unit is Unit.SECONDS:
        return duration(float(value))
    if unit is Unit.BYTES:
        return size(float(value))
    if unit is Unit.BYTES_PER_HOUR:
        return f"{size(float(value))}/h"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def duration(seconds: float) -> str:
    whole = round(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def size(value: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.2f} {unit}"
        value /= 1000
    return f"{value:,.2f} TB"
