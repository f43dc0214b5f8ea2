"""Turns domain changes into `camfleet.v1.Event`s on the event log."""

from __future__ import annotations

import logging

from camfleet.v1 import event_pb2

from server.cameras.service import ChangeKind
from server.cameras.servicer import camera_to_proto
from server.db.models import CameraRow, utcnow
from server.events.log import EventLog
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
        try:
            await self._log.append(kind.value, event.subject, event.SerializeToString())
        except Exception:  # the change is committed; a lost event must not fail the call
            log.exception("could not publish %s for %s", kind.value, event.subject)
