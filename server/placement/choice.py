"""Which node may take a camera and which is best: the fleet as the planner keeps it in memory
(nodes, cameras, and each node's load counted incrementally), and the fit, score and
why-waiting rules over it. No decisions here (server/placement/planner.py makes them).

Rules:
- A pull camera fits only on a READY node that is schedulable (neither cordoned nor draining),
  whose labels hold every pair of the camera's selector, and that is not full: capacity > 0 is
  a hard limit on cameras (0 means unlimited). A node that said its CPU cores is preferred
  only while the cores of its cameras' live ladders (server/placement/cost.py) plus this one's
  stay within the usable share of them.
- Among those, the fullest measure wins least: the higher of (load+1)/capacity and (cores used
  + the camera's)/usable cores (ties: fewest cameras, then name), load = pull cameras placed +
  push cameras homed + handovers targeted there, cores likewise.
- No node has cores left but one has room for another camera: the camera still goes to the one
  with the most room (least share), beyond its cores. Recording comes first: a ladder only runs
  while it is watched, so a node past its cores records every camera and its live rungs fall
  behind only while all of them are watched at once; a camera left waiting would record
  nothing (after a node loss, exactly when it matters). The placement event says so
  (Planner._move), and rebalance never moves a camera onto a node past its cores (takes()).
- No node fits: the camera waits, with a sentence saying why (why_none).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from server.common.labels import describe_labels
from server.placement.cost import usable_cores
from server.placement.fleet import UNLIMITED, PlanCamera, PlanNode

# Float sums of many costs drift by ulps: a node exactly full still takes what fits exactly.
_EPSILON = 1e-9


def out_of_cores(node: PlanNode, used: float, cost: float) -> bool:
    """The node said its cores and `cost` more on top of `used` would pass their usable share."""
    usable = usable_cores(node.cpu_cores)
    return usable > 0 and used + cost > usable + _EPSILON


def fits(node: PlanNode, load: int, cores: float, cost: float) -> bool:
    """A camera costing `cost` cores fits on `node` carrying `load` cameras and `cores` cores."""
    return not (node.capacity and load >= node.capacity) and not out_of_cores(node, cores, cost)


def best_node(
    schedulable: Iterable[PlanNode],
    selector: Mapping[str, str],
    load: Mapping[str, int],
    exclude: Iterable[str] = (),
    *,
    cores: Mapping[str, float] | None = None,
    cost: float = 0.0,
) -> PlanNode | None:
    """The best of the `schedulable` nodes (the caller's filter: this runs per camera) for a
    camera with `selector` costing `cost` cores, loads as in `load` and `cores`: one with cores
    to spare if any, else one past its cores (the rules above), or None when none has room."""
    skip = set(exclude)
    # The best node with room, and the best of those whose only lack is cores (see the rules).
    best: PlanNode | None = None
    best_key: tuple[float, int, str] = (0.0, 0, "")
    spill: PlanNode | None = None
    spill_key: tuple[float, int, str] = (0.0, 0, "")
    for node in schedulable:
        if node.id in skip or (selector and not node.matches(selector)):
            continue
        used = load.get(node.id, 0)
        if node.capacity and used >= node.capacity:
            continue
        used_cores = cores.get(node.id, 0.0) if cores else 0.0
        share = (used + 1) / (node.capacity or UNLIMITED)
        usable = usable_cores(node.cpu_cores)
        if usable > 0:
            share = max(share, (used_cores + cost) / usable)
        key = (share, used, node.name)
        if out_of_cores(node, used_cores, cost):
            if spill is None or key < spill_key:
                spill, spill_key = node, key
        elif best is None or key < best_key:
            best, best_key = node, key
    return best if best is not None else spill


def why_none(nodes: Iterable[PlanNode], selector: Mapping[str, str]) -> str:
    """A sentence for a camera no node may take. Every READY node counts, the one the camera
    leaves too: it is draining, or no longer matches, which the sentence then says (leaving it
    out read "no READY node" while one was READY). Nodes without CPU room for the camera's
    ladder are named as such; the sentence holds no current load, so it stays the same while
    the camera waits (each new one would be another event)."""
    ready = [n for n in nodes if n.ready]
    matching = [n for n in ready if n.matches(selector)]
    wanted = f" matches {describe_labels(selector)}" if selector else ""
    if not ready:
        return "no READY node"
    if not matching:
        return f"no READY node{wanted}"
    open_ = [n for n in matching if not (n.cordoned or n.draining)]
    if not open_:
        return f"every READY node{wanted} is cordoned or draining"
    return f"every READY node{wanted} is full"


class FleetPicture:
    """The fleet in memory with its loads, and the node choice over it."""

    def __init__(self) -> None:
        self.nodes: dict[str, PlanNode] = {}
        self.cameras: dict[str, PlanCamera] = {}
        self.load: dict[str, int] = {}
        # node id -> CPU cores its cameras' live ladders cost (server/placement/cost.py).
        self.cores: dict[str, float] = {}
        # node id -> ids of the pull cameras on it, and of those being handed to it.
        self._on: dict[str, set[str]] = {}
        self._incoming: dict[str, set[str]] = {}
        # node id -> how many of its cameras are being handed over away from it.
        self._outgoing: dict[str, int] = {}
        self._waiting: set[str] = set()
        # The nodes that may take new cameras (rebuilt when a node changes).
        self._schedulable: list[PlanNode] | None = None

    # --- the picture -------------------------------------------------------------------------

    def set_node(self, node: PlanNode) -> PlanNode | None:
        """Add or replace a node; returns what it was."""
        before = self.nodes.get(node.id)
        self.nodes[node.id] = node
        self._schedulable = None
        self.load.setdefault(node.id, 0)
        return before

    def remove_node(self, node_id: str) -> PlanNode | None:
        """Forget a node (deleted); its cameras keep pointing at it until decided about."""
        self._schedulable = None
        return self.nodes.pop(node_id, None)

    def set_camera(self, camera: PlanCamera) -> None:
        """Add or replace a camera, keeping the loads right."""
        self.remove_camera(camera.id)
        self.cameras[camera.id] = camera
        counted = camera.active and (camera.pull or camera.node_id is not None)
        if counted and camera.node_id is not None:
            self.load[camera.node_id] = self.load.get(camera.node_id, 0) + 1
            self.cores[camera.node_id] = self.cores.get(camera.node_id, 0.0) + camera.cores
            if camera.pull:
                self._on.setdefault(camera.node_id, set()).add(camera.id)
        if counted and camera.handover_node_id is not None:
            target = camera.handover_node_id
            self.load[target] = self.load.get(target, 0) + 1
            self.cores[target] = self.cores.get(target, 0.0) + camera.cores
            self._incoming.setdefault(target, set()).add(camera.id)
            if camera.node_id is not None:
                self._outgoing[camera.node_id] = self._outgoing.get(camera.node_id, 0) + 1
        if camera.wants_node and camera.node_id is None:
            self._waiting.add(camera.id)

    def remove_camera(self, camera_id: str) -> PlanCamera | None:
        """Forget a camera (deleted), keeping the loads right."""
        old = self.cameras.pop(camera_id, None)
        if old is None:
            return None
        counted = old.active and (old.pull or old.node_id is not None)
        if counted and old.node_id is not None:
            self.load[old.node_id] = self.load.get(old.node_id, 0) - 1
            self.cores[old.node_id] = self.cores.get(old.node_id, 0.0) - old.cores
            self._on.get(old.node_id, set()).discard(camera_id)
        if counted and old.handover_node_id is not None:
            self.load[old.handover_node_id] = self.load.get(old.handover_node_id, 0) - 1
            self.cores[old.handover_node_id] = self.cores.get(old.handover_node_id, 0.0) - old.cores
            self._incoming.get(old.handover_node_id, set()).discard(camera_id)
            if old.node_id is not None:
                self._outgoing[old.node_id] = self._outgoing.get(old.node_id, 0) - 1
        self._waiting.discard(camera_id)
        return old

    def settled_load(self, node_id: str) -> int:
        """The node's load once the handovers under way have finished."""
        return self.load.get(node_id, 0) - self._outgoing.get(node_id, 0)

    def cameras_on(self, node_id: str) -> list[str]:
        """Pull cameras placed on the node, by id (stable order)."""
        return sorted(self._on.get(node_id, ()))

    def handovers_to(self, node_id: str) -> list[str]:
        """Cameras being handed over to the node."""
        return sorted(self._incoming.get(node_id, ()))

    def waiting(self) -> list[str]:
        """Active pull cameras with no node."""
        return sorted(self._waiting)

    # --- choosing ----------------------------------------------------------------------------

    def choose(self, camera: PlanCamera, exclude: Iterable[str] = ()) -> PlanNode | None:
        """The best node for `camera` (its selector and cores), or None (best_node)."""
        if self._schedulable is None:
            self._schedulable = [n for n in self.nodes.values() if n.schedulable]
        return best_node(
            self._schedulable,
            camera.selector,
            self.load,
            exclude,
            cores=self.cores,
            cost=camera.cores,
        )

    def past_cores(self, node: PlanNode, camera: PlanCamera) -> str:
        """How `node` would be past its usable cores with `camera` on it, or "" if it is not."""
        used = self.cores.get(node.id, 0.0)
        if not out_of_cores(node, used, camera.cores):
            return ""
        usable = usable_cores(node.cpu_cores)
        return (
            f"beyond its CPU cores (its live ladder needs {camera.cores:.2f}, "
            f"{max(0.0, usable - used):.2f} of {usable:.1f} usable are free): it records, and "
            f"live transcoding there falls behind while all its cameras are watched at once"
        )

    def takes(self, node: PlanNode, camera: PlanCamera) -> bool:
        """`node` has room for `camera` (cameras and cores; its selector is the caller's)."""
        return fits(node, self.load.get(node.id, 0), self.cores.get(node.id, 0.0), camera.cores)

    def why_none(self, camera: PlanCamera) -> str:
        """A sentence for a camera no node may take (why_none)."""
        return why_none(self.nodes.values(), camera.selector)
