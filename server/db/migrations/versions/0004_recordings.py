"""recordings, recording gaps, applied recording events, pending segment deletions; camera
recording state, profile and retention

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 03:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("camera_id", sa.String(length=36), nullable=False),
        sa.Column("node_id", sa.String(length=36), nullable=False),
        sa.Column("start_time", server.db.types.UTCDateTime(), nullable=False),
        sa.Column("end_time", server.db.types.UTCDateTime(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("tier", sa.String(length=8), nullable=False),
        sa.Column("profile", sa.String(length=16), nullable=False),
        sa.Column("container", sa.String(length=16), nullable=False),
        sa.Column("recovered", sa.Boolean(), nullable=False),
        sa.Column("create_time", server.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recordings")),
    )
    op.create_index(
        "ix_recordings_camera_start",
        "recordings",
        ["camera_id", "start_time", "id"],
        unique=False,
    )
    op.create_index(op.f("ix_recordings_node_id"), "recordings", ["node_id"], unique=False)
    op.create_table(
        "recording_gaps",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("camera_id", sa.String(length=36), nullable=False),
        sa.Column("node_id", sa.String(length=36), nullable=False),
        sa.Column("start_time", server.db.types.UTCDateTime(), nullable=False),
        sa.Column("end_time", server.db.types.UTCDateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("create_time", server.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_gaps")),
    )
    op.create_index(
        "ix_recording_gaps_camera_start",
        "recording_gaps",
        ["camera_id", "start_time"],
        unique=False,
    )
    op.create_table(
        "recording_events",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("node_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("camera_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("time", server.db.types.UTCDateTime(), nullable=False),
        sa.Column("received_at", server.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_events")),
    )
    op.create_index(
        "ix_recording_events_camera_time", "recording_events", ["camera_id", "time"], unique=False
    )
    op.create_table(
        "pending_segment_deletions",
        sa.Column("recording_id", sa.String(length=36), nullable=False),
        sa.Column("node_id", sa.String(length=36), nullable=False),
        sa.Column("camera_id", sa.String(length=36), nullable=False),
        sa.Column("requested_at", server.db.types.UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", server.db.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("recording_id", name=op.f("pk_pending_segment_deletions")),
    )
    op.create_index(
        op.f("ix_pending_segment_deletions_node_id"),
        "pending_segment_deletions",
        ["node_id"],
        unique=False,
    )
    # Server defaults fill the existing cameras; new rows get the models' Python defaults.
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(
            sa.Column(
                "recording_state", sa.String(length=16), nullable=False, server_default="idle"
            )
        )
        batch.add_column(
            sa.Column("recording_state_reason", sa.Text(), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column(
                "recording_profile", sa.String(length=16), nullable=False, server_default="original"
            )
        )
        batch.add_column(
            sa.Column("retention_max_age_s", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("retention_max_bytes", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        for column in (
            "retention_max_bytes",
            "retention_max_age_s",
            "recording_profile",
            "recording_state_reason",
            "recording_state",
        ):
            batch.drop_column(column)
    op.drop_index(
        op.f("ix_pending_segment_deletions_node_id"), table_name="pending_segment_deletions"
    )
    op.drop_table("pending_segment_deletions")
    op.drop_index("ix_recording_events_camera_time", table_name="recording_events")
    op.drop_table("recording_events")
    op.drop_index("ix_recording_gaps_camera_start", table_name="recording_gaps")
    op.drop_table("recording_gaps")
    op.drop_index(op.f("ix_recordings_node_id"), table_name="recordings")
    op.drop_index("ix_recordings_camera_start", table_name="recordings")
    op.drop_table("recordings")
