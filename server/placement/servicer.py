"""CameraService.ListPlacements: the camera servicer, plus the one method that reads placement
history.

CameraService is one gRPC service, but placement history is a floor above the cameras domain
(server.placement imports server.cameras, never the reverse), so the method is added here by
subclassing and app.py registers this class as the CameraService.
"""

from __future__ import annotations

from typing import Any

from camfleet.v1 import camera_pb2

from server.cameras.service import CameraService
from server.cameras.servicer import CameraServicer
from server.eventlog.log import EventLog
from server.placement.convert import placement_to_proto
from server.placement.queries import PlacementQueries


class CameraPlacementServicer(CameraServicer):
    """Camera management with placement history."""

    def __init__(
        self, cameras: CameraService, events: EventLog, placements: PlacementQueries
    ) -> None:
        super().__init__(cameras, events)
        self._placements = placements

    async def ListPlacements(
        self, request: camera_pb2.ListPlacementsRequest, context: Any
    ) -> camera_pb2.ListPlacementsResponse:
        page = await self._placements.list(request.camera_id, request.page_size, request.page_token)
        return camera_pb2.ListPlacementsResponse(
            placements=[placement_to_proto(p) for p in page.placements],
            next_page_token=page.next_page_token,
        )
