"""Running report schedules: the leader's job runs each enabled schedule once its
next_run_time has come (daily 00:00 UTC, weekly Monday 00:00 UTC), and RunReportSchedule runs
one at once. A run renders the report of the period before, mails it as an attachment through
the schedule's e-mail channel (the alerts' SMTP sender) and records the outcome: last_run_time,
and last_error as a sentence ("" when mailed).

A due schedule is claimed first (its next_run_time moved on, in a fenced transaction), then
mailed: a leader that dies mid-send loses that one report rather than mailing it twice. A leader
back after days away sends the latest period's report once, not one per missed period."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts.channel_config import channel_of
from server.alerts.senders import SendResult
from server.alerts.senders.email import Attachment, send_with_attachments
from server.analytics.ranges import check_window
from server.analytics.reports.build import TITLES, build_report
from server.analytics.reports.figures import Figures
from server.analytics.reports.rows import CONTENT_TYPES, filename
from server.analytics.reports.schedule import (
    ReportSchedule,
    next_run,
    period_before,
)
from server.analytics.reports.schedules_store import schedule_of
from server.analytics.reports.stream import report_bytes
from server.common.tasks import raise_if_cancelling
from server.db.engine import Sessions
from server.db.models import ChannelRow, ReportScheduleRow, new_id, utcnow
from server.errors import NotFound

log = logging.getLogger(__name__)

Fence = Callable[[AsyncSession], Awaitable[int]]
Mailer = Callable[..., Awaitable[SendResult]]
# The job looks for due schedules at least this often (a schedule created for the next
# midnight is found within this of it).
POLL_S = 30.0


class ReportRunner:
    """Runs schedules: `run()` is the leader's job, `run_now(id)` RunReportSchedule's."""

    def __init__(
        self,
        sessions: Sessions,
        figures: Figures,
        *,
        fence: Fence | None = None,
        clock: Callable[[], datetime] = utcnow,
        mailer: Mailer = send_with_attachments,
        poll_s: float = POLL_S,
    ) -> None:
        self._sessions = sessions
        self._figures = figures
        self._fence = fence
        self._clock = clock
        self._mail = mailer
        self._poll_s = poll_s

    async def run(self) -> None:
        """The leader's job: run what is due, then wait for the next due time (at most
        poll_s)."""
        while True:
            raise_if_cancelling()
            try:
                await self.run_due()
            except Exception:
                raise_if_cancelling()
                log.exception("running the due report schedules failed; trying again soon")
            await asyncio.sleep(self._poll_s)

    async def run_due(self) -> list[ReportSchedule]:
        """Run every enabled schedule whose time has come; returns them as recorded after."""
        now = self._clock()
        claimed = await self._claim_due(now)
        done = []
        for schedule in claimed:
            done.append(await self._run(schedule, now))
        return done

    async def run_now(self, schedule_id: str) -> ReportSchedule:
        """Build and mail `schedule_id`'s report of the last period now, as the schedule would
        (its next run stays as it was)."""
        async with self._sessions() as session:
            row = await session.get(ReportScheduleRow, schedule_id)
        if row is None:
            raise NotFound(f"report schedule {schedule_id} does not exist")
        return await self._run(schedule_of(row), self._clock())

    async def _claim_due(self, now: datetime) -> list[ReportSchedule]:
        async with self._sessions.begin() as session:
            if self._fence is not None:
                await self._fence(session)
            rows = (
                await session.scalars(
                    select(ReportScheduleRow)
                    .where(ReportScheduleRow.enabled.is_(True))
                    .where(ReportScheduleRow.next_run_time <= now)
                    .order_by(ReportScheduleRow.next_run_time)
                    .with_for_update()
                )
            ).all()
            claimed = []
            for row in rows:
                claimed.append(schedule_of(row))
                assert claimed[-1].period is not None
                row.next_run_time = next_run(claimed[-1].period, now)
            return claimed

    async def _run(self, schedule: ReportSchedule, now: datetime) -> ReportSchedule:
        error = await self._mail_report(schedule, now)
        if error:
            log.warning("report schedule %s (%s): %s", schedule.name, schedule.id, error)
        async with self._sessions.begin() as session:
            row = await session.get(ReportScheduleRow, schedule.id, with_for_update=True)
            if row is None:  # deleted while it ran
                return schedule
            row.last_run_time = now
            row.last_error = error
            return schedule_of(row)

    async def _mail_report(self, schedule: ReportSchedule, now: datetime) -> str:
        """ "" when the SMTP server took the report; else why not, as a sentence."""
        assert schedule.period and schedule.kind and schedule.format
        async with self._sessions() as session:
            channel_row = await session.get(ChannelRow, schedule.channel_id)
        if channel_row is None:
            return f"The channel {schedule.channel_id} no longer exists; choose another."
        start, end = period_before(schedule.period, now)
        try:
            window = check_window(start, end, None)
            report = await build_report(
                self._figures, schedule.kind, window, list(schedule.camera_ids)
            )
            data = await report_bytes(report, schedule.format)
        except Exception as error:  # the outcome is recorded; the job goes on with the next
            raise_if_cancelling()
            log.exception("report schedule %s: the report could not be built", schedule.id)
            return f"The report could not be built: {error}."
        name = filename(schedule.kind, schedule.format, start, end)
        title = TITLES[schedule.kind]
        day = timedelta(days=1)
        last_day = (end - day).date().isoformat()
        span = start.date().isoformat() + ("" if end - start == day else f" to {last_day}")
        result = await self._mail(
            channel_of(channel_row),
            f"{title} report, {span} ({schedule.name})",
            f"{title} of {span} (UTC), as scheduled in camfleet by {schedule.name!r}: "
            f"attached, {name}.\n",
            [Attachment(name, CONTENT_TYPES[schedule.format], data)],
            message_id=f"report-{schedule.id}-{new_id()}",
        )
        if result.ok:
            return ""
        sentence = result.error or "the SMTP server did not take the report"
        return sentence[0].upper() + sentence[1:] + ("" if sentence.endswith(".") else ".")
