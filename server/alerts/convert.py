"""Rules, alerts, silences and previews between alert.proto and the domain (server/alerts/
model.py). Structural checks only (a oneof set, a known enum value, a valid Duration or
Timestamp), each an InvalidArgument naming the request field; ranges and names are the domain's
to check (rules.py, silences.py). Channels, policies and the delivery log: convert_channels.py."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from camfleet.v1 import alert_pb2
from google.protobuf import duration_pb2

from server.alerts import model
from server.alerts.model import Alert, Finding, Matcher, Op, Rule, Severity, Silence
from server.common.wire import from_duration, from_timestamp, timestamp
from server.errors import InvalidArgument

SEVERITY_TO_PROTO = {
    Severity.INFO: alert_pb2.ALERT_SEVERITY_INFO,
    Severity.WARNING: alert_pb2.ALERT_SEVERITY_WARNING,
    Severity.CRITICAL: alert_pb2.ALERT_SEVERITY_CRITICAL,
}
SEVERITY_FROM_PROTO: dict[int, Severity] = {int(v): k for k, v in SEVERITY_TO_PROTO.items()}
STATE_TO_PROTO = {
    model.AlertState.PENDING: alert_pb2.ALERT_STATE_PENDING,
    model.AlertState.FIRING: alert_pb2.ALERT_STATE_FIRING,
    model.AlertState.RESOLVED: alert_pb2.ALERT_STATE_RESOLVED,
}
SILENCE_STATE_TO_PROTO = {
    "pending": alert_pb2.SILENCE_STATE_PENDING,
    "active": alert_pb2.SILENCE_STATE_ACTIVE,
    "expired": alert_pb2.SILENCE_STATE_EXPIRED,
}
_OP_FROM_PROTO = {
    alert_pb2.Matcher.OPERATOR_UNSPECIFIED: Op.EQUAL,
    alert_pb2.Matcher.OPERATOR_EQUAL: Op.EQUAL,
    alert_pb2.Matcher.OPERATOR_NOT_EQUAL: Op.NOT_EQUAL,
}
_OP_TO_PROTO = {
    Op.EQUAL: alert_pb2.Matcher.OPERATOR_EQUAL,
    Op.NOT_EQUAL: alert_pb2.Matcher.OPERATOR_NOT_EQUAL,
}
_BY_FROM_PROTO = {
    alert_pb2.FailedLoginsCondition.BY_UNSPECIFIED: model.LoginsBy.USER,
    alert_pb2.FailedLoginsCondition.BY_USER: model.LoginsBy.USER,
    alert_pb2.FailedLoginsCondition.BY_ADDRESS: model.LoginsBy.ADDRESS,
}
_BY_TO_PROTO = {
    model.LoginsBy.USER: alert_pb2.FailedLoginsCondition.BY_USER,
    model.LoginsBy.ADDRESS: alert_pb2.FailedLoginsCondition.BY_ADDRESS,
}
CONDITION_KINDS = tuple(
    f.name for f in alert_pb2.AlertCondition.DESCRIPTOR.oneofs_by_name["kind"].fields
)


# --- small pieces ------------------------------------------------------------------------------


def seconds(d: duration_pb2.Duration, field: str) -> float:
    """A Duration in seconds; InvalidArgument when it is not a valid one."""
    return from_duration(d, field).total_seconds()


def seconds_or(message: object, name: str, default: float, field: str) -> float:
    """A Duration field's seconds, or `default` when the field is unset."""
    if not message.HasField(name):  # type: ignore[attr-defined]
        return default
    return seconds(getattr(message, name), field)


def duration(value_s: float) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromNanoseconds(round(value_s * 1e9))
    return d


def severity_from_proto(value: int, field: str, *, default: Severity | None) -> Severity:
    """A severity; UNSPECIFIED is `default` (InvalidArgument when there is none)."""
    if value == alert_pb2.ALERT_SEVERITY_UNSPECIFIED and default is not None:
        return default
    found = SEVERITY_FROM_PROTO.get(value)
    if found is None:
        raise InvalidArgument.for_field(
            field, "must be ALERT_SEVERITY_INFO, ALERT_SEVERITY_WARNING or ALERT_SEVERITY_CRITICAL"
        )
    return found


def matchers_from_proto(items: Iterable[alert_pb2.Matcher], field: str) -> list[Matcher]:
    out = []
    for i, m in enumerate(items):
        op = _OP_FROM_PROTO.get(m.operator)
        if op is None:
            raise InvalidArgument.for_field(
                f"{field}[{i}].operator", "must be OPERATOR_EQUAL or OPERATOR_NOT_EQUAL"
            )
        out.append(Matcher(name=m.name, value=m.value, op=op))
    return out


def matchers_to_proto(matchers: list[Matcher]) -> list[alert_pb2.Matcher]:
    return [
        alert_pb2.Matcher(name=m.name, value=m.value, operator=_OP_TO_PROTO[m.op]) for m in matchers
    ]


# --- conditions ----------------------------------------------------------------------------------


def condition_from_proto(c: alert_pb2.AlertCondition, field: str) -> model.Condition:
    """The domain condition of the one kind set; defaults as alert.proto documents them."""
    kind = c.WhichOneof("kind")
    if kind is None:
        raise InvalidArgument.for_field(field, "set one condition: " + ", ".join(CONDITION_KINDS))
    at = f"{field}.{kind}"
    if kind == "camera_offline":
        return model.CameraOffline()
    if kind == "camera_error":
        return model.CameraError()
    if kind == "node_lost":
        return model.NodeLost()
    if kind == "token_new_address":
        return model.TokenNewAddress()
    if kind == "recording_gap":
        g = c.recording_gap
        return model.RecordingGap(
            min_gap_s=seconds_or(g, "min_gap", 0.0, f"{at}.min_gap"),
            min_recorded_percent=g.min_recorded_percent,
            window_s=seconds_or(g, "window", 3600.0, f"{at}.window"),
        )
    if kind == "recorder_crash_loop":
        r = c.recorder_crash_loop
        return model.RecorderCrashLoop(
            restarts=r.restarts or 3, window_s=seconds_or(r, "window", 300.0, f"{at}.window")
        )
    if kind == "node_disk":
        d = c.node_disk
        return model.NodeDisk(
            min_free_percent=d.min_free_percent, min_days_until_full=d.min_days_until_full
        )
    if kind == "stream_quality":
        q = c.stream_quality
        return model.StreamQuality(min_fps=q.min_fps, min_bitrate_kbps=q.min_bitrate_kbps)
    f = c.failed_logins
    by = _BY_FROM_PROTO.get(f.by)
    if by is None:
        raise InvalidArgument.for_field(f"{at}.by", "must be BY_USER or BY_ADDRESS")
    return model.FailedLogins(
        count=f.count or 5, window_s=seconds_or(f, "window", 300.0, f"{at}.window"), by=by
    )


def condition_to_proto(c: model.Condition) -> alert_pb2.AlertCondition:
    if isinstance(c, model.RecordingGap):
        return alert_pb2.AlertCondition(
            recording_gap=alert_pb2.RecordingGapCondition(
                min_gap=duration(c.min_gap_s) if c.min_gap_s else None,
                min_recorded_percent=c.min_recorded_percent,
                window=duration(c.window_s),
            )
        )
    if isinstance(c, model.RecorderCrashLoop):
        return alert_pb2.AlertCondition(
            recorder_crash_loop=alert_pb2.RecorderCrashLoopCondition(
                restarts=c.restarts, window=duration(c.window_s)
            )
        )
    if isinstance(c, model.NodeDisk):
        return alert_pb2.AlertCondition(
            node_disk=alert_pb2.NodeDiskCondition(
                min_free_percent=c.min_free_percent, min_days_until_full=c.min_days_until_full
            )
        )
    if isinstance(c, model.StreamQuality):
        return alert_pb2.AlertCondition(
            stream_quality=alert_pb2.StreamQualityCondition(
                min_fps=c.min_fps, min_bitrate_kbps=c.min_bitrate_kbps
            )
        )
    if isinstance(c, model.FailedLogins):
        return alert_pb2.AlertCondition(
            failed_logins=alert_pb2.FailedLoginsCondition(
                count=c.count, window=duration(c.window_s), by=_BY_TO_PROTO[c.by]
            )
        )
    if isinstance(c, model.CameraError):
        return alert_pb2.AlertCondition(camera_error=alert_pb2.CameraErrorCondition())
    if isinstance(c, model.NodeLost):
        return alert_pb2.AlertCondition(node_lost=alert_pb2.NodeLostCondition())
    if isinstance(c, model.TokenNewAddress):
        return alert_pb2.AlertCondition(token_new_address=alert_pb2.TokenNewAddressCondition())
    return alert_pb2.AlertCondition(camera_offline=alert_pb2.CameraOfflineCondition())


# --- rules -----------------------------------------------------------------------------------


def rule_from_proto(r: alert_pb2.AlertRule, field: str = "rule") -> Rule:
    """A rule as the caller wrote it (the id as given; the domain checks every value)."""
    return Rule(
        id=r.id,
        name=r.name,
        description=r.description,
        condition=condition_from_proto(r.condition, f"{field}.condition"),
        severity=severity_from_proto(r.severity, f"{field}.severity", default=Severity.WARNING),
        labels=dict(r.labels),
        match_labels=dict(r.match_labels),
        for_s=seconds(getattr(r, "for"), f"{field}.for"),
        keep_firing_s=seconds(r.keep_firing_for, f"{field}.keep_firing_for"),
        cooldown_s=seconds(r.cooldown, f"{field}.cooldown"),
        enabled=r.enabled,
    )


def rule_to_proto(rule: Rule) -> alert_pb2.AlertRule:
    out = alert_pb2.AlertRule(
        id=rule.id,
        name=rule.name,
        description=rule.description,
        condition=condition_to_proto(rule.condition),
        severity=SEVERITY_TO_PROTO[rule.severity],
        labels=rule.labels,
        match_labels=rule.match_labels,
        keep_firing_for=duration(rule.keep_firing_s),
        cooldown=duration(rule.cooldown_s),
        enabled=rule.enabled,
        create_time=timestamp(rule.create_time),
        update_time=timestamp(rule.update_time),
    )
    getattr(out, "for").CopyFrom(duration(rule.for_s))
    return out


# --- alerts and previews -----------------------------------------------------------------------


def alert_to_proto(a: Alert) -> alert_pb2.Alert:
    return alert_pb2.Alert(
        id=a.id,
        rule_id=a.rule_id,
        rule_name=a.rule_name,
        state=STATE_TO_PROTO[a.state],
        severity=SEVERITY_TO_PROTO[a.severity],
        labels=a.labels,
        summary=a.summary,
        value=a.value,
        active_time=timestamp(a.active_time),
        firing_time=timestamp(a.firing_time),
        resolved_time=timestamp(a.resolved_time),
        acknowledged=a.acknowledged,
        acknowledged_by=a.acknowledged_by,
        acknowledge_time=timestamp(a.acknowledge_time),
        acknowledge_comment=a.acknowledge_comment,
        silenced_by=a.silenced_by,
        inhibited_by=a.inhibited_by,
        fingerprint=a.fingerprint,
    )


def previewed_to_proto(
    f: Finding, state: model.AlertState, active_time: datetime
) -> alert_pb2.PreviewedAlert:
    return alert_pb2.PreviewedAlert(
        labels=f.labels,
        summary=f.summary,
        value=f.value,
        state=STATE_TO_PROTO[state],
        active_time=timestamp(active_time),
    )


# --- silences ----------------------------------------------------------------------------------


def silence_from_proto(s: alert_pb2.Silence, now: datetime, field: str = "silence") -> Silence:
    """A silence as the caller wrote it; start_time unset is now, end_time unset is start_time
    (CreateSilence requires it; the domain refuses an end not after the start)."""
    start = from_timestamp(s.start_time, f"{field}.start_time") if s.HasField("start_time") else now
    end = from_timestamp(s.end_time, f"{field}.end_time") if s.HasField("end_time") else start
    return Silence(
        id=s.id,
        matchers=matchers_from_proto(s.matchers, f"{field}.matchers"),
        start_time=start,
        end_time=end,
        comment=s.comment,
    )


def silence_to_proto(s: Silence, now: datetime, matched_alerts: int = 0) -> alert_pb2.Silence:
    return alert_pb2.Silence(
        id=s.id,
        matchers=matchers_to_proto(s.matchers),
        start_time=timestamp(s.start_time),
        end_time=timestamp(s.end_time),
        comment=s.comment,
        author=s.author,
        state=SILENCE_STATE_TO_PROTO[s.state(now)],
        create_time=timestamp(s.create_time),
        matched_alerts=matched_alerts,
    )
