"""The pullers of this node, matched to the assignment in force: one node_agent.pull.puller
per camera with ingest PULL.

Invariants (tests/node_agent/test_pull.py):
- After reconcile(), exactly the assignment's pull cameras have a Puller, each with the stream
  key and source URL the assignment gives now: a removed camera's ffmpeg has been stopped (by
  its PID, its group killed), and a changed URL or key means the old ffmpeg stopped before the
  new one starts (two publishers of one key would be refused by nginx).
- Reconciles run one at a time, always against the newest assignment: assignment_applied()
  only wakes the loop, so the Connect stream's ACK never waits for ffmpeg.
- Everything runs from the assignment the agent already has: pulls go on while the control
  plane is away, their ERROR events wait in the spool.
"""

from __future__ import annotations

import asyncio
import logging

from node_agent.assignment import CurrentAssignment
from node_agent.desired import Assignment, Ingest
from node_agent.outbox import Outbox
from node_agent.pull.puller import Puller, PullSettings, PullSpec
from node_agent.reports import StreamEventKind, stream_event
from node_agent.streams import StreamTracker
from node_agent.tasks import cancel_and_wait

log = logging.getLogger(__name__)


class PullManager:
    """Pullers for the assigned pull cameras."""

    def __init__(
        self,
        settings: PullSettings,
        assignment: CurrentAssignment,
        streams: StreamTracker,
        outbox: Outbox,
    ) -> None:
        self.settings = settings
        self._assignment = assignment
        self._streams = streams
        self._outbox = outbox
        self.pullers: dict[str, Puller] = {}
        self._changed = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Pull what the assignment in force says, then follow every new one."""
        await self.reconcile()
        self._task = asyncio.create_task(self._follow(), name="pull-reconcile")

    def assignment_applied(self, assignment: Assignment) -> None:
        """A new assignment is in force (called by node_agent.messages after the ACK decision)."""
        del assignment  # reconcile() reads the newest one itself
        self._changed.set()

    async def _follow(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            try:
                await self.reconcile()
            except Exception:
                log.exception("matching the pulls to the assignment failed")

    def wanted(self) -> dict[str, PullSpec]:
        """camera id -> what its Puller should run, for every assigned pull camera."""
        return {
            c.camera_id: PullSpec(c.camera_id, c.stream_key, c.source_url)
            for c in self._assignment.assignment.cameras
            if c.ingest is Ingest.PULL
        }

    async def reconcile(self) -> None:
        """Start, stop and restart pullers to match the assignment in force."""
        async with self._lock:
            wanted = self.wanted()
            stale = [p for cid, p in self.pullers.items() if wanted.get(cid) != p.spec]
            for puller in stale:
                del self.pullers[puller.spec.camera_id]
            if stale:
                await asyncio.gather(*(p.stop() for p in stale))
                for puller in stale:
                    log.info("camera %s: pull stopped", puller.spec.camera_id)
            for camera_id, spec in wanted.items():
                if camera_id not in self.pullers:
                    puller = Puller(spec, self.settings, self._report, self._publishing)
                    self.pullers[camera_id] = puller
                    puller.start()

    async def stop(self) -> None:
        """Stop following assignments and end every puller's ffmpeg."""
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None
        async with self._lock:
            await asyncio.gather(*(p.stop() for p in self.pullers.values()))
            self.pullers.clear()

    async def _report(self, camera_id: str, reason: str) -> None:
        # The puller has logged it.
        await self._outbox.emit(stream_event(StreamEventKind.ERROR, camera_id, reason))

    def _publishing(self, camera_id: str) -> bool:
        publish = self._streams.by_camera(camera_id)
        return publish is not None and not publish.end_reason
