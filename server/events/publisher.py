"""Turns domain changes into events on the event log (their payloads: server/events/convert.py).

A change's event is staged in the session that makes the change, so it commits with it (the
outbox, server/db/outbox.py). Live metrics, which are not a change of record, are appended in
their own transaction after the fact. The domains take these methods as callbacks (or through a
Protocol of their own): events are a floor above them.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts.model import Alert
from server.cameras.model import ChangeKind
from server.db.models import CameraRow, RecordingRow
from server.db.outbox import StagedEvent, stage_event
from server.eventlog.log import EventLog
from server.events import convert
from server.nodes.live import LiveStream, NodeView
from server.nodes.registry import NodeChange
from server.placement.model import Placement

log = logging.getLogger(__name__)


def _stage(session: AsyncSession, event: StagedEvent) -> None:
    stage_event(session, event.kind, event.subject, event.payload)


class EventPublisher:
    """One event per change."""

    def __init__(self, log: EventLog) -> None:
        self._log = log

    def camera_changed(
        self, session: AsyncSession, kind: ChangeKind, row: CameraRow, message: str
    ) -> None:
        """Stage a camera change in the transaction that makes it (`row` as it will commit)."""
        _stage(session, convert.camera_event(kind, row, message))

    def recording_state_changed(self, session: AsyncSession, row: CameraRow, message: str) -> None:
        """Stage a change of a camera's recorder state in its transaction."""
        _stage(session, convert.recording_state_event(row, message))

    def recording_added(self, session: AsyncSession, row: RecordingRow, message: str) -> None:
        """Stage a newly indexed segment in its transaction (watchers need recordings.read)."""
        _stage(session, convert.recording_added_event(row, message))

    def storage_tier_changed(self, session: AsyncSession, node_id: str, message: str) -> None:
        """Stage that a node's moves to a storage tier stopped or go again (needs nodes.read)."""
        _stage(session, convert.storage_tier_event(node_id, message))

    def camera_placed(self, session: AsyncSession, placement: Placement) -> None:
        """Stage a placement decision in the transaction that makes it."""
        _stage(session, convert.placement_event(placement))

    def node_changed(
        self,
        session: AsyncSession,
        change: NodeChange,
        node: NodeView,
        message: str,
    ) -> None:
        """Stage a node event (state changed, updated, deleted) in the transaction that makes it."""
        _stage(session, convert.node_event(change, node, message))

    def alert_changed(self, session: AsyncSession, alert: Alert, message: str) -> None:
        """Stage an alert's change (state, acknowledgement) in the transaction that makes it."""
        _stage(session, convert.alert_event(alert, message))

    async def stream_updated(self, stream: LiveStream, message: str) -> None:
        """Publish a change of a live stream's metrics worth showing."""
        await self._append(convert.stream_event(stream, message))

    async def _append(self, event: StagedEvent) -> None:
        try:
            await self._log.append(event.kind, event.subject, event.payload)
        except Exception:  # the change is committed; a lost event must not fail the call
            log.exception("could not publish %s for %s", event.kind, event.subject)
