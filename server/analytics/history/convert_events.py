"""Event-log payloads (`camfleet.v1.Event`) as state changes: the history's one edge module.

The outbox stores each camera and node change as the API's Event message; the interval writer
needs only who changed, to what, and when. The time is the change's own (a camera's
status_change_time; a node's event time, set in the transaction that changed its state), not
the time the writer reads it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from camfleet.v1 import camera_pb2, event_pb2, node_pb2

CAMERA = "camera"
NODE = "node"

_CAMERA_KINDS = {"camera.created", "camera.updated", "camera.status_changed", "camera.deleted"}
_NODE_KINDS = {
    "EVENT_TYPE_NODE_JOINED",
    "EVENT_TYPE_NODE_STATE_CHANGED",
    "EVENT_TYPE_NODE_UPDATED",
    "EVENT_TYPE_NODE_DELETED",
}
KINDS = frozenset(_CAMERA_KINDS | _NODE_KINDS)


@dataclass(frozen=True)
class StateChange:
    """A camera's or node's state as of `at` (deleted: it no longer exists from `at`)."""

    subject_kind: str
    subject_id: str
    state: str
    reason: str
    at: datetime
    deleted: bool = False


def _time(ts: object) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)  # type: ignore[attr-defined, no-any-return]


def state_change(kind: str, payload: bytes) -> StateChange | None:
    """The change an event of `kind` carries, or None when it carries none."""
    if kind not in KINDS:
        return None
    event = event_pb2.Event.FromString(payload)
    at = _time(event.time)
    if kind in _CAMERA_KINDS and event.HasField("camera"):
        camera = event.camera
        status = camera_pb2.CameraStatus.Name(camera.status).removeprefix("CAMERA_STATUS_")
        if camera.HasField("status_change_time") and kind != "camera.deleted":
            at = _time(camera.status_change_time)
        return StateChange(
            CAMERA, camera.id, status.lower(), camera.status_reason, at, kind == "camera.deleted"
        )
    if kind in _NODE_KINDS and event.HasField("node"):
        node = event.node
        state = node_pb2.NodeState.Name(node.state).removeprefix("NODE_STATE_")
        return StateChange(
            NODE, node.id, state.lower(), node.state_reason, at, kind == "EVENT_TYPE_NODE_DELETED"
        )
    return None
