"""What people read: an e-mail's subject, text and HTML bodies and an SMS, rendered from a
notification's payload (server/alerts/payload.py; its shape is in the README, "Alerts").

Every value in the payload came from somewhere an operator typed (camera and node names,
labels, rule names): the subject is one line without control characters (no header injection
through "Lobby\\r\\nBcc: x@example.org"), the HTML part escapes every value, and an SMS is
one line that fits one message."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import Any

SUBJECT_MAX = 200
# What an alert's line shows of its labels, in this order, when present.
LABEL_ORDER = ("camera_name", "node_name", "site", "user", "address")
# An SMS: 160 GSM-7 septets, or 70 UCS-2 units when any character is not GSM-7.
SMS_GSM_MAX = 160
SMS_UCS2_MAX = 70

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACES = re.compile(r"\s+")

# GSM 03.38: the basic set (1 septet each) and the extension table (2 septets: escape + char).
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = frozenset("^{}\\[~]|€\f")


def one_line(value: object, max_len: int = 0) -> str:
    """`value` as one line: control characters (CR, LF, tabs...) become single spaces, spaces
    are collapsed, and it is cut to `max_len` with "…" (0: no limit)."""
    text = _SPACES.sub(" ", _CONTROL.sub(" ", str(value))).strip()
    if max_len and len(text) > max_len:
        text = text[: max_len - 1].rstrip() + "…"
    return text


def _kind(payload: Mapping[str, Any]) -> str:
    return str(payload.get("kind") or "firing").lower()


def _alerts(payload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        return []
    return [a for a in alerts if isinstance(a, Mapping)]


def _labels(alert: Mapping[str, Any]) -> dict[str, str]:
    labels = alert.get("labels")
    if not isinstance(labels, Mapping):
        return {}
    return {str(k): str(v) for k, v in labels.items()}


def _counts(payload: Mapping[str, Any]) -> tuple[int, int]:
    counts = payload.get("counts")
    alerts = _alerts(payload)
    firing = sum(1 for a in alerts if a.get("state") != "resolved")
    resolved = len(alerts) - firing
    if isinstance(counts, Mapping):
        firing = int(counts.get("firing", firing) or 0)
        resolved = int(counts.get("resolved", resolved) or 0)
    return firing, resolved


def headline(payload: Mapping[str, Any]) -> str:
    """`FIRING: <summary>` (RESOLVED, TEST), one line."""
    kind = _kind(payload)
    summary = one_line(payload.get("summary") or "")
    if not summary:
        alerts = _alerts(payload)
        summary = one_line(alerts[0].get("summary", "")) if alerts else ""
    if kind == "resolved" and summary.lower().startswith("resolved: "):
        # The payload's sentence for a lone resolved alert already says so.
        summary = summary[len("resolved: ") :]
    if kind == "test":
        return f"TEST: {summary or 'a test notification from camfleet'}"
    return f"{kind.upper()}: {summary or 'an alert'}"


def subject(payload: Mapping[str, Any]) -> str:
    """The e-mail subject: `[camfleet] FIRING (3): <summary>`, one line, at most 200
    characters."""
    kind = _kind(payload)
    firing, resolved = _counts(payload)
    count = firing if kind == "firing" else resolved if kind == "resolved" else 0
    tag = kind.upper() + (f" ({count})" if count > 1 else "")
    rest = headline(payload).split(": ", 1)[1]
    return one_line(f"[camfleet] {tag}: {rest}", SUBJECT_MAX)


def alert_details(alert: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (name, value) facts an alert's entry shows: its labels of interest, the rule, the
    value and its times."""
    labels = _labels(alert)
    facts = [(name.replace("_name", ""), labels[name]) for name in LABEL_ORDER if labels.get(name)]
    facts.append(("rule", str(alert.get("rule") or labels.get("rule", ""))))
    value = alert.get("value")
    if isinstance(value, int | float) and value:
        facts.append(("value", f"{value:g}"))
    for name, key in (("since", "active_at"), ("firing", "firing_at"), ("resolved", "resolved_at")):
        if alert.get(key):
            facts.append((name, str(alert[key])))
    if alert.get("acknowledged"):
        facts.append(("acknowledged", "yes"))
    return [(name, one_line(v, 300)) for name, v in facts if v]


def _sections(payload: Mapping[str, Any]) -> Iterable[tuple[str, list[Mapping[str, Any]]]]:
    alerts = _alerts(payload)
    firing = [a for a in alerts if a.get("state") != "resolved"]
    resolved = [a for a in alerts if a.get("state") == "resolved"]
    if firing:
        yield f"Firing ({len(firing)})", firing
    if resolved:
        yield f"Resolved ({len(resolved)})", resolved


def _footer(payload: Mapping[str, Any]) -> list[tuple[str, str]]:
    facts = []
    if payload.get("policy"):
        facts.append(("Policy", one_line(payload["policy"], 200)))
    group = payload.get("group_labels")
    if isinstance(group, Mapping) and group:
        facts.append(("Group", one_line(", ".join(f"{k}={v}" for k, v in sorted(group.items())))))
    facts.append(("Notification", one_line(payload.get("id", ""), 100)))
    if payload.get("created_at"):
        facts.append(("Created", one_line(payload["created_at"], 100)))
    return facts


def text_body(payload: Mapping[str, Any], notes: Iterable[str] = ()) -> str:
    """The plain-text body; `notes` are extra lines (such as "no snapshot: <why>")."""
    lines = [headline(payload), ""]
    for title, alerts in _sections(payload):
        lines.append(f"{title}:")
        for alert in alerts:
            severity = one_line(alert.get("severity", ""), 20)
            lines.append(f"- [{severity}] {one_line(alert.get('summary', ''), 500)}")
            lines.extend(f"    {name}: {value}" for name, value in alert_details(alert))
        lines.append("")
    lines.extend(one_line(note, 500) for note in notes)
    if notes:
        lines.append("")
    lines.extend(f"{name}: {value}" for name, value in _footer(payload))
    return "\n".join(lines) + "\n"


def html_body(payload: Mapping[str, Any], notes: Iterable[str] = ()) -> str:
    """The HTML body: the same content as the text, every value escaped."""

    def e(value: object) -> str:
        return html.escape(str(value), quote=True)

    color = {"firing": "#b00020", "resolved": "#1b5e20"}.get(_kind(payload), "#333333")
    parts = [
        '<!DOCTYPE html><html><body style="font-family: sans-serif">',
        f'<h2 style="color: {color}">{e(headline(payload))}</h2>',
    ]
    for title, alerts in _sections(payload):
        parts.append(f"<h3>{e(title)}</h3><ul>")
        for alert in alerts:
            parts.append(
                f"<li><b>[{e(one_line(alert.get('severity', ''), 20))}]</b> "
                f"{e(one_line(alert.get('summary', ''), 500))}<table>"
            )
            parts.extend(
                f"<tr><td>{e(name)}</td><td>{e(value)}</td></tr>"
                for name, value in alert_details(alert)
            )
            parts.append("</table></li>")
        parts.append("</ul>")
    parts.extend(f"<p>{e(one_line(note, 500))}</p>" for note in notes)
    parts.append('<p style="color: #666666; font-size: small">')
    parts.append("<br>".join(f"{e(name)}: {e(value)}" for name, value in _footer(payload)))
    parts.append("</p></body></html>")
    return "\n".join(parts) + "\n"


# --- SMS -------------------------------------------------------------------------------------


def is_gsm7(text: str) -> bool:
    """Whether every character is in GSM 03.38 (basic set or extension table)."""
    return all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in text)


def sms_length(text: str) -> int:
    """Units the text takes in one SMS: GSM-7 septets (extension characters count 2), else
    UTF-16 code units (a character beyond the BMP counts 2)."""
    if is_gsm7(text):
        return sum(2 if c in _GSM_EXTENDED else 1 for c in text)
    return len(text.encode("utf-16-be")) // 2


def sms_limit(text: str) -> int:
    """How many units one SMS holds for this text: 160 for GSM-7, else 70."""
    return SMS_GSM_MAX if is_gsm7(text) else SMS_UCS2_MAX


def fit_sms(text: str) -> str:
    """`text` as one line that fits one SMS, cut with an ellipsis when longer. A GSM-7 text
    ends in "..." (the "…" character is not GSM-7: it would turn the whole message into UCS-2
    and cut it to 70 characters); a UCS-2 text ends in "…"."""
    text = one_line(text)
    if sms_length(text) <= sms_limit(text):
        return text
    gsm = is_gsm7(text)
    ellipsis = "..." if gsm else "…"
    limit = sms_limit(text) - sms_length(ellipsis)
    out = text
    while out and sms_length(out) > limit:
        out = out[:-1]
    return out.rstrip() + ellipsis


def sms_text(payload: Mapping[str, Any]) -> str:
    """The SMS: `FIRING: <summary>` (the group's sentence), fitted to one SMS."""
    return fit_sms(headline(payload))
