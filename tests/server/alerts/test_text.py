"""What people read of a notification (server/alerts/senders/text.py): subject and bodies from
the payload, with names that try header injection or carry HTML, and SMS texts that fit one
message (160 GSM-7 characters, or 70 when a character is not GSM-7)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from server.alerts import payload as payloads
from server.alerts.model import Alert, AlertState, Severity
from server.alerts.senders.text import (
    fit_sms,
    html_body,
    is_gsm7,
    sms_length,
    sms_text,
    subject,
    text_body,
)


def alert(
    camera_id: str = "cam-1",
    camera_name: str = "Lobby",
    *,
    state: str = "firing",
    severity: str = "critical",
    **labels: str,
) -> dict[str, Any]:
    """One alert of a payload, about a camera."""
    return {
        "id": f"alert-{camera_id}",
        "fingerprint": "f" * 32,
        "rule": "camera offline",
        "rule_id": "rule-1",
        "state": state,
        "severity": severity,
        "labels": {
            "rule": "camera offline",
            "severity": severity,
            "camera": camera_id,
            "camera_name": camera_name,
            "node": "node-1",
            "node_name": "edge-1",
            **labels,
        },
        "summary": f"camera {camera_name} is offline",
        "value": 42.0,
        "active_at": "2026-12-05T20:00:00Z",
        "firing_at": "2026-12-05T20:00:30Z",
        "resolved_at": "2026-12-05T20:05:00Z" if state == "resolved" else "",
        "acknowledged": False,
    }


def payload(
    *alerts: dict[str, Any], kind: str = "firing", summary: str = "", nid: str = "msg_0123abcd"
) -> dict[str, Any]:
    """A notification payload in the documented shape (ALERTS.md / README "Alerts")."""
    alerts = alerts or (alert(),)
    firing = sum(a["state"] != "resolved" for a in alerts)
    return {
        "version": "1",
        "id": nid,
        "kind": kind,
        "summary": summary or alerts[0]["summary"],
        "group_labels": {"rule": "camera offline", "node": "node-1"},
        "policy": "on-call",
        "created_at": "2026-12-05T20:00:31Z",
        "counts": {"firing": firing, "resolved": len(alerts) - firing},
        "alerts": list(alerts),
    }


INJECTION = "Lobby\r\nBcc: x@example.org"
HTML_NAME = '<script>alert("x")</script> & <b>Hall</b>'


def test_subject_is_one_line_with_the_kind_and_count() -> None:
    p = payload(alert("c1"), alert("c2", "Gate"), summary="2 cameras offline on edge-1")
    assert subject(p) == "[camfleet] FIRING (2): 2 cameras offline on edge-1"
    resolved = payload(alert(state="resolved"), kind="resolved")
    assert subject(resolved) == "[camfleet] RESOLVED: camera Lobby is offline"
    assert subject(payload(kind="test", summary="")).startswith("[camfleet] TEST: ")


def test_a_name_with_cr_lf_stays_in_one_line() -> None:
    p = payload(alert(camera_name=INJECTION), summary=f"camera {INJECTION} is offline")
    line = subject(p)
    assert "\r" not in line and "\n" not in line
    assert line == "[camfleet] FIRING: camera Lobby Bcc: x@example.org is offline"
    body = text_body(p)
    # The text body shows the name on one line too: no line of it starts with "Bcc:".
    assert not any(row.startswith("Bcc:") for row in body.splitlines())
    assert "camera: Lobby Bcc: x@example.org" in body


def test_a_long_subject_is_cut() -> None:
    line = subject(payload(summary="x" * 500))
    assert len(line) == 200 and line.endswith("…")


def test_text_body_lists_firing_and_resolved_alerts_with_notes() -> None:
    p = payload(alert("c1"), alert("c2", "Gate", state="resolved"), summary="mixed")
    body = text_body(p, ["no snapshot: camera Lobby is not live (it is offline)"])
    assert body.startswith("FIRING: mixed\n")
    assert "Firing (1):\n- [critical] camera Lobby is offline\n    camera: Lobby\n" in body
    assert "Resolved (1):\n- [critical] camera Gate is offline\n" in body
    assert "    node: edge-1\n" in body and "    rule: camera offline\n" in body
    assert "    resolved: 2026-12-05T20:05:00Z\n" in body
    assert "no snapshot: camera Lobby is not live (it is offline)\n" in body
    assert "Policy: on-call\n" in body and "Notification: msg_0123abcd\n" in body
    assert "Group: node=node-1, rule=camera offline\n" in body


def test_html_body_escapes_every_value() -> None:
    p = payload(alert(camera_name=HTML_NAME, site="<i>north</i>"), summary=f"camera {HTML_NAME}")
    page = html_body(p, ["no snapshot: <img src=x>"])
    assert "<script>" not in page and "<b>Hall" not in page and "<i>north" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;Hall&lt;/b&gt;" in page
    assert "&lt;i&gt;north&lt;/i&gt;" in page
    assert "no snapshot: &lt;img src=x&gt;" in page
    # The page's own markup is there.
    assert page.startswith("<!DOCTYPE html>") and "<li>" in page


def test_gsm7_and_ucs2_lengths() -> None:
    assert is_gsm7("FIRING: camera Lobby @ £5 ÄÖÜ")
    assert sms_length("a{b}€") == 8  # the extension table's characters take two septets
    assert not is_gsm7("Zürich ✓") and sms_length("Zürich ✓") == 8
    assert sms_length("📷") == 2  # beyond the BMP: a surrogate pair in UCS-2


def test_sms_fits_one_message() -> None:
    short = sms_text(payload())
    assert short == "FIRING: camera Lobby is offline"

    gsm = fit_sms("FIRING: " + "camera offline " * 20)
    assert is_gsm7(gsm) and sms_length(gsm) == 160 and gsm.endswith("...")

    ucs = fit_sms("FIRING: Kamera Büro ✓ " + "offline " * 20)
    assert not is_gsm7(ucs) and sms_length(ucs) <= 70 and ucs.endswith("…")
    assert ucs.startswith("FIRING: Kamera Büro ✓ offline")

    braces = fit_sms("{}" * 100)  # every character two septets
    assert sms_length(braces) <= 160 and braces.endswith("...")

    exact = "x" * 160
    assert fit_sms(exact) == exact
    assert sms_text(payload(summary="line\r\nbreak")) == "FIRING: line break"


def _alert(n: int, state: AlertState, name: str) -> Alert:
    at = datetime(2026, 12, 5, 20, 0, n, tzinfo=UTC)
    labels = {"rule": "camera offline", "severity": "critical", "camera": f"c{n}"}
    return Alert(
        id=f"a{n}",
        rule_id="r1",
        rule_name="camera offline",
        fingerprint=f"{n:032d}",
        state=state,
        severity=Severity.CRITICAL,
        labels={**labels, "camera_name": name, "node": "n1", "node_name": "edge-2"},
        summary=f"camera {name} is offline",
        value=30.0,
        active_time=at,
        last_true_time=at,
        firing_time=at,
        resolved_time=at if state is AlertState.RESOLVED else None,
    )


def test_the_dispatchers_payloads_read_well() -> None:
    """Payloads as server/alerts/payload.py renders them (B's), through subject, body and SMS."""
    now = datetime(2026, 12, 5, 20, 1, tzinfo=UTC)
    group = {"rule": "camera offline", "node": "n1"}
    lobby, gate = _alert(1, AlertState.FIRING, "Lobby"), _alert(2, AlertState.FIRING, "Gate")
    both = payloads.render(
        "msg_1",
        policy_name="on-call",
        group_labels=group,
        firing=[lobby, gate],
        resolved=[],
        summary=payloads.summarize([lobby, gate], [], group),
        now=now,
    )
    assert subject(both) == "[camfleet] FIRING (2): 2 camera offline alerts firing on node edge-2"
    body = text_body(both)
    assert "- [critical] camera Lobby is offline\n" in body
    assert "- [critical] camera Gate is offline\n" in body
    assert "    since: 2026-12-05T20:00:01Z\n" in body

    back = _alert(1, AlertState.RESOLVED, "Lobby")
    resolved = payloads.render(
        "msg_2",
        policy_name="on-call",
        group_labels=group,
        firing=[],
        resolved=[back],
        summary=payloads.summarize([], [back], group),
        now=now,
    )
    assert subject(resolved) == "[camfleet] RESOLVED: camera Lobby is offline"
    assert sms_text(resolved) == "RESOLVED: camera Lobby is offline"
    assert "Resolved (1):" in text_body(resolved)
