"""Alert rules: their checks (every bad field named in one InvalidArgument, with a sentence
saying what to write instead) and their stored form (AlertRuleRow: the condition's thresholds
in `params`, plain units).

Limits follow alert.proto's comments: pending period, keep-firing-for and cooldown 0 to 1 day;
windows per kind (a window of a year is refused); thresholds in sane ranges, NaN and infinity
refused. A condition that could never fire (a recording-gap rule with neither a gap length nor
a ratio) is refused too, so a rule that looks armed is armed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from server.alerts.model import (
    CameraError,
    CameraOffline,
    Condition,
    FailedLogins,
    Kind,
    LoginsBy,
    NodeDisk,
    NodeLost,
    RecorderCrashLoop,
    RecordingGap,
    Rule,
    Severity,
    StreamQuality,
    TokenNewAddress,
)
from server.common.labels import check_label_map
from server.common.validation import clean_text
from server.db.models import AlertRuleRow
from server.errors import FieldViolation, InvalidArgument

DAY_S = 86400.0
MAX_LABELS = 16
NAME_MAX = 100
DESCRIPTION_MAX = 2000

CONDITION_CLASSES: dict[Kind, type[Any]] = {
    Kind.CAMERA_OFFLINE: CameraOffline,
    Kind.CAMERA_ERROR: CameraError,
    Kind.RECORDING_GAP: RecordingGap,
    Kind.RECORDER_CRASH_LOOP: RecorderCrashLoop,
    Kind.NODE_LOST: NodeLost,
    Kind.NODE_DISK: NodeDisk,
    Kind.STREAM_QUALITY: StreamQuality,
    Kind.FAILED_LOGINS: FailedLogins,
    Kind.TOKEN_NEW_ADDRESS: TokenNewAddress,
}
# Kinds about cameras: match_labels select cameras by their labels, alerts carry the camera.
CAMERA_KINDS = frozenset(
    {
        Kind.CAMERA_OFFLINE,
        Kind.CAMERA_ERROR,
        Kind.RECORDING_GAP,
        Kind.RECORDER_CRASH_LOOP,
        Kind.STREAM_QUALITY,
    }
)
NODE_KINDS = frozenset({Kind.NODE_LOST, Kind.NODE_DISK})


def _duration(seconds: float) -> str:
    """A duration as people write it: 90 -> "1.5 min", 86400 -> "1 day"."""
    for unit, size in (("day", DAY_S), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            value = seconds / size
            text = f"{value:g}" if value == int(value) else f"{value:.1f}"
            return f"{text} {unit}{'s' if unit == 'day' and value != 1 else ''}"
    return f"{seconds:g} s"


class _Checks:
    """Collects every violation, so the caller fixes them all in one round."""

    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        self.violations.append(FieldViolation(field, description))

    def number(
        self,
        field: str,
        value: float,
        low: float,
        high: float,
        *,
        off_allowed: bool = False,
        what: str = "",
    ) -> None:
        """`value` within [low, high] (or 0 when off is allowed)."""
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            self.add(field, f"must be a finite number, got {value!r}")
            return
        if off_allowed and value == 0:
            return
        if value < low or value > high:
            off = "0 (off) or " if off_allowed else ""
            shown = f"{value:g}" if isinstance(value, float) else str(value)
            self.add(field, f"must be {off}{low:g} to {high:g}{what}, got {shown}")

    def duration(
        self, field: str, seconds: float, low: float, high: float, *, off_allowed: bool = False
    ) -> None:
        """A duration in [low, high] seconds, said in words when it is not."""
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            self.add(field, f"must be a duration, got {seconds!r}")
            return
        if not math.isfinite(seconds):
            self.add(field, "must be a finite duration")
        elif seconds < 0:
            self.add(field, f"must not be negative, got {seconds:g} s")
        elif off_allowed and seconds == 0:
            return
        elif seconds < low or seconds > high:
            off = "unset (off) or " if off_allowed else ""
            self.add(
                field,
                f"must be {off}{_duration(low)} to {_duration(high)}, got {_duration(seconds)}",
            )

    def raise_if_any(self) -> None:
        if not self.violations:
            return
        if len(self.violations) == 1:
            v = self.violations[0]
            message = f"{v.field}: {v.description}"
        else:
            parts = "; ".join(f"{v.field}: {v.description}" for v in self.violations)
            message = f"the rule has {len(self.violations)} problems: {parts}"
        raise InvalidArgument(message, violations=list(self.violations))


def _check_condition(c: _Checks, cond: Condition, prefix: str) -> None:
    p = f"{prefix}.condition.{cond.kind.value}"
    if isinstance(cond, RecordingGap):
        c.duration(f"{p}.min_gap", cond.min_gap_s, 1.0, DAY_S, off_allowed=True)
        c.number(f"{p}.min_recorded_percent", cond.min_recorded_percent, 1, 100, off_allowed=True)
        c.duration(f"{p}.window", cond.window_s, 60.0, 7 * DAY_S)
        if cond.min_gap_s == 0 and cond.min_recorded_percent == 0:
            c.add(p, "set min_gap or min_recorded_percent (or both): with neither it never fires")
    elif isinstance(cond, RecorderCrashLoop):
        c.number(f"{p}.restarts", cond.restarts, 2, 1000, what=" restarts")
        c.duration(f"{p}.window", cond.window_s, 10.0, DAY_S)
    elif isinstance(cond, NodeDisk):
        c.number(f"{p}.min_free_percent", cond.min_free_percent, 0.1, 99, off_allowed=True)
        c.number(f"{p}.min_days_until_full", cond.min_days_until_full, 0.1, 3650, off_allowed=True)
        if cond.min_free_percent == 0 and cond.min_days_until_full == 0:
            c.add(p, "set min_free_percent or min_days_until_full (or both)")
    elif isinstance(cond, StreamQuality):
        c.number(f"{p}.min_fps", cond.min_fps, 0.1, 240, off_allowed=True)
        c.number(f"{p}.min_bitrate_kbps", cond.min_bitrate_kbps, 1, 1_000_000, off_allowed=True)
        if cond.min_fps == 0 and cond.min_bitrate_kbps == 0:
            c.add(p, "set min_fps or min_bitrate_kbps (or both)")
    elif isinstance(cond, FailedLogins):
        c.number(f"{p}.count", cond.count, 1, 100_000, what=" failed logins")
        c.duration(f"{p}.window", cond.window_s, 10.0, DAY_S)
        if not isinstance(cond.by, LoginsBy):
            c.add(f"{p}.by", "must be BY_USER or BY_ADDRESS")


def check_rule(rule: Rule, prefix: str = "rule") -> Rule:
    """The rule as stored (names trimmed, labels checked), or InvalidArgument listing every bad
    field under `prefix` ("rule.for", "rule.condition.recording_gap.window", ...)."""
    c = _Checks()
    name, description = rule.name, rule.description
    try:
        name = clean_text(rule.name, f"{prefix}.name", max_len=NAME_MAX, required=True)
    except InvalidArgument as e:
        c.violations.extend(e.violations)
    try:
        description = clean_text(
            rule.description, f"{prefix}.description", max_len=DESCRIPTION_MAX, multiline=True
        )
    except InvalidArgument as e:
        c.violations.extend(e.violations)
    labels, match_labels = dict(rule.labels), dict(rule.match_labels)
    for field, values in (("labels", rule.labels), ("match_labels", rule.match_labels)):
        try:
            checked = check_label_map(values, f"{prefix}.{field}", max_pairs=MAX_LABELS)
        except InvalidArgument as e:
            c.violations.extend(e.violations)
            continue
        if field == "labels":
            labels = checked
        else:
            match_labels = checked
    if not isinstance(rule.severity, Severity):
        c.add(f"{prefix}.severity", "must be INFO, WARNING or CRITICAL")
    if rule.condition is None or not isinstance(rule.condition, tuple(CONDITION_CLASSES.values())):
        c.add(f"{prefix}.condition", "is required: set exactly one condition kind")
    else:
        _check_condition(c, rule.condition, prefix)
        if match_labels and rule.condition.kind not in CAMERA_KINDS | NODE_KINDS:
            c.add(
                f"{prefix}.match_labels",
                f"only camera and node conditions select by labels; "
                f"{rule.condition.kind.value} has none to match",
            )
    c.duration(f"{prefix}.for", rule.for_s, 0.0, DAY_S)
    c.duration(f"{prefix}.keep_firing_for", rule.keep_firing_s, 0.0, DAY_S)
    c.duration(f"{prefix}.cooldown", rule.cooldown_s, 0.0, DAY_S)
    c.raise_if_any()
    return dataclasses.replace(
        rule, name=name, description=description, labels=labels, match_labels=match_labels
    )


# --- stored form ------------------------------------------------------------------------------


def condition_params(cond: Condition) -> dict[str, Any]:
    """The condition's thresholds as stored in AlertRuleRow.params."""
    params = dataclasses.asdict(cond)
    if isinstance(cond, FailedLogins):
        params["by"] = cond.by.value
    return params


def condition_of(kind: str, params: Mapping[str, Any]) -> Condition:
    """The condition a row stores (unknown params ignored, so old rows still load)."""
    cls = CONDITION_CLASSES[Kind(kind)]
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in params.items() if k in names}
    if cls is FailedLogins and "by" in values:
        values["by"] = LoginsBy(values["by"])
    condition: Condition = cls(**values)
    return condition


def rule_of(row: AlertRuleRow) -> Rule:
    """The domain rule of a row."""
    return Rule(
        id=row.id,
        name=row.name,
        condition=condition_of(row.kind, row.params or {}),
        description=row.description,
        severity=Severity(row.severity),
        labels=dict(row.labels or {}),
        match_labels=dict(row.match_labels or {}),
        for_s=row.for_s,
        keep_firing_s=row.keep_firing_s,
        cooldown_s=row.cooldown_s,
        enabled=row.enabled,
        create_time=row.create_time,
        update_time=row.update_time,
    )


def row_values(rule: Rule) -> dict[str, Any]:
    """Column values of a checked rule (id and times excluded)."""
    return {
        "name": rule.name,
        "description": rule.description,
        "kind": rule.condition.kind.value,
        "params": condition_params(rule.condition),
        "severity": rule.severity.value,
        "labels": dict(rule.labels),
        "match_labels": dict(rule.match_labels),
        "for_s": float(rule.for_s),
        "keep_firing_s": float(rule.keep_firing_s),
        "cooldown_s": float(rule.cooldown_s),
        "enabled": bool(rule.enabled),
    }
