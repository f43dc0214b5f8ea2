"""nodes, join tokens, stream events; cameras.node_id

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "nodes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_key", sa.String(length=100), nullable=False),
        sa.Column("credential_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=False),
        sa.Column("state_changed_at", server.db.types.UTCDateTime(), nullable=False),
        sa.Column("cordoned", sa.Boolean(), nullable=False),
        sa.Column("draining", sa.Boolean(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("rtmp_url", sa.String(length=500), nullable=False),
        sa.Column("http_url", sa.String(length=500), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("created_at", server.db.types.UTCDateTime(), nullable=False),
        sa.Column("last_heartbeat_at", server.db.types.UTCDateTime(), nullable=True),
        sa.Column("assignment_version", sa.BigInteger(), nullable=False),
        sa.Column("assignment_hash", sa.String(length=64), nullable=False),
        sa.Column("acked_assignment_version", sa.BigInteger(), nullable=False),
        sa.Column("join_token_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nodes")),
        sa.UniqueConstraint("name_key", name=op.f("uq_nodes_name_key")),
    )
    op.create_table(
        "join_tokens",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("expires_at", server.db.types.UTCDateTime(), nullable=False),
        sa.Column("created_at", server.db.types.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", server.db.types.UTCDateTime(), nullable=True),
        sa.Column("created_by", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_join_tokens")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_join_tokens_secret_hash")),
    )
    op.create_table(
        "stream_events",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("node_id", sa.String(length=36), nullable=False),
        sa.Column("camera_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("remote_address", sa.String(length=64), nullable=False),
        sa.Column("time", server.db.types.UTCDateTime(), nullable=False),
        sa.Column("received_at", server.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stream_events")),
    )
    op.create_index(
        "ix_stream_events_camera_time", "stream_events", ["camera_id", "time"], unique=False
    )
    op.create_index(op.f("ix_stream_events_node_id"), "stream_events", ["node_id"], unique=False)
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(sa.Column("node_id", sa.String(length=36), nullable=True))
        batch.create_index(batch.f("ix_cameras_node_id"), ["node_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.drop_index(batch.f("ix_cameras_node_id"))
        batch.drop_column("node_id")
    op.drop_index(op.f("ix_stream_events_node_id"), table_name="stream_events")
    op.drop_index("ix_stream_events_camera_time", table_name="stream_events")
    op.drop_table("stream_events")
    op.drop_table("join_tokens")
    op.drop_table("nodes")
