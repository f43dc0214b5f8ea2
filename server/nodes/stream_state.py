"""The camera stream-state machine of one agent session, as pure functions.

Each camera a session has heard of is in one `CameraStream` state: CONNECTING (published, no
media yet), ONLINE (media flowing), or ended (OFFLINE after an unpublish, ERROR). A transition
takes the camera's state and what the node said — its Hello, a stream event, a heartbeat's
report — and returns the new state and the effects the session must carry out (write a camera
status, forget the live stream, audit a refused publish). Nothing here does I/O, so every
transition is tested on its own (tests/server/nodes/test_stream_state.py).

Every state remembers when, on the node's clock, it began: an event older than that (a replay
from the agent's spool after a reconnect, or a MEDIA event a heartbeat already overtook) changes
nothing. The camera status writer applies the same rule against the database, where a status
set by another node or replica also counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from server.cameras.model import CameraStatus
from server.nodes.live import LIVE_STATUSES, StreamEvent, StreamEventKind, StreamReport


@dataclass(frozen=True)
class CameraStream:
    """A camera's stream state in one session, since `since` (the node's time)."""

    status: CameraStatus
    since: datetime

    @property
    def live(self) -> bool:
        """CONNECTING or ONLINE: shown in presence and kept fresh by heartbeats."""
        return self.status in LIVE_STATUSES


@dataclass(frozen=True)
class SetStatus:
    """Write the camera's status (the writer may still refuse a stale or foreign report)."""

    camera_id: str
    status: CameraStatus
    reason: str
    at: datetime


@dataclass(frozen=True)
class StreamEnded:
    """The stream is gone: presence and the metrics throttle forget it."""

    camera_id: str


@dataclass(frozen=True)
class PublishRefused:
    """The node refused a publisher: an audited security event."""

    camera_id: str
    reason: str
    remote_address: str
    key_prefix: str


Effect = SetStatus | StreamEnded | PublishRefused


@dataclass(frozen=True)
class Transition:
    """A camera's state after a step (None: unknown to the session) and what to do about it."""

    state: CameraStream | None
    effects: tuple[Effect, ...] = ()


# Reasons users read on an ended camera when the node gave none.
UNPUBLISHED = "the publisher disconnected"
FAILED = "the node reported an error"
_REASON_CHARS = 500


def on_hello(report: StreamReport, at: datetime) -> CameraStream:
    """A stream the node says is live when it (re)connects: that is the truth from now on,
    whatever older events said (the session reconciles the database to it)."""
    status = CameraStatus.ONLINE if report.media_flowing else CameraStatus.CONNECTING
    return CameraStream(status, at)


def reconciled(states: dict[str, CameraStream]) -> dict[str, CameraStatus]:
    """camera id -> status of every live stream (what a Hello reconciles the cameras to)."""
    return {camera_id: s.status for camera_id, s in states.items() if s.live}


def on_event(current: CameraStream | None, event: StreamEvent) -> Transition:
    """A stream event from the node's spool."""
    if event.kind is StreamEventKind.REFUSED:
        refused = PublishRefused(
            event.camera_id, event.message[:_REASON_CHARS], event.remote_address, event.key_prefix
        )
        return Transition(current, (refused,))
    if not event.camera_id or (current is not None and event.at < current.since):
        return Transition(current)
    camera_id, at = event.camera_id, event.at
    if event.kind is StreamEventKind.PUBLISH:
        status, reason = CameraStatus.CONNECTING, ""
    elif event.kind is StreamEventKind.MEDIA:
        status, reason = CameraStatus.ONLINE, ""
    elif event.kind is StreamEventKind.UNPUBLISH:
        status, reason = CameraStatus.OFFLINE, event.message[:_REASON_CHARS] or UNPUBLISHED
    else:
        status, reason = CameraStatus.ERROR, event.message[:_REASON_CHARS] or FAILED
    effects: tuple[Effect, ...] = (SetStatus(camera_id, status, reason, at),)
    if status not in LIVE_STATUSES:
        effects += (StreamEnded(camera_id),)
    return Transition(CameraStream(status, at), effects)


def on_report(
    current: CameraStream | None, report: StreamReport, at: datetime
) -> Transition | None:
    """A heartbeat's report of one stream. Only a live stream's report counts (its PUBLISH may
    still be in the spool, or it already ended); one that shows media flowing while the camera
    is CONNECTING makes it ONLINE without waiting for the MEDIA event behind it. None: the
    report changes nothing, as for nearly every report (an ONLINE stream's, ten per heartbeat),
    so that case allocates nothing."""
    if (
        current is not None
        and current.status is CameraStatus.CONNECTING
        and report.media_flowing
        and at >= current.since
    ):
        online = CameraStream(CameraStatus.ONLINE, at)
        return Transition(online, (SetStatus(report.camera_id, CameraStatus.ONLINE, "", at),))
    return None
