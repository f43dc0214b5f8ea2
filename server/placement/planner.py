"""The pure half of the scheduler: which node each pull camera should be on, decided in memory.

The planner holds the fleet as the scheduler last read it (server/placement/choice.py's picture:
nodes and cameras, with each node's load counted incrementally, and which node fits a camera
best) and answers with Decisions; it never touches the database, so it is fast and every rule
here is unit-testable over many shapes. Each decision is also applied to the planner's own
picture at once, so a batch (a lost node's hundred cameras) spreads instead of piling onto the
node that was least loaded before the batch.

Rules (where a camera may go, and which node wins: choice.py):
- A pull camera stays where it is while its node is READY and matches its selector (cordon only
  stops new placements). Its node lost: moved at once, break-before-make (reason node_lost).
  Selector no longer matching, drain and rebalance: make-before-break handovers.
- Push cameras are never placed; they only count in their home node's load.
- A camera weighs one camera and its live ladder's CPU cores (server/placement/cost.py): a node
  that said its cores never gets more transcoding than their usable share (choice.py).
"""

from __future__ import annotations

from server.placement.choice import FleetPicture
from server.placement.fleet import Action, Decision, PlanCamera, PlanNode, after
from server.placement.model import PlacementReason


class Planner(FleetPicture):
    """The fleet in memory, and the placement decisions over it."""

    # --- decisions ---------------------------------------------------------------------------

    def plan_camera(self, camera_id: str, now: float) -> list[Decision]:
        """Whatever this one camera needs now (nothing when it is where it should be)."""
        camera = self.cameras.get(camera_id)
        if camera is None or not camera.pull:
            return []
        if not camera.active:
            if camera.node_id is None and camera.handover_node_id is None:
                return []
            return [self._move(camera, None, PlacementReason.UNPLACED, "deactivated", now)]
        target = self.nodes.get(camera.handover_node_id or "")
        if camera.handover_node_id is not None and (
            target is None or not target.ready or not target.matches(camera.selector)
        ):
            gone = target.name if target else "the target node"
            cancel = self._apply(
                Decision(
                    camera.id,
                    Action.CANCEL_HANDOVER,
                    camera.node_id,
                    camera.node_id,
                    PlacementReason.REBALANCE,
                    f"handover of {camera.name} to {gone} cancelled: it can no longer take it",
                    camera.epoch,
                ),
                now,
            )
            return [cancel, *self.plan_camera(camera.id, now)]
        node = self.nodes.get(camera.node_id or "")
        if camera.node_id is None:
            return self._place(camera, PlacementReason.PLACED, now)
        if node is None or not node.ready:
            return self._place(camera, PlacementReason.NODE_LOST, now)
        if not node.matches(camera.selector) and camera.handover_node_id is None:
            return self._handover(camera, PlacementReason.SELECTOR, now, move_anyway=True)
        return []

    def switched_to_push(self, camera_id: str, now: float) -> list[Decision]:
        """A pull camera became a push camera: off the node that pulled it (a push camera's
        node is where it publishes, and it has not published yet)."""
        camera = self.cameras.get(camera_id)
        if (
            camera is None
            or camera.pull
            or (camera.node_id, camera.handover_node_id) == (None, None)
        ):
            return []
        why = "it is a push camera now: its node is where it publishes"
        return [self._move(camera, None, PlacementReason.UNPLACED, why, now)]

    def expire_handovers(self, now: float, timeout_s: float) -> list[Decision]:
        """Cancel handovers whose target has not taken the camera over within `timeout_s`
        (say its source is unreachable from there): the camera stays where it runs."""
        out: list[Decision] = []
        for camera in list(self.cameras.values()):
            if camera.handover_node_id is None or now - camera.moved_at < timeout_s:
                continue
            target = self._name(camera.handover_node_id)
            message = (
                f"handover of {camera.name} to {target} cancelled: not ONLINE there within "
                f"{timeout_s:.0f} s"
            )
            cancel = Decision(
                camera.id,
                Action.CANCEL_HANDOVER,
                camera.node_id,
                camera.node_id,
                PlacementReason.REBALANCE,
                message,
                camera.epoch,
            )
            out.append(self._apply(cancel, now))
        return out

    def failover(self, node_id: str, now: float) -> list[Decision]:
        """A node stopped being READY (or was deleted): its cameras move at once, handovers to
        it are cancelled."""
        out: list[Decision] = []
        for camera_id in self.handovers_to(node_id) + self.cameras_on(node_id):
            out.extend(self.plan_camera(camera_id, now))
        return out

    def place_waiting(self, now: float) -> list[Decision]:
        """Put every waiting camera a node may take; update the reasons of the others."""
        out: list[Decision] = []
        for camera_id in self.waiting():
            out.extend(self.plan_camera(camera_id, now))
        return out

    def drain(self, node_id: str, now: float) -> list[Decision]:
        """Start a make-before-break handover for each of the node's pull cameras not yet being
        handed over."""
        out: list[Decision] = []
        for camera_id in self.cameras_on(node_id):
            camera = self.cameras[camera_id]
            if camera.active and camera.handover_node_id is None:
                out.extend(self._handover(camera, PlacementReason.DRAIN, now))
        return out

    def rebalance(self, max_moves: int, now: float, quiet_s: float = 300.0) -> list[Decision]:
        """Up to `max_moves` handovers from the most to the least loaded schedulable node, only
        while they differ by two cameras or more (hysteresis), never moving a camera that moved
        in the last `quiet_s` seconds. Loads are counted as they will be once the handovers
        under way finish (a camera leaving a node no longer counts there), so a finished
        rebalance never looks like an imbalance the other way."""
        out: list[Decision] = []
        for _ in range(max_moves):
            usable = sorted(
                (n for n in self.nodes.values() if n.schedulable),
                key=lambda n: (self.settled_load(n.id), n.name),
            )
            if len(usable) < 2:
                break
            moved = False
            least = usable[0]
            for most in reversed(usable[1:]):
                if self.settled_load(most.id) - self.settled_load(least.id) < 2:
                    break
                decision = self._rebalance_one(most, least, now, quiet_s)
                if decision is not None:
                    out.append(decision)
                    moved = True
                    break
            if not moved:
                break
        return out

    def _rebalance_one(
        self, most: PlanNode, least: PlanNode, now: float, quiet_s: float
    ) -> Decision | None:
        for camera_id in self.cameras_on(most.id):
            camera = self.cameras[camera_id]
            if (
                camera.active
                and camera.handover_node_id is None
                and now - camera.moved_at >= quiet_s
                and least.matches(camera.selector)
                and self.takes(least, camera)
            ):
                message = (
                    f"{camera.name} moves from {most.name} to {least.name} to spread load "
                    f"({self.settled_load(most.id)} vs {self.settled_load(least.id)} cameras)"
                )
                return self._apply(
                    Decision(
                        camera.id,
                        Action.HANDOVER,
                        most.id,
                        least.id,
                        PlacementReason.REBALANCE,
                        message,
                        camera.epoch,
                        handover_node_id=least.id,
                    ),
                    now,
                )
        return None

    # --- helpers -----------------------------------------------------------------------------

    def _name(self, node_id: str | None) -> str:
        node = self.nodes.get(node_id or "")
        return node.name if node else (node_id or "no node")

    def _place(self, camera: PlanCamera, reason: PlacementReason, now: float) -> list[Decision]:
        """Break-before-make: onto the best node, or off its node with a waiting reason."""
        exclude = [camera.node_id] if camera.node_id else []
        best = self.choose(camera, exclude)
        if best is None:
            why = self.why_none(camera)
            if camera.node_id is None:
                if camera.waiting == why:
                    return []
                return [self._wait(camera, why, now)]
            return [self._move(camera, None, reason, why, now)]
        return [self._move(camera, best, reason, "", now)]

    def _handover(
        self, camera: PlanCamera, reason: PlacementReason, now: float, *, move_anyway: bool = False
    ) -> list[Decision]:
        """Make-before-break onto the best other node. No node may take it: a drain waits (the
        camera keeps running where it is); a selector mismatch takes it off (`move_anyway`)."""
        exclude = [camera.node_id] if camera.node_id else []
        best = self.choose(camera, exclude)
        if best is None:
            why = self.why_none(camera)
            if move_anyway:
                return [self._move(camera, None, reason, why, now)]
            return []
        verb = {PlacementReason.DRAIN: "drains", PlacementReason.SELECTOR: "no longer matches"}
        message = (
            f"{camera.name} moves from {self._name(camera.node_id)} to {best.name}: "
            f"{self._name(camera.node_id)} {verb.get(reason, reason.value)}"
        )
        handover = Decision(
            camera.id,
            Action.HANDOVER,
            camera.node_id,
            best.id,
            reason,
            message,
            camera.epoch,
            handover_node_id=best.id,
        )
        return [self._apply(handover, now)]

    def _move(
        self,
        camera: PlanCamera,
        to: PlanNode | None,
        reason: PlacementReason,
        why: str,
        now: float,
    ) -> Decision:
        source = self._name(camera.node_id) if camera.node_id else ""
        if to is None:
            message = f"{camera.name} taken off {source}: {why}" if source else why
        elif source and reason is PlacementReason.NODE_LOST:
            message = f"node {source} lost; {camera.name} moved to {to.name}"
        elif source:
            message = f"{camera.name} moved from {source} to {to.name} ({reason.value})"
        else:
            message = f"{camera.name} placed on {to.name}"
        if to is not None and (past := self.past_cores(to, camera)):
            message = f"{message}, {past}"
        return self._apply(
            Decision(
                camera.id,
                Action.MOVE,
                camera.node_id,
                to.id if to else None,
                reason,
                message,
                camera.epoch,
                waiting="" if to else why,
            ),
            now,
        )

    def _wait(self, camera: PlanCamera, why: str, now: float) -> Decision:
        return self._apply(
            Decision(
                camera.id,
                Action.WAIT,
                None,
                None,
                PlacementReason.PLACED,
                f"{camera.name} waits: {why}",
                camera.epoch,
                waiting=why,
            ),
            now,
        )

    def _apply(self, decision: Decision, now: float) -> Decision:
        """Make the decision true in the picture now (as the store will make it in the rows)."""
        self.set_camera(after(self.cameras[decision.camera_id], decision, now))
        return decision
