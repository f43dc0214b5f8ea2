"""The fleet as placement sees it: nodes, cameras, and a decision about one camera (the
planner's vocabulary, shared with the store that applies decisions and the scheduler)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from server.placement.model import PlacementReason

# Capacity 0 means unlimited: measured against this instead.
UNLIMITED = 1_000_000


@dataclass(frozen=True)
class PlanNode:
    """A node as placement sees it."""

    id: str
    name: str
    ready: bool
    cordoned: bool = False
    draining: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    capacity: int = 0
    # CPU cores the agent said it may use (0: not said, no core limit).
    cpu_cores: float = 0.0

    @property
    def schedulable(self) -> bool:
        """May get new cameras (it keeps the ones it has while READY either way)."""
        return self.ready and not self.cordoned and not self.draining

    def matches(self, selector: Mapping[str, str]) -> bool:
        """Its labels hold every pair of `selector`."""
        return all(self.labels.get(k) == v for k, v in selector.items())


@dataclass(frozen=True)
class PlanCamera:
    """A camera as placement sees it."""

    id: str
    name: str
    pull: bool
    active: bool
    node_id: str | None = None
    handover_node_id: str | None = None
    selector: Mapping[str, str] = field(default_factory=dict)
    epoch: int = 0
    # Why it waits for a node (stored as the camera's placement_reason).
    waiting: str = ""
    # When it last changed node (seconds, any clock the caller keeps consistent); rebalance
    # never moves a camera moved recently.
    moved_at: float = float("-inf")
    # CPU cores it costs its node: its live ladder priced by server/placement/cost.py.
    cores: float = 0.0

    @property
    def wants_node(self) -> bool:
        return self.pull and self.active


class Action(enum.StrEnum):
    """What a decision does to the camera row."""

    # node_id := to (None: unplaced), handover cleared.
    MOVE = "move"
    # handover_node_id := to; the camera stays on its node until the target is ONLINE.
    HANDOVER = "handover"
    # handover_node_id := None (the target went away, or the camera no longer needs moving).
    CANCEL_HANDOVER = "cancel_handover"
    # Only the waiting reason changes: no node may take it.
    WAIT = "wait"


@dataclass(frozen=True)
class Decision:
    """One change to one camera's placement. `epoch` is the camera's epoch the decision was
    made against: the store applies it only if the row still has it (and the same nodes)."""

    camera_id: str
    action: Action
    from_node_id: str | None
    to_node_id: str | None
    reason: PlacementReason
    message: str
    epoch: int
    handover_node_id: str | None = None
    waiting: str = ""


def after(camera: PlanCamera, decision: Decision, now: float) -> PlanCamera:
    """The camera once `decision` is applied (the store does the same to the row)."""
    if decision.action is Action.WAIT:
        return replace(camera, waiting=decision.waiting)
    if decision.action is Action.CANCEL_HANDOVER:
        return replace(camera, handover_node_id=None, epoch=camera.epoch + 1)
    if decision.action is Action.HANDOVER:
        return replace(
            camera,
            handover_node_id=decision.handover_node_id,
            epoch=camera.epoch + 1,
            moved_at=now,
        )
    # A first placement counts as a move for rebalance's quiet period too: a fleet that is
    # still settling (nodes joining, push cameras finding their homes) is not reshuffled.
    return replace(
        camera,
        node_id=decision.to_node_id,
        handover_node_id=None,
        epoch=camera.epoch + 1,
        waiting=decision.waiting,
        moved_at=now,
    )
