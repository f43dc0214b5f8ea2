"""Turns domain changes into `camfleet.v1.Event`s on the event log.

A change's event is staged in the session that makes the change, so it commits with it (the
outbox, server/db/outbox.py). Live metrics and node events, which the nodes code still commits
on its own, are appended in their own transaction after the fact.
"""

from __future__ import annotations

import logging

from camfleet.v1 import event_pb2
from sqlalchemy.ext.asyncio import AsyncSession

from server.cameras.convert import camera_to_proto
from server.cameras.service import ChangeKind
from server.db.models import CameraRow, NodeRow, RecordingRow, utcnow
from server.db.outbox import stage_event
from server.events.log import EventLog
from server.nodes.convert import node_to_proto, stream_to_proto
from server.nodes.live import LiveStream, NodeLive
from server.recordings.convert import recording_to_proto
from server.transport.convert import timestamp

log = logging.getLogger(__name__)

_TYPES = {
    ChangeKind.CREATED: event_pb2.EVENT_TYPE_CAMERA_CREATED,
    ChangeKind.UPDATED: event_pb2.EVENT_TYPE_CAMERA_UPDATED,
    ChangeKind.DELETED: event_pb2.EVENT_TYPE_CAMERA_DELETED,
    ChangeKind.STATUS_CHANGED: event_pb2.EVENT_TYPE_CAMERA_STATUS_CHANGED,
}


def _stage(session: AsyncSession, kind: str, event: event_pb2.Event) -> None:
    stage_event(session, kind, event.subject, event.SerializeToString())


def _camera_event(event_type: event_pb2.EventType, row: CameraRow, message: str) -> event_pb2.Event:
    return event_pb2.Event(
        type=event_type,
        time=timestamp(utcnow()),
        subject=f"cameras/{row.id}",
        message=message,
        camera=camera_to_proto(row, show_secrets=True),
    )


class EventPublisher:
    """One event per change. The stored camera is complete (stream key included); the
    EventService strips secrets per watcher."""

    def __init__(self, log: EventLog) -> None:
        self._log = log

    def camera_changed(
        self, session: AsyncSession, kind: ChangeKind, row: CameraRow, message: str
    ) -> None:
        """Stage a camera change in the transaction that makes it (`row` as it will commit)."""
        _stage(session, kind.value, _camera_event(_TYPES[kind], row, message))

    def recording_state_changed(self, session: AsyncSession, row: CameraRow, message: str) -> None:
        """Stage a change of a camera's recorder state in its transaction."""
        event = _camera_event(event_pb2.EVENT_TYPE_RECORDING_STATE_CHANGED, row, message)
        _stage(session, "camera.recording_state_changed", event)

    def recording_added(self, session: AsyncSession, row: RecordingRow, message: str) -> None:
        """Stage a newly indexed segment in its transaction (watchers need recordings.read)."""
        event = event_pb2.Event(
            type=event_pb2.EVENT_TYPE_RECORDING_ADDED,
            time=timestamp(utcnow()),
            subject=f"recordings/{row.id}",
            message=message,
            recording=recording_to_proto(row),
        )
        _stage(session, "recording.added", event)

    async def node_changed(
        self,
        event_type: event_pb2.EventType,
        row: NodeRow,
        message: str,
        live: NodeLive | None = None,
    ) -> None:
        """Publish a node event (joined, state changed, updated, deleted) after its commit."""
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

    async def _append(self, kind: str, event: event_pb2.Event) -> None:
        try:
            await self._log.append(kind, event.subject, event.SerializeToString())
        except Exception:  # the change is committed; a lost event must not fail the call
            log.exception("could not publish %s for %s", kind, event.subject)
