"""analytics: the interval running at each rolled midnight (camera_days.midnight_*) and the
stored gaps' seconds by cause per camera-day (camera_gap_days)

Backfill: each existing camera_days row gets the camera's last interval starting before the
day's end (one indexed lookup a row, by day). The gap rollup of the days already rolled is the
compaction job's own: the rollup cursor is set back to the first day a stored gap touches, so
the job rolls those days again (7 a run); reads take the days above the cursor from the fine
tables meanwhile, so no answer changes.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 09:30:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

import server.db.types

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def upgrade() -> None:
    utc = server.db.types.UTCDateTime(timezone=True)
    with op.batch_alter_table("camera_days", schema=None) as batch_op:
        batch_op.add_column(sa.Column("midnight_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("midnight_state", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("midnight_start", utc, nullable=True))
        batch_op.add_column(sa.Column("midnight_end", utc, nullable=True))
    op.create_table(
        "camera_gap_days",
        sa.Column("camera_id", sa.String(length=36), nullable=False),
        sa.Column("day", utc, nullable=False),
        sa.Column("cause", sa.String(length=24), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("began", sa.Integer(), nullable=False),
        sa.Column("carried", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("camera_id", "day", "cause", name=op.f("pk_camera_gap_days")),
    )
    with op.batch_alter_table("camera_gap_days", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_camera_gap_days_day"), ["day"], unique=False)
    _backfill(utc)


def _backfill(utc: sa.types.TypeEngine[datetime]) -> None:
    bind = op.get_bind()
    days = sa.table(
        "camera_days",
        sa.column("camera_id", sa.String),
        sa.column("day", utc),
        sa.column("midnight_id", sa.String),
        sa.column("midnight_state", sa.String),
        sa.column("midnight_start", utc),
        sa.column("midnight_end", utc),
    )
    si = sa.table(
        "state_intervals",
        sa.column("id", sa.String),
        sa.column("subject_kind", sa.String),
        sa.column("subject_id", sa.String),
        sa.column("state", sa.String),
        sa.column("start_time", utc),
        sa.column("end_time", utc),
    )
    for (day,) in bind.execute(sa.select(days.c.day).distinct()).all():
        last = (
            sa.select(si.c.id)
            .where(
                si.c.subject_kind == "camera",
                si.c.subject_id == days.c.camera_id,
                si.c.start_time < sa.literal(day + timedelta(days=1), utc),
            )
            .order_by(si.c.start_time.desc())
            .limit(1)
            .scalar_subquery()
        )
        bind.execute(sa.update(days).where(days.c.day == day).values(midnight_id=last))

    def of(column: sa.ColumnClause[object]) -> sa.ScalarSelect[object]:
        return sa.select(column).where(si.c.id == days.c.midnight_id).scalar_subquery()

    bind.execute(
        sa.update(days)
        .where(days.c.midnight_id.is_not(None))
        .values(
            midnight_state=of(si.c.state),
            midnight_start=of(si.c.start_time),
            midnight_end=of(si.c.end_time),
        )
    )
    # The days a stored gap touches are rolled again by the job (see the docstring).
    gaps = sa.table("recording_gaps", sa.column("start_time", utc))
    cursors = sa.table("history_cursors", sa.column("name", sa.String), sa.column("revision"))
    first_gap = bind.execute(sa.select(sa.func.min(gaps.c.start_time))).scalar()
    if first_gap is None:
        return
    day_s = int((first_gap - _EPOCH).total_seconds()) // 86_400 * 86_400
    bind.execute(
        sa.update(cursors)
        .where(cursors.c.name == "analytics_days", cursors.c.revision > day_s)
        .values(revision=day_s)
    )


def downgrade() -> None:
    with op.batch_alter_table("camera_gap_days", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_camera_gap_days_day"))
    op.drop_table("camera_gap_days")
    with op.batch_alter_table("camera_days", schema=None) as batch_op:
        batch_op.drop_column("midnight_end")
        batch_op.drop_column("midnight_start")
        batch_op.drop_column("midnight_state")
        batch_op.drop_column("midnight_id")
