"""analytics rollups: camera_days and storage_daily (issue 14's daily rollups)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 03:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    utc = server.db.types.UTCDateTime(timezone=True)
    op.create_table(
        "camera_days",
        sa.Column("camera_id", sa.String(length=36), nullable=False),
        sa.Column("day", utc, nullable=False),
        sa.Column("up_s", sa.Float(), nullable=False),
        sa.Column("known_s", sa.Float(), nullable=False),
        sa.Column("outage_starts", sa.Integer(), nullable=False),
        sa.Column("outage_s", sa.Float(), nullable=False),
        sa.Column("longest_outage_s", sa.Float(), nullable=False),
        sa.Column("cross_start", utc, nullable=True),
        sa.Column("cross_end", utc, nullable=True),
        sa.Column("expected_s", sa.Float(), nullable=False),
        sa.Column("recorded_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("camera_id", "day", name=op.f("pk_camera_days")),
    )
    with op.batch_alter_table("camera_days", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_camera_days_day"), ["day"], unique=False)
        # The outages across midnight whose end is still to fill.
        batch_op.create_index(
            batch_op.f("ix_camera_days_cross_start"), ["cross_start"], unique=False
        )
    op.create_table(
        "storage_daily",
        sa.Column("camera_id", sa.String(length=36), nullable=False),
        sa.Column("node_id", sa.String(length=36), nullable=False),
        sa.Column("tier", sa.String(length=8), nullable=False),
        sa.Column("day", utc, nullable=False),
        sa.Column("bytes_written", sa.BigInteger(), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "camera_id", "node_id", "tier", "day", name=op.f("pk_storage_daily")
        ),
    )
    with op.batch_alter_table("storage_daily", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_storage_daily_day"), ["day"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("storage_daily", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_storage_daily_day"))
    op.drop_table("storage_daily")
    with op.batch_alter_table("camera_days", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_camera_days_cross_start"))
        batch_op.drop_index(batch_op.f("ix_camera_days_day"))
    op.drop_table("camera_days")
