"""adaptive ladder: a camera's own live ladder (empty: the streaming settings' default)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 03:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch: SQLite cannot alter tables in place.
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(sa.Column("live_ladder", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.drop_column("live_ladder")
