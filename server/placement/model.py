"""Placement in domain terms: why a camera moved, and one decision as the history keeps it.

The wire form is camera.proto's Placement (server/placement/convert.py); the row is
server/db/models/placement.py's PlacementRow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class PlacementReason(StrEnum):
    """Why a camera was put on, moved to or taken off a node (stored as the value)."""

    PLACED = "placed"
    NODE_LOST = "node_lost"
    DRAIN = "drain"
    REBALANCE = "rebalance"
    SELECTOR = "selector"
    UNPLACED = "unplaced"
    PUBLISHED = "published"
    HANDOVER_DONE = "handover_done"


@dataclass(frozen=True)
class Placement:
    """One placement decision. Empty node ids: the camera had, or now has, no node."""

    camera_id: str
    from_node_id: str
    to_node_id: str
    reason: PlacementReason
    message: str
    epoch: int
    time: datetime
