"""Domain changes as `camfleet.v1.Event` payloads: the one events module besides the servicer
that builds API messages. Each function returns the event as the outbox stores it."""

from __future__ import annotations

from typing import Any

from camfleet.v1 import event_pb2

from server.alerts.convert import alert_to_proto
from server.alerts.model import Alert
from server.cameras.convert import camera_to_proto
from server.cameras.model import ChangeKind
from server.common.wire import timestamp
from server.db.models import CameraRow, RecordingRow, utcnow
from server.db.outbox import StagedEvent
from server.events.filtering import EventTypes
from server.nodes.convert import node_view_to_proto, stream_to_proto
from server.nodes.live import LiveStream, NodeView
from server.nodes.registry import NodeChange
from server.placement.convert import placement_to_proto
from server.placement.model import Placement
from server.recordings.convert import recording_to_proto

_CAMERA_TYPES = {
    ChangeKind.CREATED: event_pb2.EVENT_TYPE_CAMERA_CREATED,
    ChangeKind.UPDATED: event_pb2.EVENT_TYPE_CAMERA_UPDATED,
    ChangeKind.DELETED: event_pb2.EVENT_TYPE_CAMERA_DELETED,
    ChangeKind.STATUS_CHANGED: event_pb2.EVENT_TYPE_CAMERA_STATUS_CHANGED,
}
_NODE_TYPES = {
    NodeChange.JOINED: event_pb2.EVENT_TYPE_NODE_JOINED,
    NodeChange.STATE_CHANGED: event_pb2.EVENT_TYPE_NODE_STATE_CHANGED,
    NodeChange.UPDATED: event_pb2.EVENT_TYPE_NODE_UPDATED,
    NodeChange.DELETED: event_pb2.EVENT_TYPE_NODE_DELETED,
}


# The event types a WatchEvents filter names: each EventType with or without its EVENT_TYPE_
# prefix. UNSPECIFIED is accepted (no event has it) but not offered.
FILTER_TYPES = EventTypes(
    by_name={
        spelling: value
        for name, value in event_pb2.EventType.items()
        for spelling in (name, name.removeprefix("EVENT_TYPE_"))
    },
    offered=tuple(n.removeprefix("EVENT_TYPE_") for n in event_pb2.EventType.keys()[1:]),
)


def _stored(kind: str, event: event_pb2.Event) -> StagedEvent:
    return StagedEvent(kind, event.subject, event.SerializeToString())


def _event(
    event_type: event_pb2.EventType, subject: str, message: str, **resource: Any
) -> event_pb2.Event:
    """An event about `subject`; `resource` is its one resource field (camera=..., ...)."""
    return event_pb2.Event(
        type=event_type, time=timestamp(utcnow()), subject=subject, message=message, **resource
    )


def _camera(event_type: event_pb2.EventType, row: CameraRow, message: str) -> event_pb2.Event:
    # The stored camera is complete (stream key included); the servicer strips secrets per
    # watcher.
    return _event(
        event_type, f"cameras/{row.id}", message, camera=camera_to_proto(row, show_secrets=True)
    )


def camera_event(kind: ChangeKind, row: CameraRow, message: str) -> StagedEvent:
    """A camera created, updated, deleted or whose status changed."""
    return _stored(kind.value, _camera(_CAMERA_TYPES[kind], row, message))


def recording_state_event(row: CameraRow, message: str) -> StagedEvent:
    """A camera's recorder state changed."""
    event = _camera(event_pb2.EVENT_TYPE_RECORDING_STATE_CHANGED, row, message)
    return _stored("camera.recording_state_changed", event)


def recording_added_event(row: RecordingRow, message: str) -> StagedEvent:
    """A segment was indexed."""
    event = _event(
        event_pb2.EVENT_TYPE_RECORDING_ADDED,
        f"recordings/{row.id}",
        message,
        recording=recording_to_proto(row),
    )
    return _stored("recording.added", event)


def storage_tier_event(node_id: str, message: str) -> StagedEvent:
    """A node's moves to a storage tier stopped or go again (subject: the node)."""
    event = _event(event_pb2.EVENT_TYPE_STORAGE_TIER_CHANGED, f"nodes/{node_id}", message)
    return _stored("node.storage_tier_changed", event)


def placement_event(placement: Placement) -> StagedEvent:
    """A camera was placed on, moved to or taken off a node (subject: the camera)."""
    event = _event(
        event_pb2.EVENT_TYPE_CAMERA_PLACED,
        f"cameras/{placement.camera_id}",
        placement.message,
        placement=placement_to_proto(placement),
    )
    return _stored("camera.placed", event)


def node_event(change: NodeChange, node: NodeView, message: str) -> StagedEvent:
    """A node's state changed, or it was updated or deleted (with its live facts and load)."""
    event_type = _NODE_TYPES[change]
    event = _event(event_type, f"nodes/{node.row.id}", message, node=node_view_to_proto(node))
    return _stored(event_pb2.EventType.Name(event_type), event)


def stream_event(stream: LiveStream, message: str) -> StagedEvent:
    """A live stream's metrics changed enough to show."""
    event = _event(
        event_pb2.EVENT_TYPE_STREAM_UPDATED,
        f"streams/{stream.camera_id}",
        message,
        stream=stream_to_proto(stream),
    )
    return _stored("stream.updated", event)


def alert_event(alert: Alert, message: str) -> StagedEvent:
    """An alert became pending, firing or resolved, or was acknowledged (watchers need
    alerts.read)."""
    event = _event(
        event_pb2.EVENT_TYPE_ALERT_CHANGED,
        f"alerts/{alert.id}",
        message,
        alert=alert_to_proto(alert),
    )
    return _stored("alert.changed", event)
