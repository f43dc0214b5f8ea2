"""Live stream status: presence for live streams, the camera row for the rest."""

from __future__ import annotations

import time

from camfleet.v1 import camera_pb2, stream_pb2

from server.cameras.service import CameraService
from server.cameras.servicer import camera_to_proto
from server.common.listing import ListRequest, Page
from server.common.validation import require_id
from server.db.models import StreamEventRow
from server.nodes.presence import Presence
from server.nodes.stream_events import StreamEventStore

_LIVE = (camera_pb2.CAMERA_STATUS_CONNECTING, camera_pb2.CAMERA_STATUS_ONLINE)


def _with_uptime(stream: stream_pb2.StreamStatus) -> stream_pb2.StreamStatus:
    if stream.HasField("publish_start_time") and stream.status in _LIVE:
        stream.uptime_seconds = max(0, int(time.time()) - stream.publish_start_time.seconds)
    return stream


class StreamQueries:
    """Answers StreamService."""

    def __init__(
        self, cameras: CameraService, presence: Presence, events: StreamEventStore
    ) -> None:
        self._cameras = cameras
        self._presence = presence
        self._events = events

    async def get(self, camera_id: str) -> stream_pb2.StreamStatus:
        """A camera's stream: live metrics when it streams, else its status and reason."""
        camera = camera_to_proto(await self._cameras.get(camera_id), show_secrets=False)
        live = await self._presence.streams([camera.id]) if camera.status in _LIVE else []
        if live:
            stream = live[0]
            stream.status = camera.status
            return _with_uptime(stream)
        return stream_pb2.StreamStatus(
            camera_id=camera.id,
            status=camera.status,
            status_reason=camera.status_reason,
            node_id=camera.node_id if camera.status in _LIVE else "",
            update_time=camera.status_change_time,
        )

    async def list(self, node_id: str) -> list[stream_pb2.StreamStatus]:
        """Every live stream, or those on one node."""
        if node_id:
            require_id(node_id, "node_id")
        streams = await self._presence.streams()
        return sorted(
            (_with_uptime(s) for s in streams if not node_id or s.node_id == node_id),
            key=lambda s: s.camera_id,
        )

    async def events(self, camera_id: str, request: ListRequest) -> Page[StreamEventRow]:
        """A camera's stream events, newest first."""
        return await self._events.list(camera_id, request)
