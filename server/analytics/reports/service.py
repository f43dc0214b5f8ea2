"""Reports for the servicer: an export streamed now, and the schedules (their store and their
runner). One object per process, built by `Reports.build` (the leader's job is `runner.run`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from server.analytics.ranges import check_window
from server.analytics.reports.build import build_report
from server.analytics.reports.figures import Figures
from server.analytics.reports.rows import CONTENT_TYPES, ReportFormat, ReportKind, filename
from server.analytics.reports.runner import Fence, ReportRunner
from server.analytics.reports.schedules_store import MAX_CAMERAS, ScheduleStore
from server.analytics.reports.source import DomainFigures
from server.analytics.reports.stream import report_chunks
from server.common.validation import require_id
from server.db.engine import Sessions
from server.db.models import utcnow
from server.errors import FieldViolation, InvalidArgument
from server.recordings.service import RecordingService


@dataclass(frozen=True)
class Export:
    filename: str
    content_type: str
    chunks: AsyncIterator[bytes]


@dataclass
class Reports:
    figures: Figures
    schedules: ScheduleStore
    runner: ReportRunner

    @classmethod
    def build(
        cls,
        sessions: Sessions,
        figures: Figures,
        *,
        fence: Fence | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> Reports:
        return cls(
            figures,
            ScheduleStore(sessions, clock),
            ReportRunner(sessions, figures, fence=fence, clock=clock),
        )

    async def export(
        self,
        kind: ReportKind | None,
        fmt: ReportFormat | None,
        start: datetime | None,
        end: datetime | None,
        camera_ids: Sequence[str],
    ) -> Export:
        """The report's name, type and bytes to come; every problem of the request at once as
        InvalidArgument before the first byte."""
        violations: list[FieldViolation] = []
        if kind is None:
            violations.append(FieldViolation("kind", "is required: CAMERA_PERFORMANCE or STORAGE"))
        if fmt is None:
            violations.append(FieldViolation("format", "is required: CSV, XLSX or PDF"))
        if len(camera_ids) > MAX_CAMERAS:
            violations.append(
                FieldViolation(
                    "camera_ids",
                    f"names {len(camera_ids):,} cameras; at most {MAX_CAMERAS} "
                    "(leave it empty for every camera)",
                )
            )
        for index, camera_id in enumerate(camera_ids[:MAX_CAMERAS]):
            try:
                require_id(camera_id, f"camera_ids[{index}]")
            except InvalidArgument as error:
                violations.extend(error.violations)
        try:
            window = check_window(start, end, None)
        except InvalidArgument as error:
            violations.extend(error.violations)
        if violations:
            message = "; ".join(f"{v.field} {v.description}" for v in violations)
            raise InvalidArgument(message, violations=violations)
        assert kind is not None and fmt is not None
        report = await build_report(self.figures, kind, window, list(dict.fromkeys(camera_ids)))
        return Export(
            filename(kind, fmt, window.start, window.end),
            CONTENT_TYPES[fmt],
            report_chunks(report, fmt),
        )


def report_schedule_job(sessions: Sessions, fence: Fence) -> ReportRunner:
    """The leader's runner of due schedules (its `run` is the job), reading the figures as
    AnalyticsService does."""
    figures = DomainFigures(sessions, RecordingService(sessions).timeline)
    return ReportRunner(sessions, figures, fence=fence)
