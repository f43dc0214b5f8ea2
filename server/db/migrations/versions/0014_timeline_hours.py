"""timeline hours: GetTimeline's hourly rollup of recorded stretches, invalidated by triggers

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 06:20:00

Triggers on `recordings` raise `timeline_hours.version` of the hour a segment starts in whenever
a segment is inserted, deleted or has its camera, node or times changed, whatever code does it
(ingest, DeleteRecording, retention, a spool arriving late), so a rolled hour is never trusted
after its segments changed. The hour is the text "YYYY-MM-DD HH" of the UTC start: on SQLite the
first 13 characters of the stored time (SQLAlchemy stores "YYYY-MM-DD HH:MM:SS.ffffff"; SQLite's
own date functions round to milliseconds, which would put 59:59.9996 in the next hour).
"""

# The SQL below is built from this module's constants only, never from input.
# ruff: noqa: S608

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_HOUR = "substr({}.start_time, 1, 13)"
_PG_HOUR = "to_char({}.start_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')"
_TRIGGERS = (
    "recordings_timeline_insert",
    "recordings_timeline_delete",
    "recordings_timeline_update",
)


def _sqlite_touch(row: str) -> str:
    return (
        "INSERT INTO timeline_hours (camera_id, hour, version, rolled) "
        f"VALUES ({row}.camera_id, {_SQLITE_HOUR.format(row)}, 1, 0) "
        "ON CONFLICT (camera_id, hour) DO UPDATE SET version = timeline_hours.version + 1;"
    )


# Once a transaction raised an hour's version, raising it again changes nothing a reader can
# see; PostgreSQL writes a new row version per update, so a spool of thousands of segments in
# one transaction would leave thousands of dead ones (and its live row pages away from its
# neighbours) for one raise that counts.
_PG_UNRAISED = "{}.xmin::text <> (txid_current() % 4294967296)::text"


def _postgres_touch(rows: str) -> str:
    # DISTINCT: one upsert may not touch a row twice; ORDER BY: concurrent writers lock the
    # hours in one order (no deadlock).
    return (
        "INSERT INTO timeline_hours (camera_id, hour, version, rolled) "
        f"SELECT DISTINCT r.camera_id, {_PG_HOUR.format('r')}, 1, 0 FROM {rows} r ORDER BY 1, 2 "
        "ON CONFLICT (camera_id, hour) DO UPDATE SET version = timeline_hours.version + 1 "
        f"WHERE {_PG_UNRAISED.format('timeline_hours')};"
    )


def upgrade() -> None:
    op.create_table(
        "timeline_hours",
        sa.Column("camera_id", sa.String(length=36), nullable=False),
        sa.Column("hour", sa.String(length=13), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("rolled", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("camera_id", "hour", name=op.f("pk_timeline_hours")),
    )
    op.create_table(
        "timeline_islands",
        sa.Column("camera_id", sa.String(length=36), nullable=False),
        sa.Column("hour", sa.String(length=13), nullable=False),
        sa.Column("start_us", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("end_us", sa.BigInteger(), nullable=False),
        sa.Column("last_start_us", sa.BigInteger(), nullable=False),
        sa.Column("node_id", sa.String(length=36), nullable=False),
        sa.Column("last_node_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("camera_id", "hour", "start_us", name=op.f("pk_timeline_islands")),
    )
    if op.get_bind().dialect.name == "sqlite":
        hour = _SQLITE_HOUR.format("recordings")
        op.execute(
            f"CREATE TRIGGER recordings_timeline_insert AFTER INSERT ON recordings "
            f"BEGIN {_sqlite_touch('NEW')} END"
        )
        op.execute(
            "CREATE TRIGGER recordings_timeline_delete AFTER DELETE ON recordings BEGIN "
            "UPDATE timeline_hours SET version = version + 1 WHERE camera_id = OLD.camera_id "
            f"AND hour = {_SQLITE_HOUR.format('OLD')}; END"
        )
        op.execute(
            "CREATE TRIGGER recordings_timeline_update "
            "AFTER UPDATE OF camera_id, node_id, start_time, end_time ON recordings BEGIN "
            "UPDATE timeline_hours SET version = version + 1 WHERE camera_id = OLD.camera_id "
            f"AND hour = {_SQLITE_HOUR.format('OLD')}; {_sqlite_touch('NEW')} END"
        )
    else:
        hour = _PG_HOUR.format("recordings")
        # Statement triggers with transition tables: a batch of segments costs one upsert.
        op.execute(
            "CREATE FUNCTION timeline_hours_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF TG_OP = 'INSERT' THEN {_postgres_touch('new_rows')} "
            "ELSIF TG_OP = 'DELETE' THEN "
            "UPDATE timeline_hours h SET version = h.version + 1 FROM (SELECT DISTINCT "
            f"o.camera_id, {_PG_HOUR.format('o')} AS hour FROM old_rows o) d "
            f"WHERE h.camera_id = d.camera_id AND h.hour = d.hour AND {_PG_UNRAISED.format('h')}; "
            "ELSE "  # UPDATE, a row at a time (transition tables allow no column list)
            "UPDATE timeline_hours SET version = version + 1 WHERE camera_id = OLD.camera_id "
            f"AND hour = {_PG_HOUR.format('OLD')}; "
            "INSERT INTO timeline_hours (camera_id, hour, version, rolled) "
            f"VALUES (NEW.camera_id, {_PG_HOUR.format('NEW')}, 1, 0) "
            "ON CONFLICT (camera_id, hour) DO UPDATE SET version = timeline_hours.version + 1; "
            "END IF; RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER recordings_timeline_insert AFTER INSERT ON recordings "
            "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
            "EXECUTE FUNCTION timeline_hours_touch()"
        )
        op.execute(
            "CREATE TRIGGER recordings_timeline_delete AFTER DELETE ON recordings "
            "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
            "EXECUTE FUNCTION timeline_hours_touch()"
        )
        op.execute(
            "CREATE TRIGGER recordings_timeline_update "
            "AFTER UPDATE OF camera_id, node_id, start_time, end_time ON recordings "
            "FOR EACH ROW WHEN ((OLD.camera_id, OLD.node_id, OLD.start_time, OLD.end_time) "
            "IS DISTINCT FROM (NEW.camera_id, NEW.node_id, NEW.start_time, NEW.end_time)) "
            "EXECUTE FUNCTION timeline_hours_touch()"
        )
    # The hours of the segments already indexed: never rolled.
    op.execute(
        "INSERT INTO timeline_hours (camera_id, hour, version, rolled) "
        f"SELECT camera_id, {hour}, 1, 0 FROM recordings GROUP BY camera_id, {hour}"
    )


def downgrade() -> None:
    for name in _TRIGGERS:
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON recordings")
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION IF EXISTS timeline_hours_touch()")
    op.drop_table("timeline_islands")
    op.drop_table("timeline_hours")
