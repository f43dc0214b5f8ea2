"""Cameras, their desired state and placement, and their labels."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db.models.base import Base, new_id, utcnow
from server.db.types import UTCDateTime


class CameraRow(Base):
    """A camera and its desired state."""

    __tablename__ = "cameras"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(String(200), default="")
    ingest_mode: Mapped[str] = mapped_column(String(8), default="push")
    source_url: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    recording_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    stream_key: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="offline")
    status_reason: Mapped[str] = mapped_column(Text, default="")
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The node the camera streams to (where it last published). No foreign key: deleting a node
    # clears it in the same transaction, and a camera outlives its nodes.
    node_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    # The recorder as its node reports it (idle, recording, error) and why, for ERROR.
    recording_state: Mapped[str] = mapped_column(String(16), default="idle")
    recording_state_reason: Mapped[str] = mapped_column(Text, default="")
    # original (stream copy) or low/medium/high/ultra (re-encoded on the node).
    recording_profile: Mapped[str] = mapped_column(String(16), default="original")
    # Retention on the node; 0 means no limit.
    retention_max_age_s: Mapped[int] = mapped_column(BigInteger, default=0)
    retention_max_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    # Placement (server/placement/): pull cameras go only to nodes whose labels hold every pair
    # of the selector. The epoch is the placement's fencing token, +1 on every move; the
    # handover node is the one taking over in a make-before-break move (both run the camera
    # until the new one is ONLINE); the reason says why a pull camera waits for a node.
    node_selector: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    placement_epoch: Mapped[int] = mapped_column(BigInteger, default=0)
    handover_node_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    placement_reason: Mapped[str] = mapped_column(Text, default="")
    # The live ladder's rungs (server/common/ladder.py); empty: the streaming settings' default.
    live_ladder: Mapped[list[str]] = mapped_column(JSON, default=list)

    labels: Mapped[list[CameraLabelRow]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="CameraLabelRow.key"
    )


class CameraLabelRow(Base):
    """One key=value label of a camera (a table, not JSON, so filters are portable SQL)."""

    __tablename__ = "camera_labels"

    camera_id: Mapped[str] = mapped_column(
        ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(63), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), default="")
