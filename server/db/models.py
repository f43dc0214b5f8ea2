"""All tables. One place, so migrations and reviews see the whole schema at once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from server.db.types import UTCDateTime

# Named constraints so Alembic migrations are deterministic on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    """A random UUID as text: portable across backends and safe to show in URLs."""
    return str(uuid.uuid4())


def utcnow() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base with the naming convention."""

    metadata = MetaData(naming_convention=NAMING)


class UserRow(Base):
    """A person or machine account."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64))
    # Lower-cased username: uniqueness is case-insensitive on every backend.
    username_key: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RefreshTokenRow(Base):
    """One issued refresh token. Tokens of one login share a family; reuse revokes the family."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    family_id: Mapped[str] = mapped_column(String(36), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    source_address: Mapped[str] = mapped_column(String(64), default="")


class ApiTokenRow(Base):
    """A long-lived integration credential. Only a hash of the secret is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    owner_user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    allowed_cidrs: Mapped[list[str]] = mapped_column(JSON, default=list)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(36), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_address: Mapped[str] = mapped_column(String(64), default="")


class SecretRow(Base):
    """A named server-wide secret (e.g. the playback URL key), made once, shared by replicas."""

    __tablename__ = "secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SigningKeyRow(Base):
    """HMAC keys for access tokens, shared by every replica; `kid` names the key in each JWT."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Retired keys no longer sign; they verify until every token they signed has expired.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


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


class AuditLogRow(Base):
    """One audit record. Append-only; the integer id orders records written in the same instant."""

    __tablename__ = "audit_logs"
    __table_args__ = (Index("ix_audit_logs_time_id", "time", "id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(200), default="")
    actor_id: Mapped[str] = mapped_column(String(36), default="")
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(200), default="")
    outcome: Mapped[str] = mapped_column(String(16), default="success")
    source_address: Mapped[str] = mapped_column(String(64), default="")
    method: Mapped[str] = mapped_column(String(200), default="")
    details: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


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


class EventRow(Base):
    """One WatchEvents event, written in the transaction of the change it reports (the outbox),
    kept so a watcher can resume after a restart and relayed to Redis when that is configured.

    Revisions come from `EventCounterRow` (strictly increasing, gap-free), so the key has no
    default.
    """

    __tablename__ = "events"

    # BIGINT on PostgreSQL; INTEGER on SQLite, where only that spelling is the 64-bit rowid.
    revision: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    kind: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    # Set by the database, so the outbox's INSERT names only what it knows.
    create_time: Mapped[datetime] = mapped_column(
        UTCDateTime, server_default=text("CURRENT_TIMESTAMP")
    )


class EventCounterRow(Base):
    """The newest event revision handed out (one row). A transaction that writes events raises
    it by as many as it writes, just before it commits; the row lock that takes makes event
    writers commit in revision order (server/db/outbox.py says why that matters)."""

    __tablename__ = "event_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    revision: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))


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


class PlacementRow(Base):
    """One placement decision: a camera put on, moved to or taken off a node, and why."""

    __tablename__ = "placements"
    __table_args__ = (Index("ix_placements_camera_time", "camera_id", "time"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    camera_id: Mapped[str] = mapped_column(String(36))
    from_node_id: Mapped[str] = mapped_column(String(36), default="")
    to_node_id: Mapped[str] = mapped_column(String(36), default="")
    # placed, node_lost, drain, rebalance, selector, unplaced, published, handover_done
    reason: Mapped[str] = mapped_column(String(24))
    message: Mapped[str] = mapped_column(Text, default="")
    epoch: Mapped[int] = mapped_column(BigInteger, default=0)
    time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LeaderRow(Base):
    """The fleet's leader (server/leader/): who runs the singleton jobs, under which epoch.
    Every leader-only write checks the epoch in its own transaction, so a deposed leader's
    writes fail."""

    __tablename__ = "leader"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    epoch: Mapped[int] = mapped_column(BigInteger, default=0)
    holder: Mapped[str] = mapped_column(String(200), default="")
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
