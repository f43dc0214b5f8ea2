"""Pushing each connected node its assignment whenever a camera change touches it.

The pusher follows the event log, so changes made on any replica reach the replica that holds
the node's stream. Following only marks nodes; one task recomputes each marked node once,
however many changes came (a fleet reconnecting makes thousands of camera events in seconds).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from server.common.tasks import raise_if_cancelling
from server.errors import Unauthenticated
from server.eventlog.log import EventLog
from server.nodes.assignments import AssignmentBuilder
from server.nodes.convert import camera_placement
from server.nodes.session import NodeSession

log = logging.getLogger(__name__)

# A failed computation is tried again after this long, doubling up to the second.
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 5.0


class AssignmentPusher:
    """Keeps the assignments of this replica's sessions current."""

    def __init__(
        self,
        assignments: AssignmentBuilder,
        events: EventLog,
        sessions: Mapping[str, NodeSession],
    ) -> None:
        self._assignments = assignments
        self._events = events
        self._sessions = sessions
        # camera id -> the local nodes whose last assignment holds it (two during a handover);
        # nodes owing a new one.
        self._camera_nodes: dict[str, set[str]] = {}
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()

    async def push(self, session: NodeSession) -> None:
        """Compute the node's assignment and send it if it is newer than the last one sent."""
        assignment = await self._assignments.current(session.node_id)
        if assignment is None:
            session.end(Unauthenticated("this node was deleted; register it again"))
            return
        if assignment.version <= session.sent_version:
            return  # a slower, older computation loses: neither sent nor kept as the node's set
        assigned = frozenset(c.camera_id for c in assignment.cameras)
        for camera_id in session.assigned - assigned:
            holders = self._camera_nodes.get(camera_id)
            if holders is not None:
                holders.discard(session.node_id)
                if not holders:
                    del self._camera_nodes[camera_id]
        for camera_id in assigned:
            self._camera_nodes.setdefault(camera_id, set()).add(session.node_id)
        session.assigned = assigned
        session.sent_version = assignment.version
        session.send_assignment(assignment)

    def refresh_all(self) -> None:
        """Recompute every local node's assignment (e.g. revoked URL grants changed)."""
        self._dirty.update(self._sessions)
        self._wake.set()

    async def follow_cameras(self) -> None:
        """Mark every local node a camera change touches, until cancelled."""
        while True:
            raise_if_cancelling()
            try:
                async for stored in self._events.watch(await self._events.current_revision()):
                    if not stored.subject.startswith("cameras/"):
                        continue
                    camera_id, node_ids = camera_placement(stored.payload)
                    if not camera_id:
                        continue  # not a camera's own event (CAMERA_PLACED)
                    held = self._camera_nodes.get(camera_id, set())
                    for touched in (*node_ids, *held):
                        if touched in self._sessions:
                            self._dirty.add(touched)
                            self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:  # compaction or a broken log: catch up on everything, go on
                raise_if_cancelling()
                log.exception("assignment follower restarts")
                self.refresh_all()
                await asyncio.sleep(1.0)

    async def push_marked(self) -> None:
        """Recompute and push the marked nodes' assignments, until cancelled. A node whose
        assignment could not be computed (the database away) stays marked and is tried again
        after RETRY_FIRST_S, doubling to RETRY_MAX_S: waiting for another change could leave it
        running a camera that moved away for good, beside the node it moved to."""
        delay = RETRY_FIRST_S
        while True:
            raise_if_cancelling()
            await self._wake.wait()
            self._wake.clear()
            dirty, self._dirty = self._dirty, set()
            failed: set[str] = set()
            for node_id in dirty:
                session = self._sessions.get(node_id)
                if session is None:
                    continue
                try:
                    await self.push(session)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the agent keeps its last one meanwhile
                    raise_if_cancelling()
                    failed.add(node_id)
                    log.warning(
                        "could not compute the assignment of node %s (%s: %s); trying again "
                        "in %.1f s",
                        session.name,
                        type(exc).__name__,
                        str(exc).strip().splitlines()[0] if str(exc).strip() else "",
                        delay,
                    )
            if not failed:
                delay = RETRY_FIRST_S
                continue
            self._dirty |= failed
            asyncio.get_running_loop().call_later(delay, self._wake.set)
            delay = min(delay * 2, RETRY_MAX_S)
