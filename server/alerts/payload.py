"""The notification payload: what every channel sends (the webhook's JSON body; e-mail and SMS
render their text from it: server/alerts/senders/text.py). Rendered once when the dispatcher
queues a notification and stored in its row, so every attempt says the same thing.

Shape (version "1", documented in the README, "Alerts"):
    {"version": "1", "id": <notification id>, "kind": "firing" | "resolved" | "test",
     "summary": "<one line>", "group_labels": {...}, "policy": <policy name>,
     "created_at": <RFC 3339>, "counts": {"firing": n, "resolved": m},
     "alerts": [{"id", "fingerprint", "rule", "rule_id", "state", "severity", "labels",
                 "summary", "value", "active_at", "firing_at", "resolved_at",
                 "acknowledged"}]}
Firing alerts come first (oldest first), then resolved ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from server.alerts.model import Alert, AlertState, NotificationKind

VERSION = "1"
# The summary is one line: subjects and SMS are cut from it.
MAX_SUMMARY = 300


def rfc3339(when: datetime | None) -> str | None:
    """`when` as RFC 3339 in UTC with a Z ("2026-12-05T12:00:00Z"), None stays None."""
    if when is None:
        return None
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def alert_entry(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "fingerprint": alert.fingerprint,
        "rule": alert.rule_name,
        "rule_id": alert.rule_id,
        "state": alert.state.value,
        "severity": alert.severity.value,
        "labels": dict(alert.labels),
        "summary": alert.summary,
        "value": alert.value,
        "active_at": rfc3339(alert.active_time),
        "firing_at": rfc3339(alert.firing_time),
        "resolved_at": rfc3339(alert.resolved_time),
        "acknowledged": alert.acknowledged,
    }


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_SUMMARY else flat[: MAX_SUMMARY - 1] + "…"


def _where(group_labels: Mapping[str, str], alerts: Sequence[Alert]) -> str:
    """ "node edge-2" / "camera Lobby" ...: what the group is about, for a sentence."""
    first = alerts[0].labels if alerts else {}
    for label, name_label in (("node", "node_name"), ("camera", "camera_name"), ("site", "")):
        value = group_labels.get(label, "")
        if value:
            shown = first.get(name_label, "") if name_label else ""
            return f"{label} {shown or value}"
    return ""


def _cameras(count: int) -> str:
    return f"{count} camera{'s' if count != 1 else ''} affected"


def summarize(
    firing: Sequence[Alert],
    resolved: Sequence[Alert],
    group_labels: Mapping[str, str],
    affected: Mapping[str, int] | None = None,
) -> str:
    """One line saying what the notification tells: a lone alert's own summary (a lost node's
    with how many of its cameras are affected: "node edge-2 lost (5 cameras affected)"), or
    "3 camera_offline alerts firing on node edge-2 (1 resolved)"."""
    affected = affected or {}
    if len(firing) == 1:
        alert = firing[0]
        text = alert.summary or f"{alert.rule_name} firing"
        if affected.get(alert.id):
            text += f" ({_cameras(affected[alert.id])})"
        if resolved:
            text += f"; {len(resolved)} resolved"
        return _one_line(text)
    if not firing and len(resolved) == 1:
        alert = resolved[0]
        return _one_line(f"resolved: {alert.summary or alert.rule_name}")
    alerts = list(firing) or list(resolved)
    rules = sorted({a.rule_name for a in alerts})
    what = rules[0] if len(rules) == 1 else "alerts"
    where = _where(group_labels, alerts)
    on = f" on {where}" if where else ""
    if firing:
        noun = f"{what} alerts" if len(rules) == 1 else "alerts"
        text = f"{len(firing)} {noun} firing{on}"
        cameras = sum(affected.get(a.id, 0) for a in firing)
        extra = [f"{len(resolved)} resolved"] if resolved else []
        if cameras:
            extra.append(_cameras(cameras))
        if extra:
            text += f" ({', '.join(extra)})"
        return _one_line(text)
    noun = f"{what} alerts" if len(rules) == 1 else "alerts"
    return _one_line(f"{len(resolved)} {noun} resolved{on}")


def render(
    notification_id: str,
    *,
    policy_name: str,
    group_labels: Mapping[str, str],
    firing: Sequence[Alert],
    resolved: Sequence[Alert],
    summary: str,
    now: datetime,
) -> dict[str, Any]:
    """The payload of one notification (kind firing when anything fires, else resolved)."""
    kind = NotificationKind.FIRING if firing else NotificationKind.RESOLVED
    ordered = sorted(firing, key=lambda a: (a.firing_time or a.active_time, a.id))
    ordered += sorted(resolved, key=lambda a: (a.resolved_time or a.active_time, a.id))
    return {
        "version": VERSION,
        "id": notification_id,
        "kind": kind.value,
        "summary": summary,
        "group_labels": dict(group_labels),
        "policy": policy_name,
        "created_at": rfc3339(now),
        "counts": {
            "firing": sum(1 for a in ordered if a.state is not AlertState.RESOLVED),
            "resolved": sum(1 for a in ordered if a.state is AlertState.RESOLVED),
        },
        "alerts": [alert_entry(a) for a in ordered],
    }
