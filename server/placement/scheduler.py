"""The scheduler: a leader-only job that keeps every active pull camera on one good node.

It reads the fleet once, then follows the event log (cameras/* and nodes/* subjects, like
server/nodes/assignment_push.py) and reacts to what changed, not by recomputing the world:
- a camera created, activated, updated (selector, ingest mode) or deactivated/deleted: that
  camera is re-read and planned alone;
- a node that stops being READY (LOST, OFFLINE, deleted): its pull cameras move at once;
  only the nodes named by the events are re-read (a fleet reconnecting after a restart is a
  thousand node events: re-reading every node for each batch of them made bench_heartbeats'
  connect storm of 1,000 nodes take 344 s instead of 129);
- a node READY or uncordoned, or with more capacity: waiting cameras are placed;
- a node's labels changed: its cameras are checked against their selectors;
- a node draining: make-before-break handovers for each of its pull cameras;
- the streaming settings' default ladder changed: everything is re-read (the cameras without a
  ladder of their own now cost what the new default costs).
A rebalance tick moves at most `rebalance_moves_per_minute` cameras per minute, make-before-
break, only between nodes two or more cameras apart and never a camera moved recently. A full
reconcile every `reconcile_every_s` repairs anything missed (a compacted log, a skipped
decision). The planner (server/placement/planner.py) decides; the store applies, fenced.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.common.ladder import DEFAULT_LADDER
from server.common.tasks import raise_if_cancelling
from server.eventlog.log import EventLog
from server.leader.model import NotLeader
from server.placement.fleet import Decision, PlanCamera
from server.placement.planner import Planner
from server.placement.reading import plan_camera, read_cameras, read_nodes
from server.placement.store import PlacementStore

log = logging.getLogger(__name__)

# Camera event kinds that cannot change where a camera should be (status changes come from the
# nodes; handovers they finish also stage an UPDATED event).
_IGNORED_KINDS = frozenset(
    {"camera.status_changed", "camera.recording_state_changed", "camera.placed"}
)


@dataclass(frozen=True)
class SchedulerOptions:
    """How often the scheduler repairs and rebalances."""

    reconcile_every_s: float = 30.0
    rebalance_moves_per_minute: int = 10
    # A camera moved this recently is never moved by a rebalance.
    rebalance_quiet_s: float = 300.0
    # A handover whose target has not taken the camera over by then is cancelled (the camera
    # keeps running where it is; a drain then tries again). Taking over is ONLINE there, or for
    # a recording camera its first segment there: the pull's start (~1-3 s) plus one segment
    # (10 s by default), well within.
    handover_timeout_s: float = 60.0


class Scheduler:
    """Places pull cameras while this process leads (run() is the singleton job)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        store: PlacementStore,
        events: EventLog,
        options: SchedulerOptions | None = None,
        default_ladder: Callable[[], Awaitable[Sequence[str]]] | None = None,
    ) -> None:
        self._sessions = sessions
        self._store = store
        self._events = events
        self._options = options or SchedulerOptions()
        # The ladder of cameras without their own (the streaming settings'), read each round.
        self._default_ladder_source = default_ladder
        self._default_ladder: tuple[str, ...] = DEFAULT_LADDER
        self.planner = Planner()
        self._dirty_cameras: set[str] = set()
        self._dirty_nodes: set[str] = set()
        self._full = True
        self._wake = asyncio.Event()
        self._round = asyncio.Lock()

    async def run(self) -> None:
        """Place, follow and repair until cancelled (the leader stops it on losing)."""
        self.planner = Planner()
        self._full = True
        self._wake.set()
        # Followed from before the first full read, so no change falls between the two.
        revision = await self._events.current_revision()
        jobs = [self._follow(revision), self._work(), self._tick()]
        tasks = [asyncio.create_task(job) for job in jobs]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # --- following ---------------------------------------------------------------------------

    async def _follow(self, revision: int) -> None:
        """Mark what each event touches, from `revision` on."""
        while True:
            raise_if_cancelling()
            try:
                async for stored in self._events.watch(revision):
                    revision = stored.revision
                    subject = stored.subject
                    if subject.startswith("cameras/"):
                        if stored.kind not in _IGNORED_KINDS:
                            self._dirty_cameras.add(subject.removeprefix("cameras/"))
                            self._wake.set()
                    elif subject.startswith("nodes/"):
                        self._dirty_nodes.add(subject.removeprefix("nodes/"))
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:  # compaction or a broken log: re-read everything, go on
                raise_if_cancelling()
                log.exception("placement follower restarts")
                revision = await self._events.current_revision()
                self._full = True
                self._wake.set()
                await asyncio.sleep(1.0)

    async def _tick(self) -> None:
        """Full reconciles and rebalance moves, on their clocks."""
        moves = self._options.rebalance_moves_per_minute
        every = 60.0 / moves if moves > 0 else self._options.reconcile_every_s
        last_full = time.monotonic()
        while True:
            raise_if_cancelling()
            await asyncio.sleep(min(every, self._options.reconcile_every_s))
            if time.monotonic() - last_full >= self._options.reconcile_every_s:
                last_full = time.monotonic()
                self._full = True
                self._wake.set()
            await self._guarded(self._expire_handovers)
            if moves > 0:
                await self._guarded(self._rebalance)

    async def _work(self) -> None:
        """Handle what was marked, one batch at a time."""
        while True:
            raise_if_cancelling()
            await self._wake.wait()
            self._wake.clear()
            await self._guarded(self.step)

    async def _guarded(self, job: Callable[[], Awaitable[None]]) -> None:
        """Run one round of work alone (rounds share the planner's picture), logging failures
        instead of ending the scheduler."""
        try:
            async with self._round:
                await job()
        except asyncio.CancelledError:
            raise
        except NotLeader as why:  # deposed: the leadership cancels this job at once
            log.info("placement stops: %s", why)
            await asyncio.sleep(1.0)
        except Exception:  # a database hiccup: the next change or tick retries
            raise_if_cancelling()
            log.exception("placement step failed")
            self._full = True
            await asyncio.sleep(1.0)
            self._wake.set()

    # --- deciding ----------------------------------------------------------------------------

    async def step(self) -> None:
        """One round: re-read what changed, decide, apply."""
        now = time.monotonic()
        if self._default_ladder_source is not None:
            ladder = tuple(await self._default_ladder_source())
            if ladder != self._default_ladder:
                self._default_ladder, self._full = ladder, True
        if self._full:
            self._full = False
            self._dirty_cameras.clear()
            self._dirty_nodes.clear()
            await self._apply(await self._reconcile(now))
            return
        decisions: list[Decision] = []
        if self._dirty_nodes:
            node_ids, self._dirty_nodes = self._dirty_nodes, set()
            decisions += await self._nodes_changed(node_ids, now)
        if self._dirty_cameras:
            ids, self._dirty_cameras = self._dirty_cameras, set()
            switched = await self._reload_cameras(ids)
            for camera_id in sorted(ids):
                decisions += self.planner.plan_camera(camera_id, now)
            for camera_id in switched:
                decisions += self.planner.switched_to_push(camera_id, now)
            # A camera deleted, deactivated or moved may have made room for one that waits.
            waiting = set(self.planner.waiting()) - ids
            if waiting:
                decisions += self.planner.place_waiting(now)
        await self._apply(decisions)

    async def _reconcile(self, now: float) -> list[Decision]:
        """Re-read the whole fleet and plan every camera."""
        planner = Planner()
        for node in await read_nodes(self._sessions):
            planner.set_node(node)
        for camera in await self._read_cameras(None):
            old = self.planner.cameras.get(camera.id)
            planner.set_camera(_known_move(camera, old))
        self.planner = planner
        decisions: list[Decision] = []
        for camera_id in list(planner.cameras):
            decisions += planner.plan_camera(camera_id, now)
        for node in list(planner.nodes.values()):
            if node.ready and node.draining:
                decisions += planner.drain(node.id, now)
        return decisions

    async def _nodes_changed(self, node_ids: set[str], now: float) -> list[Decision]:
        """Re-read the nodes events named (those not found were deleted) and act on what
        changed for each."""
        planner = self.planner
        rows = {node.id: node for node in await read_nodes(self._sessions, node_ids)}
        decisions: list[Decision] = []
        more_room = False
        for node_id in sorted(node_ids - set(rows)):
            if node_id in planner.nodes:
                planner.remove_node(node_id)
                decisions += planner.failover(node_id, now)
        for node in rows.values():
            before = planner.set_node(node)
            if before == node:
                continue
            if not node.ready:
                decisions += planner.failover(node.id, now)
                continue
            if before is None or node.labels != before.labels:
                for camera_id in planner.cameras_on(node.id):
                    decisions += planner.plan_camera(camera_id, now)
            if node.schedulable and (
                before is None
                or not before.schedulable
                or node.capacity != before.capacity
                or node.labels != before.labels
            ):
                more_room = True
        if more_room:
            decisions += planner.place_waiting(now)
        # Every draining node, not only those named: a drain goes on after any change (a
        # handover cancelled elsewhere, room made), as the full reconcile would. In memory.
        for node in list(planner.nodes.values()):
            if node.ready and node.draining:
                decisions += planner.drain(node.id, now)
        return decisions

    async def _expire_handovers(self) -> None:
        now = time.monotonic()
        await self._apply(self.planner.expire_handovers(now, self._options.handover_timeout_s))

    async def _rebalance(self) -> None:
        await self._apply(
            self.planner.rebalance(1, time.monotonic(), self._options.rebalance_quiet_s)
        )

    async def _apply(self, decisions: list[Decision]) -> None:
        if not decisions:
            return
        applied = await self._store.apply(decisions)
        for row in applied.rows:
            old = self.planner.cameras.get(row.id)
            fresh = plan_camera(row, self._default_ladder)
            self.planner.set_camera(_known_move(fresh, old))
        if applied.skipped:
            # Someone else changed these cameras meanwhile: read them again and decide anew.
            log.info("placement: %d decisions found their camera changed", len(applied.skipped))
            self._dirty_cameras.update(d.camera_id for d in applied.skipped)
            self._wake.set()
        for decision in decisions:
            if decision.action.value != "wait":
                log.info("placement: %s", decision.message)

    # --- reading -----------------------------------------------------------------------------

    async def _read_cameras(self, ids: Iterable[str] | None) -> list[PlanCamera]:
        return await read_cameras(self._sessions, ids, self._default_ladder)

    async def _reload_cameras(self, ids: set[str]) -> list[str]:
        """Re-read these cameras into the picture; returns those that were pull cameras and
        are push cameras now."""
        found = {c.id: c for c in await self._read_cameras(ids)}
        switched = []
        for camera_id in sorted(ids):
            camera = found.get(camera_id)
            old = self.planner.cameras.get(camera_id)
            if camera is None:
                self.planner.remove_camera(camera_id)
                continue
            if old is not None and old.pull and not camera.pull:
                switched.append(camera_id)
            self.planner.set_camera(_known_move(camera, old))
        return switched


def _known_move(camera: PlanCamera, old: PlanCamera | None) -> PlanCamera:
    """`camera` as read, with when it last moved as far as this scheduler knows (a handover
    found under way counts from now: its timeout starts when this scheduler first sees it)."""
    if old is not None:
        return replace(camera, moved_at=old.moved_at)
    if camera.handover_node_id is not None:
        return replace(camera, moved_at=time.monotonic())
    return camera


def placement_jobs(
    sessions: async_sessionmaker[AsyncSession],
    events: EventLog,
    store: PlacementStore,
    options: SchedulerOptions | None = None,
    default_ladder: Callable[[], Awaitable[Sequence[str]]] | None = None,
) -> dict[str, Callable[[], Coroutine[Any, Any, None]]]:
    """The scheduler as the leader's singleton job (server/leader/: started on winning,
    cancelled on losing, each time with a fresh picture of the fleet)."""
    return {"scheduler": Scheduler(sessions, store, events, options, default_ladder).run}
