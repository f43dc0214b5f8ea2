"""Alerting in domain terms: rules and their conditions, alerts, silences, channels, policies,
notifications and delivery attempts. The wire form is alert.proto (server/alerts/convert.py);
the rows are server/db/models/alerts.py.

How the parts meet (docs/ARCHITECTURE.md, "Alerts"):
- the evaluator (leader) turns each rule's Findings into alert state changes
  (pending -> firing -> resolved), in transactions that also mark the alert's aggregation
  groups due (routing.py);
- the dispatcher (leader) turns due groups into Notification rows, one per channel, minding
  silences, inhibition, acknowledgement, cooldown, group_wait/interval and repeat_interval;
- the delivery worker sends queued notifications (row-locked claims, so once across replicas)
  with retries, and logs every DeliveryAttempt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertState(StrEnum):
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


class Kind(StrEnum):
    """A rule's condition kind (stored as the value)."""

    CAMERA_OFFLINE = "camera_offline"
    CAMERA_ERROR = "camera_error"
    RECORDING_GAP = "recording_gap"
    RECORDER_CRASH_LOOP = "recorder_crash_loop"
    NODE_LOST = "node_lost"
    NODE_DISK = "node_disk"
    STREAM_QUALITY = "stream_quality"
    FAILED_LOGINS = "failed_logins"
    TOKEN_NEW_ADDRESS = "token_new_address"


# --- conditions: one dataclass per kind, thresholds in plain units ---------------------------


@dataclass(frozen=True)
class CameraOffline:
    kind = Kind.CAMERA_OFFLINE


@dataclass(frozen=True)
class CameraError:
    kind = Kind.CAMERA_ERROR


@dataclass(frozen=True)
class RecordingGap:
    kind = Kind.RECORDING_GAP
    min_gap_s: float = 0.0  # 0: off
    min_recorded_percent: float = 0.0  # 0: off
    window_s: float = 3600.0


@dataclass(frozen=True)
class RecorderCrashLoop:
    kind = Kind.RECORDER_CRASH_LOOP
    restarts: int = 3
    window_s: float = 300.0


@dataclass(frozen=True)
class NodeLost:
    kind = Kind.NODE_LOST


@dataclass(frozen=True)
class NodeDisk:
    kind = Kind.NODE_DISK
    min_free_percent: float = 0.0  # 0: off
    min_days_until_full: float = 0.0  # 0: off


@dataclass(frozen=True)
class StreamQuality:
    kind = Kind.STREAM_QUALITY
    min_fps: float = 0.0  # 0: off
    min_bitrate_kbps: int = 0  # 0: off


class LoginsBy(StrEnum):
    USER = "user"
    ADDRESS = "address"


@dataclass(frozen=True)
class FailedLogins:
    kind = Kind.FAILED_LOGINS
    count: int = 5
    window_s: float = 300.0
    by: LoginsBy = LoginsBy.USER


@dataclass(frozen=True)
class TokenNewAddress:
    kind = Kind.TOKEN_NEW_ADDRESS


Condition = (
    CameraOffline
    | CameraError
    | RecordingGap
    | RecorderCrashLoop
    | NodeLost
    | NodeDisk
    | StreamQuality
    | FailedLogins
    | TokenNewAddress
)


# --- labels ----------------------------------------------------------------------------------


class Op(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="


@dataclass(frozen=True)
class Matcher:
    """One label test; a missing label reads as "" (Alertmanager's convention)."""

    name: str
    value: str
    op: Op = Op.EQUAL

    def matches(self, labels: dict[str, str]) -> bool:
        equal = labels.get(self.name, "") == self.value
        return equal if self.op is Op.EQUAL else not equal


def all_match(matchers: list[Matcher] | tuple[Matcher, ...], labels: dict[str, str]) -> bool:
    """Whether every matcher matches (no matchers: everything matches)."""
    return all(m.matches(labels) for m in matchers)


# --- rules and alerts ------------------------------------------------------------------------


@dataclass
class Rule:
    id: str
    name: str
    condition: Condition
    description: str = ""
    severity: Severity = Severity.WARNING
    labels: dict[str, str] = field(default_factory=dict)
    match_labels: dict[str, str] = field(default_factory=dict)
    for_s: float = 0.0
    keep_firing_s: float = 0.0
    cooldown_s: float = 0.0
    enabled: bool = True
    create_time: datetime | None = None
    update_time: datetime | None = None

    @property
    def kind(self) -> Kind:
        return self.condition.kind


@dataclass(frozen=True)
class Finding:
    """What a rule's evaluation found true now about one thing: its labels (camera, node,
    user, address... with names), a sentence, the measured value, and since when it holds if
    known (a camera offline since its status changed), so a pending period counts from the
    true start even across a leader change."""

    labels: dict[str, str]
    summary: str
    value: float = 0.0
    since: datetime | None = None


@dataclass
class Alert:
    id: str
    rule_id: str
    rule_name: str
    fingerprint: str
    state: AlertState
    severity: Severity
    labels: dict[str, str]
    summary: str
    value: float
    active_time: datetime
    last_true_time: datetime
    firing_time: datetime | None = None
    resolved_time: datetime | None = None
    acknowledged_by: str = ""
    acknowledge_time: datetime | None = None
    acknowledge_comment: str = ""
    inhibited_by: str = ""
    # Computed on read: the active silences matching it now.
    silenced_by: list[str] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        return bool(self.acknowledged_by)


@dataclass
class Silence:
    id: str
    matchers: list[Matcher]
    start_time: datetime
    end_time: datetime
    comment: str = ""
    author: str = ""
    create_time: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.start_time <= now < self.end_time

    def state(self, now: datetime) -> str:
        """pending, active or expired."""
        if now < self.start_time:
            return "pending"
        return "active" if now < self.end_time else "expired"


# --- channels, policies, notifications -------------------------------------------------------


class ChannelKind(StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"
    SMS = "sms"


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    timeout_s: float = 10.0


class SmtpSecurity(StrEnum):
    STARTTLS = "starttls"
    TLS = "tls"
    NONE = "none"


@dataclass(frozen=True)
class EmailConfig:
    smtp_host: str
    smtp_port: int
    security: SmtpSecurity
    from_addr: str
    to: tuple[str, ...]
    username: str = ""
    attach_snapshot: bool = False


class SmsProvider(StrEnum):
    TWILIO = "twilio"
    KANNEL = "kannel"


@dataclass(frozen=True)
class SmsConfig:
    provider: SmsProvider
    url: str
    account: str
    from_number: str
    to: tuple[str, ...]


ChannelConfig = WebhookConfig | EmailConfig | SmsConfig


@dataclass
class Channel:
    id: str
    name: str
    config: ChannelConfig
    # The signing secret, SMTP password or SMS token: only the sender reads it; never returned
    # by the API, never in events or the audit log.
    secret: str = ""
    paused: bool = False
    pause_reason: str = ""
    pause_time: datetime | None = None
    consecutive_failures: int = 0
    last_success_time: datetime | None = None
    last_failure_time: datetime | None = None
    last_error: str = ""
    create_time: datetime | None = None
    update_time: datetime | None = None

    @property
    def kind(self) -> ChannelKind:
        if isinstance(self.config, WebhookConfig):
            return ChannelKind.WEBHOOK
        return ChannelKind.EMAIL if isinstance(self.config, EmailConfig) else ChannelKind.SMS


DEFAULT_GROUP_BY = ("rule", "node")
# group_by = ["..."]: every alert is its own group (Alertmanager's spelling).
GROUP_BY_ALL = "..."


@dataclass
class Policy:
    id: str
    name: str
    channel_ids: list[str]
    order: int = 0
    matchers: list[Matcher] = field(default_factory=list)
    severities: list[Severity] = field(default_factory=list)
    group_by: list[str] = field(default_factory=lambda: list(DEFAULT_GROUP_BY))
    group_wait_s: float = 30.0
    group_interval_s: float = 300.0
    repeat_interval_s: float = 4 * 3600.0
    send_resolved: bool = True
    stop: bool = False
    create_time: datetime | None = None
    update_time: datetime | None = None

    def matches(self, alert: Alert) -> bool:
        if self.severities and alert.severity not in self.severities:
            return False
        return all_match(self.matchers, alert.labels)


class NotificationKind(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"
    TEST = "test"


class NotificationStatus(StrEnum):
    QUEUED = "queued"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass
class Notification:
    """One message to one channel; `payload` is what every attempt sends (server/alerts/
    payload.py renders it at queue time)."""

    id: str
    channel_id: str
    kind: NotificationKind
    status: NotificationStatus
    summary: str
    payload: dict[str, Any]
    policy_id: str = ""
    group_key: str = ""
    group_labels: dict[str, str] = field(default_factory=dict)
    alert_ids: list[str] = field(default_factory=list)
    attempts: int = 0
    next_attempt_time: datetime | None = None
    create_time: datetime | None = None
    delivered_time: datetime | None = None
    last_error: str = ""
    channel_name: str = ""


@dataclass(frozen=True)
class DeliveryAttempt:
    id: int
    notification_id: str
    channel_id: str
    time: datetime
    ok: bool
    latency_ms: float
    response_code: int = 0
    response: str = ""
    error: str = ""
