"""What the agent hub is built from, grouped by role (server/app.py assembles them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from server.audit.log import AuditLog
from server.cameras.status import CameraStatusWriter
from server.eventlog.log import EventLog
from server.nodes.assignments import AssignmentBuilder
from server.nodes.live import LiveStream
from server.nodes.presence import Presence
from server.nodes.registry import NodeRegistry
from server.nodes.stream_events import StreamEventStore
from server.recordings.ingest import RecordingIngest


@dataclass(frozen=True)
class NodeStores:
    """Where node and camera state lives: the database's parts and presence."""

    registry: NodeRegistry
    presence: Presence
    status: CameraStatusWriter
    stream_events: StreamEventStore
    assignments: AssignmentBuilder
    recordings: RecordingIngest


class StreamFeed(Protocol):
    """Where a live stream's metrics go when they change enough to show (the event publisher;
    injected, as events are a floor above this domain). Live metrics are not a change of
    record, so they are appended after the fact rather than staged in a transaction."""

    async def stream_updated(self, stream: LiveStream, message: str) -> None:
        """Publish the stream's new metrics."""
        ...


@dataclass(frozen=True)
class HubFeeds:
    """The logs the hub writes to and follows."""

    publisher: StreamFeed
    audit: AuditLog
    events: EventLog


@dataclass(frozen=True)
class SessionTerms:
    """What every agent is told in Welcome, and how long a node may stay silent."""

    heartbeat_interval: timedelta
    lost_after: timedelta
    startup_grace: timedelta
    playback_secret: bytes
