"""The PDF: a first page with the title, the range, the summary figures and the charts (bars
drawn with reportlab.graphics), then each table over as many pages as it needs, its header on
every page. Pages are drawn one by one on a canvas (not laid out as a whole document first), so
the memory a report needs is its finished pages' compressed content, not its rows."""

from __future__ import annotations

import os
from datetime import datetime
from typing import IO, Final

from reportlab.graphics import renderPDF
from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from server.analytics.reports.rows import (
    CHART_BARS,
    Chart,
    Column,
    Report,
    Table,
    Unit,
    Value,
    human,
)

PAGE: Final = landscape(A4)
MARGIN: Final = 36.0
ROW: Final = 14.0
SIZE: Final = 8.0
# Rows of one table in a PDF: about 60 pages; beyond that a document is read in a spreadsheet
# (CSV, XLSX have every row), and the PDF says how many rows it left out.
PDF_ROWS: Final = 2000
_DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
_DEJAVU_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def _fonts() -> tuple[str, str]:
    """DejaVu Sans when installed (it has the letters of any camera's name), else Helvetica
    (Latin-1 only)."""
    if "DejaVu" in pdfmetrics.getRegisteredFontNames():
        return "DejaVu", "DejaVu-Bold"
    if os.path.exists(_DEJAVU) and os.path.exists(_DEJAVU_BOLD):
        pdfmetrics.registerFont(TTFont("DejaVu", _DEJAVU))
        pdfmetrics.registerFont(TTFont("DejaVu-Bold", _DEJAVU_BOLD))
        return "DejaVu", "DejaVu-Bold"
    return "Helvetica", "Helvetica-Bold"


def _when(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC")


class _Pages:
    """A canvas with a cursor going down the page and a page-numbered footer."""

    def __init__(self, out: IO[bytes], report: Report) -> None:
        self.font, self.bold = _fonts()
        self.canvas = Canvas(out, pagesize=PAGE, pageCompression=1)
        self.canvas.setTitle(report.title)
        self.canvas.setAuthor("camfleet")
        self.footer = f"{report.title}, {_when(report.start)} to {_when(report.end)}"
        self.number = 1
        self.y = PAGE[1] - MARGIN

    def room(self, height: float) -> bool:
        return bool(self.y - height >= MARGIN + ROW)

    def new_page(self) -> None:
        self._footer()
        self.canvas.showPage()
        self.number += 1
        self.y = PAGE[1] - MARGIN

    def _footer(self) -> None:
        self.canvas.setFont(self.font, 7)
        self.canvas.setFillColor(colors.grey)
        self.canvas.drawString(MARGIN, MARGIN / 2, self.footer)
        self.canvas.drawRightString(PAGE[0] - MARGIN, MARGIN / 2, f"page {self.number}")
        self.canvas.setFillColor(colors.black)

    def text(self, value: str, size: float, *, bold: bool = False, gap: float = 4) -> None:
        self.y -= size
        self.canvas.setFont(self.bold if bold else self.font, size)
        self.canvas.drawString(MARGIN, self.y, value)
        self.y -= gap

    def finish(self) -> None:
        self._footer()
        self.canvas.showPage()
        self.canvas.save()


def write_pdf(report: Report, out: IO[bytes]) -> None:
    pages = _Pages(out, report)
    pages.text(report.title, 18, bold=True, gap=8)
    pages.text(f"From {_when(report.start)} to {_when(report.end)}", 11, gap=14)
    _summary(pages, report)
    for chart in report.charts:
        _chart(pages, chart)
    for table in report.tables:
        _table(pages, table)
    pages.finish()


def _summary(pages: _Pages, report: Report) -> None:
    if not report.summary:
        return
    pages.text("Summary", 12, bold=True, gap=6)
    c = pages.canvas
    for figure in report.summary:
        pages.y -= ROW
        c.setFont(pages.font, 10)
        c.drawString(MARGIN, pages.y, figure.label)
        c.setFont(pages.bold, 10)
        c.drawString(MARGIN + 240, pages.y, human(figure.value, figure.unit))
    pages.y -= 16


def _chart(pages: _Pages, chart: Chart) -> None:
    labels = [_fit(label, pages.font, 7, 150) for label in chart.labels[:CHART_BARS]]
    values = list(chart.values[:CHART_BARS])
    if not values:
        return
    height = 40 + 14 * len(values)
    if not pages.room(height + 20):
        pages.new_page()
    pages.text(chart.title, 12, bold=True, gap=4)
    width = PAGE[0] - 2 * MARGIN
    drawing = Drawing(width, height)
    bars = HorizontalBarChart()
    bars.x, bars.y = 160, 20
    bars.width, bars.height = width - 240, height - 30
    # Top to bottom in the order given (the worst first).
    bars.data = [list(reversed(values))]
    bars.categoryAxis.categoryNames = list(reversed(labels))
    bars.categoryAxis.labels.fontName = pages.font
    bars.categoryAxis.labels.fontSize = 7
    bars.valueAxis.labels.fontName = pages.font
    bars.valueAxis.labels.fontSize = 7
    bars.valueAxis.valueMin = 0
    if chart.unit is Unit.RATIO:
        bars.valueAxis.valueMax = 1
        bars.valueAxis.valueStep = 0.2
        bars.valueAxis.labelTextFormat = lambda v: f"{v * 100:.0f} %"
    else:
        unit = chart.unit
        bars.valueAxis.labelTextFormat = lambda v: human(v, unit)
    bars.bars[0].fillColor = colors.HexColor("#228be6")
    bars.barLabelFormat = lambda v: human(v, chart.unit)
    bars.barLabels.fontName = pages.font
    bars.barLabels.fontSize = 6
    bars.barLabels.boxAnchor = "w"
    bars.barLabels.dx = 3
    drawing.add(bars)
    pages.y -= height
    renderPDF.draw(drawing, pages.canvas, MARGIN, pages.y)
    pages.y -= 12


def _widths(columns: list[Column]) -> list[float]:
    """Text columns (names, a forecast's sentence) wider than figures; a sentence last widest."""
    total = PAGE[0] - 2 * MARGIN
    shares = [2.0 if c.unit is Unit.TEXT else 1.0 for c in columns]
    if len(columns) > 1 and columns[-1].unit is Unit.TEXT:
        shares[-1] = 4.0
    unit = total / sum(shares)
    return [s * unit for s in shares]


class _Layout:
    """A table's columns on the page: which of them, their widths, the font size, and each
    header cut into at most two lines."""

    def __init__(self, pages: _Pages, table: Table) -> None:
        self.keep = [i for i, c in enumerate(table.columns) if c.in_pdf]
        self.columns = [table.columns[i] for i in self.keep]
        self.units = [c.unit for c in self.columns]
        self.widths = _widths(self.columns)
        self.size = SIZE if len(self.columns) <= 10 else SIZE - 1
        self.headers = [
            _lines(c.title, pages.bold, self.size, w - 4)
            for c, w in zip(self.columns, self.widths, strict=True)
        ]
        self.header_rows = max(len(h) for h in self.headers)


def _table(pages: _Pages, table: Table) -> None:
    layout = _Layout(pages, table)
    if not pages.room((2 + layout.header_rows) * ROW + 20):
        pages.new_page()
    pages.text(table.title, 12, bold=True, gap=4)
    _header(pages, layout)
    shade = False
    rows = iter(table)
    for shown, row in enumerate(rows):
        if shown == PDF_ROWS:
            more = 1 + sum(1 for _ in rows)
            if not pages.room(ROW + 4):
                pages.new_page()
            pages.y -= ROW + 4
            pages.canvas.setFont(pages.font, 9)
            pages.canvas.drawString(
                MARGIN,
                pages.y,
                f"… and {more:,} more rows: the CSV and XLSX exports of this report list "
                f"all {shown + more:,}.",
            )
            break
        if not pages.room(ROW):
            pages.new_page()
            pages.text(f"{table.title} (continued)", 10, bold=True, gap=2)
            _header(pages, layout)
            shade = False
        _row(pages, [row[i] for i in layout.keep], layout, shade)
        shade = not shade
    pages.y -= 12


def _header(pages: _Pages, layout: _Layout) -> None:
    c = pages.canvas
    height = ROW * layout.header_rows
    pages.y -= height
    c.setFillColor(colors.HexColor("#e7f5ff"))
    c.rect(MARGIN, pages.y - 4, sum(layout.widths), height, stroke=0, fill=1)
    c.setFillColor(colors.black)
    c.setFont(pages.bold, layout.size)
    x = MARGIN
    for column, lines, width in zip(layout.columns, layout.headers, layout.widths, strict=True):
        for n, line in enumerate(lines):
            y = pages.y + (layout.header_rows - 1 - n) * ROW
            if column.unit is Unit.TEXT:
                c.drawString(x + 2, y, line)
            else:
                c.drawRightString(x + width - 4, y, line)
        x += width


def _row(pages: _Pages, row: list[Value], layout: _Layout, shade: bool) -> None:
    c = pages.canvas
    pages.y -= ROW
    if shade:
        c.setFillColor(colors.HexColor("#f8f9fa"))
        c.rect(MARGIN, pages.y - 4, sum(layout.widths), ROW, stroke=0, fill=1)
        c.setFillColor(colors.black)
    c.setFont(pages.font, layout.size)
    x = MARGIN
    for value, unit, width in zip(row, layout.units, layout.widths, strict=True):
        text = _fit(human(value, unit), pages.font, layout.size, width - 4)
        if unit is Unit.TEXT:
            c.drawString(x + 2, pages.y, text)
        else:
            c.drawRightString(x + width - 4, pages.y, text)
        x += width


def _lines(text: str, font: str, size: float, width: float) -> list[str]:
    """`text` in at most two lines of `width` points (the second cut with an ellipsis)."""
    words = text.split()
    first = ""
    while words:
        attempt = f"{first} {words[0]}".strip()
        if first and pdfmetrics.stringWidth(attempt, font, size) > width:
            break
        first = attempt
        words.pop(0)
    lines = [_fit(first, font, size, width)]
    if words:
        lines.append(_fit(" ".join(words), font, size, width))
    return lines


def _fit(text: str, font: str, size: float, width: float) -> str:
    """`text` cut with an ellipsis to fit `width` points."""
    text = " ".join(text.split())
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"
