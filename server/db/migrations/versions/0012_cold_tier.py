"""cold tier: where a segment moved to object storage lives (bucket and key)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 03:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows before the cold tier are on a node's disks: empty bucket and key.
    with op.batch_alter_table("recordings") as batch:
        batch.add_column(
            sa.Column("object_bucket", sa.String(length=63), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("object_key", sa.String(length=1024), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("recordings") as batch:
        batch.drop_column("object_key")
        batch.drop_column("object_bucket")
