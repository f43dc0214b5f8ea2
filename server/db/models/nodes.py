"""Nodes (streaming hosts), the join tokens that register them and the stream events they send."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db.models.base import Base, new_id, utcnow
from server.db.types import UTCDateTime


class NodeRow(Base):
    """A streaming host running a node agent. Live facts (metrics, heartbeats) are in presence;
    this row holds identity, desired state and the last state the control plane decided."""

    __tablename__ = "nodes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(100), unique=True)
    # SHA-256 of the secret part of the node credential `cfn_<id>_<secret>`.
    credential_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="offline")
    state_reason: Mapped[str] = mapped_column(Text, default="")
    state_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cordoned: Mapped[bool] = mapped_column(Boolean, default=False)
    draining: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[str] = mapped_column(String(64), default="")
    rtmp_url: Mapped[str] = mapped_column(String(500), default="")
    http_url: Mapped[str] = mapped_column(String(500), default="")
    capacity: Mapped[int] = mapped_column(Integer, default=0)
    # CPU cores the agent may use (0: not said); the live ladders' transcoding is placed
    # against them (server/placement/cost.py).
    cpu_cores: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Written when the node connects and at most every few seconds after; presence has the rest.
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The desired-state version sent to the agent, and a hash of its content (a new version is
    # issued only when the content changes).
    assignment_version: Mapped[int] = mapped_column(BigInteger, default=0)
    assignment_hash: Mapped[str] = mapped_column(String(64), default="")
    acked_assignment_version: Mapped[int] = mapped_column(BigInteger, default=0)
    join_token_id: Mapped[str] = mapped_column(String(36), default="")
    # What cameras' node selectors match (set at registration or by UpdateNode).
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


class JoinTokenRow(Base):
    """Lets `max_uses` new agents register until it expires or is revoked."""

    __tablename__ = "join_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    description: Mapped[str] = mapped_column(String(500), default="")
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    max_uses: Mapped[int] = mapped_column(Integer, default=1)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by: Mapped[str] = mapped_column(String(36), default="")


class StreamEventRow(Base):
    """One stream event as a node reported it, stored once by the agent's event id."""

    __tablename__ = "stream_events"
    __table_args__ = (Index("ix_stream_events_camera_time", "camera_id", "time"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(36), index=True)
    camera_id: Mapped[str] = mapped_column(String(36), default="")
    type: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, default="")
    remote_address: Mapped[str] = mapped_column(String(64), default="")
    time: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
