"""settings groups, their versions and history

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 23:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The groups are stored from the flags by the first control plane that starts on this
    # schema (server/settings/store.py), not here: a migration does not know the flags.
    op.create_table(
        "settings_groups",
        sa.Column("group", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("update_time", server.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("group", name=op.f("pk_settings_groups")),
    )
    op.create_table(
        "settings_history",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("group", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("change_time", server.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settings_history")),
    )
    with op.batch_alter_table("settings_history", schema=None) as batch_op:
        batch_op.create_index("ix_settings_history_group_id", ["group", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("settings_history", schema=None) as batch_op:
        batch_op.drop_index("ix_settings_history_group_id")
    op.drop_table("settings_history")
    op.drop_table("settings_groups")
