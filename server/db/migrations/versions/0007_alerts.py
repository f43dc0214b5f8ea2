"""alerts: rules, alerts, silences, channels, notification policies, aggregation groups,
the notification queue and delivery log; API token addresses

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_channels",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("pause_reason", sa.Text(), nullable=False),
        sa.Column("pause_time", server.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("last_success_time", server.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_failure_time", server.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("create_time", server.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("update_time", server.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_channels")),
        sa.UniqueConstraint("name", name=op.f("uq_alert_channels_name")),
    )
    op.create_table(
        "alert_groups",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("policy_id", sa.String(length=36), nullable=False),
        sa.Column("group_key", sa.String(length=64), nullable=False),
        sa.Column("group_labels", sa.JSON(), nullable=False),
        sa.Column("due_time", server.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_notify_time", server.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("notified_firing", sa.JSON(), nullable=False),
        sa.Column("create_time", server.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_groups")),
    )
    with op.batch_alter_table("alert_groups", schema=None) as batch_op:
        batch_op.create_index("ix_alert_groups_due", ["due_time"], unique=False)
        batch_op.create_index("uq_alert_groups_policy_key", ["policy_id", "group_key"], unique=True)

    op.create_table(
        "alert_rules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("match_labels", sa.JSON(), nullable=False),
        sa.Column("for_s", sa.Float(), nullable=False),
        sa.Column("keep_firing_s", sa.Float(), nullable=False),
        sa.Column("cooldown_s", sa.Float(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("create_time", server.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("update_time", server.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_alert_rules_name")),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("rule_id", sa.String(length=36), nullable=False),
        sa.Column("rule_name", sa.String(length=100), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("active_time", server.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("firing_time", server.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_time", server.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_true_time", server.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_by", sa.String(length=200), nullable=False),
        sa.Column("acknowledge_time", server.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledge_comment", sa.Text(), nullable=False),
        sa.Column("inhibited_by", sa.String(length=36), nullable=False),
        sa.Column("update_time", server.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_rule_id"), ["rule_id"], unique=False)
        batch_op.create_index("ix_alerts_state_active", ["state", "active_time"], unique=False)
        batch_op.create_index(
            "uq_alerts_open_fingerprint",
            ["rule_id", "fingerprint"],
            unique=True,
            postgresql_where=sa.text("state <> 'resolved'"),
            sqlite_where=sa.text("state <> 'resolved'"),
        )

    op.create_table(
        "api_token_addresses",
        sa.Column("token_id", sa.String(length=36), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("first_time", server.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_time", server.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_id", "address", name=op.f("pk_api_token_addresses")),
    )
    op.create_table(
        "delivery_attempts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("notification_id", sa.String(length=40), nullable=False),
        sa.Column("channel_id", sa.String(length=36), nullable=False),
        sa.Column("time", server.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("response_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempts")),
    )
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_delivery_attempts_channel_time", ["channel_id", "time"], unique=False
        )
        batch_op.create_index(
            "ix_delivery_attempts_notification", ["notification_id"], unique=False
        )

    op.create_table(
        "notification_policies",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("order", sa.Integer(), nullable=False),
        sa.Column("matchers", sa.JSON(), nullable=False),
        sa.Column("severities", sa.JSON(), nullable=False),
        sa.Column("channel_ids", sa.JSON(), nullable=False),
        sa.Column("group_by", sa.JSON(), nullable=False),
        sa.Column("group_wait_s", sa.Float(), nullable=False),
        sa.Column("group_interval_s", sa.Float(), nullable=False),
        sa.Column("repeat_interval_s", sa.Float(), nullable=False),
        sa.Column("send_resolved", sa.Boolean(), nullable=False),
        sa.Column("stop", sa.Boolean(), nullable=False),
        sa.Column("create_time", server.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("update_time", server.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_policies")),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("channel_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("policy_id", sa.String(length=36), nullable=False),
        sa.Column("group_key", sa.String(length=64), nullable=False),
        sa.Column("group_labels", sa.JSON(), nullable=False),
        sa.Column("alert_ids", sa.JSON(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_time", server.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claim_until", server.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("create_time", server.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_time", server.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notifications_channel_time", ["channel_id", "create_time"], unique=False
        )
        batch_op.create_index(
            "ix_notifications_status_next", ["status", "next_attempt_time"], unique=False
        )

    op.create_table(
        "silences",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("matchers", sa.JSON(), nullable=False),
        sa.Column("start_time", server.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end_time", server.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("create_time", server.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("update_time", server.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_silences")),
    )
    with op.batch_alter_table("silences", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_silences_end_time"), ["end_time"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("silences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_silences_end_time"))

    op.drop_table("silences")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_status_next")
        batch_op.drop_index("ix_notifications_channel_time")

    op.drop_table("notifications")
    op.drop_table("notification_policies")
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_attempts_notification")
        batch_op.drop_index("ix_delivery_attempts_channel_time")

    op.drop_table("delivery_attempts")
    op.drop_table("api_token_addresses")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_alerts_open_fingerprint",
            postgresql_where=sa.text("state <> 'resolved'"),
            sqlite_where=sa.text("state <> 'resolved'"),
        )
        batch_op.drop_index("ix_alerts_state_active")
        batch_op.drop_index(batch_op.f("ix_alerts_rule_id"))

    op.drop_table("alerts")
    op.drop_table("alert_rules")
    with op.batch_alter_table("alert_groups", schema=None) as batch_op:
        batch_op.drop_index("uq_alert_groups_policy_key")
        batch_op.drop_index("ix_alert_groups_due")

    op.drop_table("alert_groups")
    op.drop_table("alert_channels")
