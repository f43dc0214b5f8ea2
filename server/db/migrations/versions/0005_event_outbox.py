"""event counter: event revisions are taken in the transaction of the change (the outbox)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 12:45:00
"""

import time
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    counter = op.create_table(
        "event_counter",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("revision", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_counter")),
    )
    # Continue right after the newest stored event (revisions stay gap-free). An empty log
    # starts from a time-based base (milliseconds x 1024), never 0 ("from now"), and above what
    # an older Redis counter handed out: a stale resume point gets REVISION_COMPACTED instead
    # of a silent gap.
    newest = op.get_bind().scalar(sa.text("SELECT max(revision) FROM events"))
    start = int(newest) if newest is not None else int(time.time() * 1000) << 10
    op.bulk_insert(counter, [{"id": 1, "revision": start}])


def downgrade() -> None:
    op.drop_table("event_counter")
