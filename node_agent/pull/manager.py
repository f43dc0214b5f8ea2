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
- At start, the stored assignment is a fencing risk: while this agent was down (killed, or
  rescanning its disk) the control plane may have declared the node lost and moved its pull
  cameras, and pulling them again would record them on two nodes until the Connect stream
  delivers the current assignment. So with `hold_stored_s` the stored pulls wait for the first
  assignment the control plane sends (right after the Welcome), at most that long: a control
  plane that does not answer in time gets no say, the stored cameras are pulled (recording
  goes on without it).
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

# How long the stored assignment's pulls wait at start for the control plane's own (its
# Welcome and assignment come within a second or two of connecting).
HOLD_STORED_S = 10.0


class PullManager:
    """Pullers for the assigned pull cameras."""

    def __init__(
        self,
        settings: PullSettings,
        assignment: CurrentAssignment,
        streams: StreamTracker,
        outbox: Outbox,
        hold_stored_s: float = HOLD_STORED_S,
    ) -> None:
        self.settings = settings
        self._hold_stored_s = hold_stored_s
        self._assignment = assignment
        self._streams = streams
        self._outbox = outbox
        self.pullers: dict[str, Puller] = {}
        self._changed = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def nginx_exited(self) -> None:
        """nginx died: every puller publishes again as soon as it is back."""
        for puller in self.pullers.values():
            puller.nginx_died()

    async def start(self) -> None:
        """Pull what the assignment in force says (the stored one: after the first from the
        control plane, or `hold_stored_s`), then follow every new one."""
        hold = self._hold_stored_s > 0 and bool(self.wanted())
        if not hold:
            await self.reconcile()
        self._task = asyncio.create_task(self._follow(hold), name="pull-reconcile")

    async def _hold_stored(self) -> None:
        """Wait for the control plane's first assignment, at most `hold_stored_s`; then the
        loop reconciles (to that assignment, or to the stored one)."""
        try:
            async with asyncio.timeout(self._hold_stored_s):
                await self._changed.wait()
        except TimeoutError:
            log.warning(
                "no assignment from the control plane within %.0f s of starting: pulling the "
                "stored assignment's %d cameras",
                self._hold_stored_s,
                len(self.wanted()),
            )
            self._changed.set()
            return
        log.info("pulling what the control plane's first assignment holds")

    def assignment_applied(self, assignment: Assignment) -> None:
        """A new assignment is in force (called by node_agent.messages after the ACK decision)."""
        del assignment  # reconcile() reads the newest one itself
        self._changed.set()

    async def _follow(self, hold: bool = False) -> None:
        if hold:
            await self._hold_stored()
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
                    puller = Puller(
                        spec, self.settings, self._report, self._publishing, self._publish_over
                    )
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

    async def _publish_over(self, camera_id: str) -> None:
        # As node_agent.publish_auth's on_publish_done, for a publish nginx never ended (it
        # died with it): forgotten here, so nginx's late word (or /stat) adds nothing.
        publish = self._streams.by_camera(camera_id)
        if publish is None or self._streams.publish_ended(publish.stream_key) is None:
            return
        reason = publish.end_reason or "the puller's ffmpeg exited and nginx said nothing"
        await self._outbox.emit(
            stream_event(
                StreamEventKind.UNPUBLISH,
                camera_id,
                reason,
                remote_address=publish.remote_address,
            )
        )

    def _publishing(self, camera_id: str) -> bool:
        publish = self._streams.by_camera(camera_id)
        return publish is not None and not publish.end_reason
