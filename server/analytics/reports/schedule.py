"""A report schedule (typed) and its calendar: a daily report runs at 00:00 UTC about the day
before, a weekly one on Monday 00:00 UTC about the week before (Monday to Monday)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from server.analytics.reports.rows import ReportFormat, ReportKind


class ReportPeriod(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


LENGTH = {ReportPeriod.DAILY: timedelta(days=1), ReportPeriod.WEEKLY: timedelta(days=7)}


@dataclass
class ReportSchedule:
    id: str
    name: str
    # None only in a request that left it out (the store says which field is missing).
    kind: ReportKind | None
    format: ReportFormat | None
    period: ReportPeriod | None
    channel_id: str
    camera_ids: tuple[str, ...] = ()
    enabled: bool = True
    last_run_time: datetime | None = None
    next_run_time: datetime | None = None
    last_error: str = ""
    create_time: datetime | None = None
    update_time: datetime | None = None


def last_boundary(period: ReportPeriod, now: datetime) -> datetime:
    """The latest run time at or before `now`: today's 00:00 UTC, or this week's Monday's."""
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period is ReportPeriod.DAILY:
        return midnight
    return midnight - timedelta(days=midnight.weekday())


def next_run(period: ReportPeriod, now: datetime) -> datetime:
    """The first run time after `now`."""
    return last_boundary(period, now) + LENGTH[period]


def period_before(period: ReportPeriod, run_time: datetime) -> tuple[datetime, datetime]:
    """The range a run at (or after) `run_time` reports on: the whole day or week before the
    latest boundary."""
    end = last_boundary(period, run_time)
    return end - LENGTH[period], end
