"""The notification payload (server/alerts/payload.py): the documented shape and the one-line
summaries operators read in subjects and SMS."""

from __future__ import annotations

from datetime import timedelta

from server.alerts.model import Alert, AlertState, Severity
from server.alerts.payload import render, summarize
from tests.server.alerts.test_routing_support import T0


def alert(i: int, state: AlertState = AlertState.FIRING, **labels: str) -> Alert:
    return Alert(
        id=f"a{i}",
        rule_id="r1",
        rule_name="offline",
        fingerprint=f"f{i}",
        state=state,
        severity=Severity.WARNING,
        labels={"rule": "offline", "severity": "warning", **labels},
        summary=f"camera Cam {i} has been offline for 1 min",
        value=60.0,
        active_time=T0,
        last_true_time=T0,
        firing_time=T0 + timedelta(seconds=i),
        resolved_time=T0 + timedelta(minutes=5) if state is AlertState.RESOLVED else None,
    )


def test_payload_shape() -> None:
    firing = [alert(2, node="n1", node_name="edge-2"), alert(1, node="n1", node_name="edge-2")]
    resolved = [alert(3, AlertState.RESOLVED, node="n1", node_name="edge-2")]
    firing[0].acknowledged_by = "alice"
    labels = {"rule": "offline", "node": "n1"}
    summary = summarize(firing, resolved, labels)
    assert summary == "2 offline alerts firing on node edge-2 (1 resolved)"
    body = render(
        "msg_1",
        policy_name="ops",
        group_labels=labels,
        firing=firing,
        resolved=resolved,
        summary=summary,
        now=T0 + timedelta(minutes=6),
    )
    assert set(body) == {
        "version", "id", "kind", "summary", "group_labels", "policy", "created_at", "counts",
        "alerts",
    }  # fmt: skip
    assert body["kind"] == "firing" and body["created_at"] == "2026-12-05T12:06:00Z"
    assert body["counts"] == {"firing": 2, "resolved": 1}
    assert [a["id"] for a in body["alerts"]] == ["a1", "a2", "a3"]  # firing oldest first
    first, acked, gone = body["alerts"]
    assert set(first) == {
        "id", "fingerprint", "rule", "rule_id", "state", "severity", "labels", "summary",
        "value", "active_at", "firing_at", "resolved_at", "acknowledged",
    }  # fmt: skip
    assert first["firing_at"] == "2026-12-05T12:00:01Z" and first["resolved_at"] is None
    assert acked["acknowledged"] is True and first["acknowledged"] is False
    assert gone["state"] == "resolved" and gone["resolved_at"] == "2026-12-05T12:05:00Z"
    assert first["labels"]["node_name"] == "edge-2"


def test_summaries() -> None:
    one = alert(1, camera="c1", node="n1")
    assert summarize([one], [], {}) == one.summary
    assert summarize([one], [], {}, {"a1": 5}) == one.summary + " (5 cameras affected)"
    assert summarize([one], [], {}, {"a1": 1}) == one.summary + " (1 camera affected)"
    gone = alert(2, AlertState.RESOLVED)
    assert summarize([], [gone], {}) == f"resolved: {gone.summary}"
    many = [alert(i, AlertState.RESOLVED, site="north") for i in range(3)]
    assert summarize([], many, {"site": "north"}) == "3 offline alerts resolved on site north"
    long = alert(9)
    long.summary = "camera " + "x" * 1000 + "\r\nBcc: x@example.org"
    text = summarize([long], [], {})
    assert len(text) == 300 and "\n" not in text and text.endswith("…")
