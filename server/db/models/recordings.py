"""The recording index: segments, gaps, applied recorder/segment events and pending deletions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db.models.base import Base, new_id, utcnow
from server.db.types import UTCDateTime


class RecordingRow(Base):
    """One recorded segment, as the node that holds it reported it. The id is the node's."""

    __tablename__ = "recordings"
    # The id too: ListRecordings pages by (start_time, id) straight from the index.
    __table_args__ = (Index("ix_recordings_camera_start", "camera_id", "start_time", "id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # No foreign keys: segments arrive from spools after their camera or node may be gone.
    camera_id: Mapped[str] = mapped_column(String(36))
    node_id: Mapped[str] = mapped_column(String(36), index=True)
    start_time: Mapped[datetime] = mapped_column(UTCDateTime)
    end_time: Mapped[datetime] = mapped_column(UTCDateTime)
    # Media duration as measured by the node (ffprobe), seconds.
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    tier: Mapped[str] = mapped_column(String(8), default="hot")
    profile: Mapped[str] = mapped_column(String(16), default="original")
    container: Mapped[str] = mapped_column(String(16), default="mpegts")
    recovered: Mapped[bool] = mapped_column(Boolean, default=False)
    create_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The placement epoch the node recorded it under.
    epoch: Mapped[int] = mapped_column(BigInteger, default=0)
    # Tier "cold": where its object is (the node's MOVED event says; migration 0012).
    object_bucket: Mapped[str] = mapped_column(String(63), default="")
    object_key: Mapped[str] = mapped_column(String(1024), default="")


class RecordingGapRow(Base):
    """Time a camera should have been recorded and was not, with its cause and the reason a node
    (or the control plane, for a lost node) gave. An open gap (no end) lasts until the camera's
    next segment, on any node (server/recordings/gaps.py)."""

    __tablename__ = "recording_gaps"
    __table_args__ = (Index("ix_recording_gaps_camera_start", "camera_id", "start_time"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    camera_id: Mapped[str] = mapped_column(String(36))
    node_id: Mapped[str] = mapped_column(String(36), default="")
    start_time: Mapped[datetime] = mapped_column(UTCDateTime)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    create_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # node_lost, source_error, recorder_crash, disk_full, camera_stopped or unknown
    # (recording.proto's GapCause), and the node that took the camera over, if any.
    cause: Mapped[str] = mapped_column(String(24), default="unknown")
    to_node_id: Mapped[str] = mapped_column(String(36), default="")


class RecordingEventRow(Base):
    """Every segment and recorder event applied, by the agent's event id, so a replay changes
    nothing. Recorder events keep their state and time: the timeline reads when recording
    stopped on purpose (idle) from them, so a pause is not reported as an unexplained gap."""

    __tablename__ = "recording_events"
    __table_args__ = (Index("ix_recording_events_camera_time", "camera_id", "time"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(36))
    # "segment" or "recorder".
    kind: Mapped[str] = mapped_column(String(16))
    camera_id: Mapped[str] = mapped_column(String(36), default="")
    # Recorder events: the state reported (idle, recording, error).
    state: Mapped[str] = mapped_column(String(16), default="")
    time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PendingSegmentDeletionRow(Base):
    """A segment deleted through the API. Until its node confirms deleting the file, it is
    sent again in every session of that node; afterwards the row stays as a tombstone, so a
    late report of the segment never brings it back into the index."""

    __tablename__ = "pending_segment_deletions"

    recording_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(36), index=True)
    camera_id: Mapped[str] = mapped_column(String(36), default="")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
