"""Placement decisions ⇄ camfleet.v1 messages (the CAMERA_PLACED event and ListPlacements)."""

from __future__ import annotations

from camfleet.v1 import camera_pb2

from server.common.wire import timestamp
from server.placement.model import Placement, PlacementReason

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
