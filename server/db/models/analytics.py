"""History for analytics (server/analytics/): what the fleet was, not only what it is.

- `state_intervals`: each camera's status and each node's state as intervals, the open one with
  no end. Uptime, outages and MTBF are sums over these, clipped to the asked range.
- `coverage_hourly`: per camera and hour, the seconds it should have recorded (recording on
  and the camera meant to be up) and the seconds its segments cover, each second counted once.
- `storage_hourly`: bytes and segments written per camera, node and tier per hour (growth).
- `disk_samples`: each node's disk per tier, one sample per hour (the forecast's input).
- `health_samples`: stream health (bitrate, frame rate, viewers) in 1-minute buckets kept 30
  days and 1-hour buckets kept a year (`resolution_s` 60 or 3600).
- `camera_days`, `storage_daily`: daily rollups of the above per camera (and node and tier),
  kept by the compaction job for closed days, so long ranges read a row a camera-day.
- `history_cursors`: how far each writer that follows the event log has got, so a leader that
  takes over goes on from there and nothing is counted twice.

Hour and bucket columns hold the bucket's start (UTC, truncated)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db.models.base import Base, new_id, utcnow
from server.db.types import UTCDateTime


class StateIntervalRow(Base):
    """One stretch of one state of a camera or a node: [start_time, end_time), open when
    end_time is NULL (at most one open interval per subject)."""

    __tablename__ = "state_intervals"
    __table_args__ = (
        Index("ix_state_intervals_subject", "subject_kind", "subject_id", "start_time"),
        Index("ix_state_intervals_range", "subject_kind", "start_time", "end_time"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # "camera" or "node"
    subject_kind: Mapped[str] = mapped_column(String(8))
    subject_id: Mapped[str] = mapped_column(String(36))
    # The lower-case status of the camera (online, offline, error, ...) or node state.
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    start_time: Mapped[datetime] = mapped_column(UTCDateTime)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CoverageHourRow(Base):
    __tablename__ = "coverage_hourly"

    camera_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True, index=True)
    expected_s: Mapped[float] = mapped_column(Float, default=0.0)
    recorded_s: Mapped[float] = mapped_column(Float, default=0.0)


class StorageHourRow(Base):
    __tablename__ = "storage_hourly"

    camera_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tier: Mapped[str] = mapped_column(String(8), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True, index=True)
    bytes_written: Mapped[int] = mapped_column(BigInteger, default=0)
    segments: Mapped[int] = mapped_column(Integer, default=0)


class DiskSampleRow(Base):
    __tablename__ = "disk_samples"

    node_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tier: Mapped[str] = mapped_column(String(8), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    total_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    free_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    # What camfleet's recordings occupy on it (the rest is other use of the disk).
    recordings_bytes: Mapped[int] = mapped_column(BigInteger, default=0)


class HealthSampleRow(Base):
    __tablename__ = "health_samples"
    __table_args__ = (Index("ix_health_samples_bucket", "resolution_s", "bucket_start"),)

    camera_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    resolution_s: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    # How many reports the bucket aggregates (weights for merging and compaction).
    samples: Mapped[int] = mapped_column(Integer, default=0)
    bitrate_kbps_avg: Mapped[float] = mapped_column(Float, default=0.0)
    bitrate_kbps_min: Mapped[float] = mapped_column(Float, default=0.0)
    fps_avg: Mapped[float] = mapped_column(Float, default=0.0)
    fps_min: Mapped[float] = mapped_column(Float, default=0.0)
    viewers_max: Mapped[int] = mapped_column(Integer, default=0)


class HistoryCursorRow(Base):
    __tablename__ = "history_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)
    update_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CameraDayRow(Base):
    """Per camera and closed UTC day, the sums uptime and coverage read for whole days
    (server/analytics/history/rollups.py): up and known seconds within the day, the outages
    (stretches not ONLINE) that began that day, and coverage_hourly's seconds summed.

    An outage that began that day and went on past midnight is not in outage_s or
    longest_outage_s: its start is `cross_start` and its end, once known, `cross_end`, so a
    read takes its full length once (clipped to the read's range).

    `midnight_*` is the camera's interval running at the day's end (the last one starting before
    the next midnight), so a read whose edge starts on the next day takes it from here instead
    of looking it up per camera; its end is filled once it closes (NULL: open when last seen,
    read through `midnight_id` then)."""

    __tablename__ = "camera_days"

    camera_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    day: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True, index=True)
    up_s: Mapped[float] = mapped_column(Float, default=0.0)
    known_s: Mapped[float] = mapped_column(Float, default=0.0)
    # Every outage that began in the day (those crossing midnight included).
    outage_starts: Mapped[int] = mapped_column(Integer, default=0)
    # Total and longest of the outages that began and ended within the day.
    outage_s: Mapped[float] = mapped_column(Float, default=0.0)
    longest_outage_s: Mapped[float] = mapped_column(Float, default=0.0)
    cross_start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    cross_end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expected_s: Mapped[float] = mapped_column(Float, default=0.0)
    recorded_s: Mapped[float] = mapped_column(Float, default=0.0)
    midnight_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    midnight_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    midnight_start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    midnight_end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CameraGapDayRow(Base):
    """Per camera, closed UTC day and cause, the seconds the stored gaps lost that day (as
    GetCoverage counts them: server/analytics/coverage_gaps.py), `began` the gaps whose lost
    time began that day and `carried` those that began before it and lost time in it (a read
    counts a gap in the part of its range where its lost time begins)."""

    __tablename__ = "camera_gap_days"

    camera_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    day: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True, index=True)
    cause: Mapped[str] = mapped_column(String(24), primary_key=True)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    began: Mapped[int] = mapped_column(Integer, default=0)
    carried: Mapped[int] = mapped_column(Integer, default=0)


class StorageDayRow(Base):
    """storage_hourly summed per closed UTC day."""

    __tablename__ = "storage_daily"

    camera_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tier: Mapped[str] = mapped_column(String(8), primary_key=True)
    day: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True, index=True)
    bytes_written: Mapped[int] = mapped_column(BigInteger, default=0)
    segments: Mapped[int] = mapped_column(Integer, default=0)
