"""What every kind's evaluation shares: its inputs (the session, presence, the disk history),
its result (findings and how many things were looked at), and the labels an alert carries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts.conditions.disk import DiskHistory
from server.alerts.model import Finding, Rule
from server.nodes.presence import Presence


@dataclass
class Sources:
    """What a rule reads: the database (one read transaction), the live presence (streams,
    host metrics; None: those kinds find nothing) and the disk samples the evaluator keeps."""

    session: AsyncSession
    presence: Presence | None = None
    disks: DiskHistory = field(default_factory=DiskHistory)
    # Count what a rule looks at (a preview says it; the evaluator does not need it).
    count: bool = False


@dataclass
class Evaluation:
    """A rule's findings now, and how many cameras, nodes, users or addresses it looked at."""

    findings: list[Finding]
    evaluated: int


def alert_labels(rule: Rule, own: Mapping[str, str], about: Mapping[str, str]) -> dict[str, str]:
    """An alert's labels: the thing's own labels, then the rule's, then what it is about
    (camera, node, user...: never overridden), then rule and severity. Empty values dropped."""
    labels = {**own, **rule.labels, **about, "rule": rule.name, "severity": rule.severity.value}
    return {k: v for k, v in labels.items() if v != ""}


def ago(since: datetime, now: datetime) -> float:
    """Seconds from `since` to `now` (0 when `since` is later)."""
    return max(0.0, (now - since).total_seconds())


def spoken(seconds: float) -> str:
    """2 min, 1.5 h, 40 s."""
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days".replace(".0 ", " ")
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h".replace(".0 ", " ")
    if seconds >= 60:
        return f"{seconds // 60:.0f} min"
    return f"{seconds:.0f} s"
