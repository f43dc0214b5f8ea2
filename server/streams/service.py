"""Live stream status: presence for live streams, the camera row for the rest."""

from __future__ import annotations

from dataclasses import replace

from server.cameras.model import CameraStatus
from server.cameras.service import CameraService
from server.common.listing import ListRequest, Page
from server.common.validation import require_id
from server.db.models import StreamEventRow
from server.nodes.live import LIVE_STATUSES, LiveStream
from server.nodes.presence import Presence
from server.nodes.stream_events import StreamEventStore


class StreamQueries:
    """Answers StreamService."""

    def __init__(
        self, cameras: CameraService, presence: Presence, events: StreamEventStore
    ) -> None:
        self._cameras = cameras
        self._presence = presence
        self._events = events

    async def get(self, camera_id: str) -> LiveStream:
        """A camera's stream: live metrics when it streams, else its status and reason."""
        camera = await self._cameras.get(camera_id)
        status = CameraStatus(camera.status)
        live = await self._presence.streams([camera.id]) if status in LIVE_STATUSES else []
        if live:
            # The camera row has the status; presence may lag behind it by a heartbeat.
            return replace(live[0], status=status)
        return LiveStream(
            camera_id=camera.id,
            status=status,
            status_reason=camera.status_reason,
            node_id=(camera.node_id or "") if status in LIVE_STATUSES else "",
            updated=camera.status_changed_at,
        )

    async def list(self, node_id: str) -> list[LiveStream]:
        """Every live stream, or those on one node."""
        if node_id:
            require_id(node_id, "node_id")
        streams = await self._presence.streams()
        return sorted(
            (s for s in streams if not node_id or s.node_id == node_id),
            key=lambda s: s.camera_id,
        )

    async def events(self, camera_id: str, request: ListRequest) -> Page[StreamEventRow]:
        """A camera's stream events, newest first."""
        return await self._events.list(camera_id, request)
