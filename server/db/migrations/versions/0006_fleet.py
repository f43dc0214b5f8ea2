"""fleet: camera node selectors, placement epochs and handovers; node labels; placement
history; the leader row; gap causes; segment epochs

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(sa.Column("node_selector", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(
            sa.Column("placement_epoch", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("handover_node_id", sa.String(length=36), nullable=True))
        batch.add_column(
            sa.Column("placement_reason", sa.Text(), nullable=False, server_default="")
        )
        batch.create_index(batch.f("ix_cameras_handover_node_id"), ["handover_node_id"])
    with op.batch_alter_table("nodes") as batch:
        batch.add_column(sa.Column("labels", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("recording_gaps") as batch:
        batch.add_column(
            sa.Column("cause", sa.String(length=24), nullable=False, server_default="unknown")
        )
        batch.add_column(
            sa.Column("to_node_id", sa.String(length=36), nullable=False, server_default="")
        )
    with op.batch_alter_table("recordings") as batch:
        batch.add_column(sa.Column("epoch", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_table(
        "placements",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("camera_id", sa.String(length=36), nullable=False),
        sa.Column("from_node_id", sa.String(length=36), nullable=False),
        sa.Column("to_node_id", sa.String(length=36), nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("time", server.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_placements")),
    )
    op.create_index("ix_placements_camera_time", "placements", ["camera_id", "time"])
    op.create_table(
        "leader",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("since", server.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leader")),
    )


def downgrade() -> None:
    op.drop_table("leader")
    op.drop_index("ix_placements_camera_time", table_name="placements")
    op.drop_table("placements")
    with op.batch_alter_table("recordings") as batch:
        batch.drop_column("epoch")
    with op.batch_alter_table("recording_gaps") as batch:
        batch.drop_column("to_node_id")
        batch.drop_column("cause")
    with op.batch_alter_table("nodes") as batch:
        batch.drop_column("labels")
    with op.batch_alter_table("cameras") as batch:
        batch.drop_index(batch.f("ix_cameras_handover_node_id"))
        batch.drop_column("placement_reason")
        batch.drop_column("handover_node_id")
        batch.drop_column("placement_epoch")
        batch.drop_column("node_selector")
