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
from server.common.wire import timestamp
from server.eventlog.log import EventLog
from server.placement.model import Placement, PlacementReason
from server.placement.queries import PlacementQueries

REASON_TO_PROTO = {
    PlacementReason.PLACED: camera_pb2.PLACEMENT_REASON_PLACED,
    PlacementReason.NODE_LOST: camera_pb2.PLACEMENT_REASON_NODE_LOST,
    PlacementReason.DRAIN: camera_pb2.PLACEMENT_REASON_DRAIN,
    PlacementReason.REBALANCE: camera_pb2.PLACEMENT_REASON_REBALANCE,
    PlacementReason.SELECTOR: camera_pb2.PLACEMENT_REASON_SELECTOR,
    PlacementReason.UNPLACED: camera_pb2.PLACEMENT_REASON_UNPLACED,
    PlacementReason.PUBLISHED: camera_pb2.PLACEMENT_REASON_PUBLISHED,
    PlacementReason.HANDOVER_DONE: camera_pb2.PLACEMENT_REASON_HANDOVER_DONE,
}


def placement_to_proto(placement: Placement) -> camera_pb2.Placement:
    """API view of one placement decision."""
    return camera_pb2.Placement(
        camera_id=placement.camera_id,
        from_node_id=placement.from_node_id,
        to_node_id=placement.to_node_id,
        reason=REASON_TO_PROTO[placement.reason],
        message=placement.message,
        epoch=placement.epoch,
        time=timestamp(placement.time),
    )


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
