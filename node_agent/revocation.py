"""Live publishes whose stream key the control plane took away (key rotated, camera deactivated,
deleted or moved to another node) are disconnected through nginx's rtmp_control after each
applied assignment; their UNPUBLISH event says why.

Which publishes an applied assignment V revokes (a publish keeps running while V grants its key
to its camera, and is marked `assigned` from then on):
- a publish whose key an assignment granted (at the accept or since) and V no longer does:
  dropped, the control plane took the key away;
- a publish accepted through CheckStreamKey and never granted by an assignment:
  - V's version is not newer than the one in force at the accept: kept. V says nothing the
    control plane decided after allowing the key (same version, same content).
  - V is newer: V may still have been computed just before the control plane allowed the key
    (the assignment that includes it is then on its way), so the agent asks CheckStreamKey
    again: refused, or allowed for another camera → dropped with the control plane's reason;
    allowed → kept; no answer → kept, and the next assignment decides again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any, Protocol

from node_agent.desired import Assignment, Ingest
from node_agent.publish_auth import KeyChecker, KeyCheckFailed
from node_agent.streams import LivePublish, StreamTracker
from node_agent.tasks import cancel_and_wait

log = logging.getLogger(__name__)

# The UNPUBLISH message (the camera's status reason on the control plane).
KEY_REVOKED = "stream key no longer valid on this node (rotated, camera deactivated or moved)"


class PublisherDropper(Protocol):
    """Disconnects a publisher (node_agent.nginx.runner.NginxRunner)."""

    async def drop_publisher(self, stream_key: str) -> int | None:
        """How many publishers of `stream_key` were dropped; None when that is unknown."""
        ...


class KeyRevoker:
    """Disconnects the live publishes each applied assignment revokes (rule above)."""

    def __init__(
        self,
        streams: StreamTracker,
        checker: KeyChecker,
        dropper: PublisherDropper,
        *,
        drop_within_s: float = 10.0,
        retry_every_s: float = 0.5,
    ) -> None:
        self._streams = streams
        self._checker = checker
        self._dropper = dropper
        self._drop_within_s = drop_within_s
        self._retry_every_s = retry_every_s
        # One piece of work per stream key at a time.
        self._tasks: dict[str, asyncio.Task[None]] = {}

    @property
    def busy(self) -> bool:
        """True while a re-check or a drop is under way."""
        return any(not task.done() for task in self._tasks.values())

    def assignment_applied(self, assignment: Assignment) -> None:
        """Sort the live publishes against `assignment`, just applied; revoked ones are ended in
        the background (the ACK does not wait for nginx or the control plane)."""
        # Push keys, and pull cameras' keys (which their node's puller publishes).
        granted = {
            camera.stream_key: camera.camera_id
            for camera in assignment.cameras
            if camera.ingest in (Ingest.PUSH, Ingest.PULL) and camera.stream_key
        }
        # Decided here, synchronously, so every assignment is judged against the streams as
        # they were when it was applied, in order.
        for publish in self._streams.live():
            if granted.get(publish.stream_key) == publish.camera_id:
                publish.assigned = True
                self._granted_again(publish)
            elif publish.assigned:
                self._spawn(publish, self._drop(publish, KEY_REVOKED))
            elif assignment.version > publish.assignment_version:
                self._spawn(publish, self._recheck(publish))

    def _granted_again(self, publish: LivePublish) -> None:
        """A newer assignment grants the key again (camera reactivated): stop ending it."""
        running = self._tasks.get(publish.stream_key)
        if running is not None and not running.done():
            running.cancel()
            publish.end_reason = ""
            log.info("camera %s: its stream key is valid again", publish.camera_id)

    def _spawn(self, publish: LivePublish, work: Coroutine[Any, Any, None]) -> None:
        running = self._tasks.get(publish.stream_key)
        if running is not None and not running.done():
            work.close()  # already being re-checked or dropped
            return
        task = asyncio.create_task(self._guarded(work), name=f"revoke-{publish.camera_id}")
        self._tasks[publish.stream_key] = task
        task.add_done_callback(lambda done: self._forget(publish.stream_key, done))

    def _forget(self, stream_key: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(stream_key) is task:
            del self._tasks[stream_key]

    @staticmethod
    async def _guarded(work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception:
            # A bug here must not go unnoticed, nor take anything else down.
            log.exception("ending a revoked publish failed")

    async def _recheck(self, publish: LivePublish) -> None:
        """Ask the control plane whether a key only CheckStreamKey vouched for still holds."""
        try:
            verdict = await self._checker.check(publish.stream_key, publish.remote_address)
        except KeyCheckFailed as exc:
            log.warning(
                "camera %s: its stream key is not in the assignment and cannot be checked again "
                "(%s); keeping the publish until the next assignment",
                publish.camera_id,
                exc,
            )
            return
        if publish.assigned or self._streams.by_key(publish.stream_key) is not publish:
            return  # an assignment granted it meanwhile, or it ended
        if verdict.allowed and verdict.camera_id == publish.camera_id:
            return
        reason = verdict.reason if not verdict.allowed else "the key now belongs to another camera"
        await self._drop(publish, f"stream key no longer valid: {reason or 'refused'}")

    async def _drop(self, publish: LivePublish, reason: str) -> None:
        """Drop the publisher until nginx reports it gone (on_publish_done or /stat)."""
        publish.end_reason = reason
        log.warning(
            "camera %s: %s; disconnecting its publisher %s",
            publish.camera_id,
            reason,
            publish.remote_address,
        )
        deadline = time.monotonic() + self._drop_within_s
        # Retried, not fire-and-forget: a publish accepted a moment ago may not be in nginx's
        # live application yet, so the first drop can find nothing to drop.
        while self._streams.by_key(publish.stream_key) is publish:
            await self._dropper.drop_publisher(publish.stream_key)
            if time.monotonic() > deadline:
                log.error(
                    "camera %s: could not disconnect the publisher of a revoked stream key within "
                    "%.0f s; the next assignment tries again",
                    publish.camera_id,
                    self._drop_within_s,
                )
                return
            await asyncio.sleep(self._retry_every_s)

    async def close(self) -> None:
        """Cancel the work under way."""
        await cancel_and_wait(self._tasks.values())
        self._tasks.clear()
