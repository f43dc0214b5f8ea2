"""Who may publish: nginx's on_publish and on_publish_done, decided against the assignment, the
live streams and (for keys not assigned here) the control plane, with unknown keys rate limited
per source address so nobody can guess keys or flood the control plane through this node.

Behind the fleet ingest (Envoy's TCP proxy, envoy/envoy.yaml) every camera comes from Envoy's
address, and a camera whose node died republishes here with a key this node's assignment does
not have: only refusals of keys the control plane does not know count against an address, so
cameras failing over together are never rate limited.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from dataclasses import dataclass, field
from typing import Protocol

from node_agent.assignment import CurrentAssignment
from node_agent.desired import Ingest
from node_agent.http_api import PublishDecision
from node_agent.outbox import Outbox
from node_agent.reports import StreamEventKind, stream_event
from node_agent.streams import StreamTracker

log = logging.getLogger(__name__)

UNREACHABLE = "unknown stream key and the control plane is unreachable"
ALREADY_PUBLISHING = "already publishing"
RATE_LIMITED = "too many unknown stream keys from this address; try again later"
PULL_FROM_ELSEWHERE = "a pull camera is published by its node only"


def _loopback(address: str) -> bool:
    """nginx's `addr` of a publisher on this host."""
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class KeyCheckFailed(Exception):
    """The control plane gave no verdict on a stream key (the message says why)."""


class ControlPlaneUnreachable(KeyCheckFailed):
    """The control plane could not be reached in time (down, unreachable, too slow)."""


# The control plane's answer to CheckStreamKey has the shape of the decision given to nginx.
KeyCheck = PublishDecision


class KeyChecker(Protocol):
    """Asks the control plane about a stream key the node does not know."""

    async def check(self, stream_key: str, remote_address: str) -> KeyCheck:
        """The verdict; raises KeyCheckFailed (ControlPlaneUnreachable) when there is none."""
        ...


@dataclass
class RateLimiter:
    """At most `limit` attempts per address per fixed window of `window_s` seconds."""

    limit: int = 10
    window_s: float = 60.0
    # Bounded so that a scan from many addresses cannot grow it without end.
    max_addresses: int = 10_000
    _windows: dict[str, tuple[float, int]] = field(default_factory=dict)

    def count(self, address: str, now: float | None = None) -> int:
        """Attempts from `address` in its current window (without counting one more)."""
        now = time.monotonic() if now is None else now
        start, count = self._windows.get(address, (now, 0))
        return 0 if now - start >= self.window_s else count

    def hit(self, address: str, now: float | None = None) -> int:
        """Count an attempt from `address`; how many it made in this window (this one too)."""
        now = time.monotonic() if now is None else now
        start, count = self._windows.get(address, (now, 0))
        if now - start >= self.window_s:
            start, count = now, 0
        self._windows[address] = (start, count + 1)
        if len(self._windows) > self.max_addresses:
            self._prune(now)
        return count + 1

    def _prune(self, now: float) -> None:
        self._windows = {a: w for a, w in self._windows.items() if now - w[0] < self.window_s}
        while len(self._windows) > self.max_addresses:
            del self._windows[next(iter(self._windows))]


class PublishGate:
    """nginx's publish notifications, decided and turned into stream events."""

    def __init__(
        self,
        assignment: CurrentAssignment,
        streams: StreamTracker,
        checker: KeyChecker,
        outbox: Outbox,
        limiter: RateLimiter,
    ) -> None:
        self._assignment = assignment
        self._streams = streams
        self._checker = checker
        self._outbox = outbox
        self._limiter = limiter

    async def on_publish(self, stream_key: str, remote_address: str) -> PublishDecision:
        """Allow or refuse a publish of `stream_key` from `remote_address`."""
        camera = self._assignment.camera_for_key(stream_key)
        if camera is not None and camera.ingest is Ingest.PULL and not _loopback(remote_address):
            # Only this node's puller (node_agent.pull) publishes a pull camera, from loopback:
            # someone else holding its key must not replace the camera's picture.
            await self._refused(PULL_FROM_ELSEWHERE, remote_address, camera_id=camera.camera_id)
            return PublishDecision(allowed=False, reason=PULL_FROM_ELSEWHERE)
        if camera is not None:
            return await self._accept(stream_key, camera.camera_id, remote_address, assigned=True)
        if self._limiter.count(remote_address) >= self._limiter.limit:
            attempts = self._limiter.hit(remote_address)
            # One event per address and window: a flood must not fill the spool.
            if attempts == self._limiter.limit + 1:
                await self._refused(RATE_LIMITED, remote_address, stream_key=stream_key)
            return PublishDecision(allowed=False, reason=RATE_LIMITED)
        try:
            verdict = await self._checker.check(stream_key, remote_address)
        except KeyCheckFailed as exc:
            self._limiter.hit(remote_address)
            log.warning("cannot check a stream key from %s: %s", remote_address, exc)
            reason = (
                UNREACHABLE
                if isinstance(exc, ControlPlaneUnreachable)
                else f"the stream key could not be checked: {exc}"
            )
            await self._refused(reason, remote_address, stream_key=stream_key)
            return PublishDecision(allowed=False, reason=reason)
        if not verdict.allowed:
            if not verdict.camera_id:
                # A key no camera has: a guess, counted. A known camera refused for now (live on
                # another node until that node is declared lost) is not.
                self._limiter.hit(remote_address)
            # The control plane audits its own refusals.
            return PublishDecision(allowed=False, reason=verdict.reason or "stream key refused")
        return await self._accept(stream_key, verdict.camera_id, remote_address, assigned=False)

    async def _accept(
        self, stream_key: str, camera_id: str, remote_address: str, *, assigned: bool
    ) -> PublishDecision:
        if self._streams.by_camera(camera_id) is not None:
            await self._refused(ALREADY_PUBLISHING, remote_address, camera_id=camera_id)
            return PublishDecision(allowed=False, camera_id=camera_id, reason=ALREADY_PUBLISHING)
        self._streams.publish_started(
            stream_key,
            camera_id,
            remote_address,
            assignment_version=self._assignment.version,
            assigned=assigned,
        )
        await self._outbox.emit(
            stream_event(StreamEventKind.PUBLISH, camera_id, remote_address=remote_address)
        )
        log.info("camera %s publishing from %s", camera_id, remote_address)
        return PublishDecision(allowed=True, camera_id=camera_id)

    async def _refused(
        self, reason: str, remote_address: str, camera_id: str = "", stream_key: str = ""
    ) -> None:
        await self._outbox.emit(
            stream_event(
                StreamEventKind.REFUSED,
                camera_id,
                reason,
                remote_address,
                # A known camera is named by id; only an unknown key needs its prefix.
                "" if camera_id else stream_key,
            )
        )

    async def on_publish_done(self, stream_key: str, remote_address: str) -> None:
        """A publisher went away: UNPUBLISH, if its publish had been accepted (with the reason
        when the agent dropped it)."""
        publish = self._streams.publish_ended(stream_key)
        if publish is None:
            return
        await self._outbox.emit(
            stream_event(
                StreamEventKind.UNPUBLISH,
                publish.camera_id,
                publish.end_reason,
                remote_address=publish.remote_address,
            )
        )
        if publish.end_reason:
            log.info("camera %s disconnected: %s", publish.camera_id, publish.end_reason)
        else:
            log.info("camera %s stopped publishing", publish.camera_id)
