"""Per-kind evaluation: what each rule finds true now, as Findings (server/alerts/model.py).

`evaluate(sources, rule, now)` reads (never writes) and returns the findings with how many
things the rule looked at; the evaluator (server/alerts/evaluator.py) turns them into alert
state, the preview returns them as they are.
"""

from __future__ import annotations

from datetime import datetime

from server.alerts.conditions import cameras, nodes, security
from server.alerts.conditions.common import Evaluation, Sources
from server.alerts.conditions.disk import DiskHistory
from server.alerts.model import (
    CameraError,
    CameraOffline,
    FailedLogins,
    NodeDisk,
    NodeLost,
    RecorderCrashLoop,
    RecordingGap,
    Rule,
    StreamQuality,
    TokenNewAddress,
)
from server.cameras.model import CameraStatus

__all__ = ["DiskHistory", "Evaluation", "Sources", "evaluate"]


async def evaluate(sources: Sources, rule: Rule, now: datetime) -> Evaluation:
    """The rule's findings now."""
    cond = rule.condition
    if isinstance(cond, CameraOffline):
        return await cameras.status(sources, rule, now, CameraStatus.OFFLINE)
    if isinstance(cond, CameraError):
        return await cameras.status(sources, rule, now, CameraStatus.ERROR)
    if isinstance(cond, RecordingGap):
        return await cameras.recording_gap(sources, rule, cond, now)
    if isinstance(cond, RecorderCrashLoop):
        return await cameras.crash_loop(sources, rule, cond, now)
    if isinstance(cond, StreamQuality):
        return await cameras.stream_quality(sources, rule, cond, now)
    if isinstance(cond, NodeLost):
        return await nodes.lost(sources, rule, now)
    if isinstance(cond, NodeDisk):
        return await nodes.disk(sources, rule, cond, now)
    if isinstance(cond, FailedLogins):
        return await security.failed_logins(sources, rule, cond, now)
    if isinstance(cond, TokenNewAddress):
        return await security.token_new_address(sources, rule, now)
    raise ValueError(f"unknown condition {cond!r}")
