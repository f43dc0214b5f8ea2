"""Scheduled reports (server/analytics/reports/): what to report, how often, and where it is
mailed (an e-mail channel of AlertService), with the outcome of the last run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db.models.base import Base, new_id, utcnow
from server.db.types import UTCDateTime


class ReportScheduleRow(Base):
    """A report mailed every day (00:00 UTC, about the day before) or every week (Monday
    00:00 UTC, about the week before). `next_run_time` is when the leader runs it next."""

    __tablename__ = "report_schedules"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # camera_performance, storage
    kind: Mapped[str] = mapped_column(String(32))
    # csv, xlsx, pdf
    format: Mapped[str] = mapped_column(String(8))
    # daily, weekly
    period: Mapped[str] = mapped_column(String(8))
    channel_id: Mapped[str] = mapped_column(String(36), index=True)
    # Empty: every camera.
    camera_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    last_run_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    next_run_time: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # "" when the last run was mailed; else why not, as a sentence.
    last_error: Mapped[str] = mapped_column(Text, default="")
    create_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    update_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
