"""Alerting (server/alerts/): rules, alerts, silences, channels, notification policies, the
aggregation groups between alerts and notifications, the notification queue and the delivery
log. Notifications are rows: queued in the transaction that changes their group, delivered by
the leader, every attempt kept."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from server.db.models.base import Base, new_id, utcnow
from server.db.types import UTCDateTime


class AlertRuleRow(Base):
    """A rule: a condition of one kind with its thresholds (params), severity, labels, scope
    (match_labels) and timing (for, keep firing for, cooldown)."""

    __tablename__ = "alert_rules"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # camera_offline, camera_error, recording_gap, recorder_crash_loop, node_lost, node_disk,
    # stream_quality, failed_logins, token_new_address
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    severity: Mapped[str] = mapped_column(String(16), default="warning")
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    match_labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    for_s: Mapped[float] = mapped_column(Float, default=0.0)
    keep_firing_s: Mapped[float] = mapped_column(Float, default=0.0)
    cooldown_s: Mapped[float] = mapped_column(Float, default=0.0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    create_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    update_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AlertRow(Base):
    """One alert of a rule about one thing (its fingerprint: the rule and the labels). At most
    one unresolved alert per (rule, fingerprint); a resolved one stays as history."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_open_fingerprint",
            "rule_id",
            "fingerprint",
            unique=True,
            postgresql_where=text("state <> 'resolved'"),
            sqlite_where=text("state <> 'resolved'"),
        ),
        Index("ix_alerts_state_active", "state", "active_time"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    rule_id: Mapped[str] = mapped_column(String(36), index=True)
    rule_name: Mapped[str] = mapped_column(String(100), default="")
    fingerprint: Mapped[str] = mapped_column(String(64))
    # pending, firing, resolved
    state: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16), default="warning")
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    summary: Mapped[str] = mapped_column(Text, default="")
    value: Mapped[float] = mapped_column(Float, default=0.0)
    active_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    firing_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The last evaluation that found the condition true (keep firing for counts from it).
    last_true_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_by: Mapped[str] = mapped_column(String(200), default="")
    acknowledge_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledge_comment: Mapped[str] = mapped_column(Text, default="")
    # The alert inhibiting this one now ("" none): a LOST node's alert over its cameras'.
    inhibited_by: Mapped[str] = mapped_column(String(36), default="")
    update_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SilenceRow(Base):
    """Label matchers muting notifications between start and end."""

    __tablename__ = "silences"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # [{"name": ..., "value": ..., "op": "=" | "!="}]
    matchers: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    start_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    end_time: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(200), default="")
    create_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    update_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChannelRow(Base):
    """Where notifications go: a webhook, an SMTP account or an SMS provider. The secret
    (signing secret, password, token) is never returned by the API nor put in events or the
    audit log."""

    __tablename__ = "alert_channels"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # webhook, email, sms
    kind: Mapped[str] = mapped_column(String(16))
    # Everything but the secret (url, timeout_s; smtp_host, port, security, username, from,
    # to, attach_snapshot; provider, url, account, from, to).
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secret: Mapped[str] = mapped_column(Text, default="")
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    pause_reason: Mapped[str] = mapped_column(Text, default="")
    pause_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_success_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_failure_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    create_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    update_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NotificationPolicyRow(Base):
    """Which alerts (matchers, severities) go to which channels, grouped how, how often."""

    __tablename__ = "notification_policies"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), default="")
    order: Mapped[int] = mapped_column(Integer, default=0)
    matchers: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    severities: Mapped[list[str]] = mapped_column(JSON, default=list)
    channel_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    group_by: Mapped[list[str]] = mapped_column(JSON, default=list)
    group_wait_s: Mapped[float] = mapped_column(Float, default=30.0)
    group_interval_s: Mapped[float] = mapped_column(Float, default=300.0)
    repeat_interval_s: Mapped[float] = mapped_column(Float, default=4 * 3600.0)
    send_resolved: Mapped[bool] = mapped_column(Boolean, default=True)
    stop: Mapped[bool] = mapped_column(Boolean, default=False)
    create_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    update_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AlertGroupRow(Base):
    """An aggregation group (Alertmanager's): the alerts of one policy with equal group_by
    labels. An alert change marks its groups due (in the alert's transaction); the dispatcher
    turns a due group into notifications and records what it told."""

    __tablename__ = "alert_groups"
    __table_args__ = (
        Index("uq_alert_groups_policy_key", "policy_id", "group_key", unique=True),
        Index("ix_alert_groups_due", "due_time"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    policy_id: Mapped[str] = mapped_column(String(36))
    group_key: Mapped[str] = mapped_column(String(64))
    group_labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # When the dispatcher should look at it next (None: nothing to do).
    due_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_notify_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Alert ids the last notification told as firing (what changed since decides the next).
    notified_firing: Mapped[list[str]] = mapped_column(JSON, default=list)
    create_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NotificationRow(Base):
    """One message to one channel. Its id is the same on every attempt (webhook-id), so a
    receiver drops duplicates. Delivered once: a worker claims it (claim_until) in a row-locked
    transaction, sends, and records the attempt."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_status_next", "status", "next_attempt_time"),
        Index("ix_notifications_channel_time", "channel_id", "create_time"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(36))
    # firing, resolved, test
    kind: Mapped[str] = mapped_column(String(16))
    # queued, retrying, delivered, failed
    status: Mapped[str] = mapped_column(String(16), default="queued")
    policy_id: Mapped[str] = mapped_column(String(36), default="")
    group_key: Mapped[str] = mapped_column(String(64), default="")
    group_labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    alert_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    summary: Mapped[str] = mapped_column(Text, default="")
    # The message as rendered at queue time (alerts with labels, states, times): what every
    # attempt sends, so a retry says the same thing.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A worker sending it now holds it until then (a killed worker's claim runs out).
    claim_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    create_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")


class DeliveryAttemptRow(Base):
    """The delivery log: one row per attempt to send a notification."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (
        Index("ix_delivery_attempts_channel_time", "channel_id", "time"),
        Index("ix_delivery_attempts_notification", "notification_id"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    notification_id: Mapped[str] = mapped_column(String(40))
    channel_id: Mapped[str] = mapped_column(String(36))
    time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    response_code: Mapped[int] = mapped_column(Integer, default=0)
    response: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")


class TokenAddressRow(Base):
    """Addresses each API token was used from (the token_new_address rule's memory)."""

    __tablename__ = "api_token_addresses"

    token_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
