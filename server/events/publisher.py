"""Turns domain changes into `camfleet.v1.Event`s on the event log."""

from __future__ import annotations

import logging

from camfleet.v1 import event_pb2, recording_pb2

from server.cameras.service import ChangeKind
from server.cameras.servicer import camera_to_proto
from server.db.models import CameraRow, NodeRow, utcnow
from server.events.log import EventLog
from server.nodes.convert import node_to_proto, stream_to_proto
from server.nodes.live import LiveStream, NodeLive
from server.transport.convert import timestamp

log = logging.getLogger(__name__)

_TYPES = {
    ChangeKind.CREATED: event_pb2.EVENT_TYPE_CAMERA_CREATED,
    ChangeKind.UPDATED: event_pb2.EVENT_TYPE_CAMERA_UPDATED,
    ChangeKind.DELETED: event_pb2.EVENT_TYPE_CAMERA_DELETED,
    ChangeKind.STATUS_CHANGED: event_pb2.EVENT_TYPE_CAMERA_STATUS_CHANGED,
}


class EventPublisher:
    """Appends one event per committed change. The stored camera is complete (stream key
    included); the EventService strips secrets per watcher."""

    def __init__(self, log: EventLog) -> None:
        self._log = log

    async def camera_changed(self, kind: ChangeKind, row: CameraRow, message: str) -> None:
        """Publish a camera change (called after the change committed)."""
        event = event_pb2.Event(
            type=_TYPES[kind],
            time=timestamp(utcnow()),
            subject=f"cameras/{row.id}",
            message=message,
            camera=camera_to_proto(row, show_secrets=True),
        )
        await self._append(kind.value, event)

    async def node_changed(
        self,
        event_type: event_pb2.EventType,
        row: NodeRow,
        message: str,
        live: NodeLive | None = None,
    ) -> None:
        """Publish a node event (joined, state changed, updated, deleted)."""
        event = event_pb2.Event(
            type=event_type,
            time=timestamp(utcnow()),
            subject=f"nodes/{row.id}",
            message=message,
            node=node_to_proto(row, live),
        )
        await self._append(event_pb2.EventType.Name(event_type), event)

    async def stream_updated(self, stream: LiveStream, message: str) -> None:
        """Publish a change of a live stream's metrics worth showing."""
        event = event_pb2.Event(
            type=event_pb2.EVENT_TYPE_STREAM_UPDATED,
            time=timestamp(utcnow()),
            subject=f"streams/{stream.camera_id}",
            message=message,
            stream=stream_to_proto(stream),
        )
        await self._append("stream.updated", event)

    async def recording_state_changed(self, row: CameraRow, message: str) -> None:
        """Publish a change of a camera's recorder state (after it committed)."""
        event = event_pb2.Event(
            type=event_pb2.EVENT_TYPE_RECORDING_STATE_CHANGED,
            time=timestamp(utcnow()),
            subject=f"cameras/{row.id}",
            message=message,
            camera=camera_to_proto(row, show_secrets=True),
        )
        await self._append("camera.recording_state_changed", event)

    async def recording_added(self, recording: recording_pb2.Recording, message: str) -> None:
        """Publish a newly indexed segment (watchers need recordings.read to see it)."""
        event = event_pb2.Event(
            type=event_pb2.EVENT_TYPE_RECORDING_ADDED,
            time=timestamp(utcnow()),
            subject=f"recordings/{recording.id}",
            message=message,
            recording=recording,
        )
        await self._append("recording.added", event)

    async def _append(self, kind: str, event: event_pb2.Event) -> None:
        try:
            await self._log.append(kind, event.subject, event.SerializeToString())
        except Exception:  # the change is committed; a lost event must not fail the call
            log.exception("could not publish %s for %s", kind, event.subject)
