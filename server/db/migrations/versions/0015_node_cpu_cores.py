"""node cpu cores: what an agent says it may use, placed against by transcoding cost

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 09:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch: SQLite cannot alter tables in place. 0: not said (an older agent), no core limit.
    with op.batch_alter_table("nodes") as batch:
        batch.add_column(sa.Column("cpu_cores", sa.Float(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("nodes") as batch:
        batch.drop_column("cpu_cores")
