"""The agent's side of the Connect protocol, message by message: the Hello and Heartbeat it
sends, and what it does with each message of the control plane (Welcome, Assignment, EventAck,
DeleteSegments, Drain, Ping), as plain methods over the agent's state so they can be exercised
without a stream (node_agent.connection drives them over gRPC).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from camfleet.v1 import agent_pb2, node_pb2

from node_agent.assignment import CurrentAssignment
from node_agent.convert import assignment_from_proto, report_to_proto
from node_agent.credentials import Credential
from node_agent.desired import Assignment
from node_agent.hostmetrics import HostMetrics
from node_agent.outbox import Outbox, stamped
from node_agent.playback_auth import PlaybackSecret
from node_agent.reports import StreamEventKind, stream_event
from node_agent.streams import StreamTracker

log = logging.getLogger(__name__)

DEFAULT_HEARTBEAT_S = 1.0
# Whatever a Welcome says, heartbeats stay within these bounds.
MIN_HEARTBEAT_S, MAX_HEARTBEAT_S = 0.1, 300.0
# When this process started, near enough (this module is imported at the agent's start): every
# Hello says how long ago, so the control plane can tell a reconnect of a running agent from a
# new one after an end without a goodbye.
_STARTED = time.monotonic()


@dataclass(frozen=True)
class NodeInfo:
    """What Hello says about this node."""

    version: str
    capacity: int
    rtmp_url: str
    http_url: str
    # CPU cores this agent may use (placement keeps the live ladders' transcoding within them).
    cpu_cores: float = 0.0


class AgentMessages:
    """Builds this node's messages and acts on the control plane's; keeps the session's settings
    (from the last Welcome)."""

    def __init__(
        self,
        *,
        credential: Credential,
        info: NodeInfo,
        assignment: CurrentAssignment,
        streams: StreamTracker,
        outbox: Outbox,
        playback: PlaybackSecret,
        host: HostMetrics,
        on_applied: Callable[[Assignment], None] | None = None,
        on_delete_segments: Callable[[list[str]], Awaitable[object]] | None = None,
    ) -> None:
        self._credential = credential
        self._info = info
        self._assignment = assignment
        self._streams = streams
        self._outbox = outbox
        self._playback = playback
        self._host = host
        # Told of every assignment applied (node_agent.revocation ends revoked publishes).
        self._on_applied = on_applied
        # DeleteSegments go to node_agent.recording, which reports each deletion as an event.
        self._on_delete_segments = on_delete_segments
        self.heartbeat_interval_s = DEFAULT_HEARTBEAT_S
        self.lost_after_s = 3 * DEFAULT_HEARTBEAT_S
        self.session_id = ""

    def hello(self) -> agent_pb2.ConnectRequest:
        """The first message of every stream: who this node is and what runs here now."""
        return stamped(
            agent_pb2.ConnectRequest(
                hello=agent_pb2.Hello(
                    version=self._info.version,
                    capacity=self._info.capacity,
                    rtmp_url=self._info.rtmp_url,
                    http_url=self._info.http_url,
                    cpu_cores=self._info.cpu_cores,
                    streams=[report_to_proto(r) for r in self._streams.reports()],
                    assignment_version=self._assignment.version,
                    uptime_seconds=time.monotonic() - _STARTED,
                )
            )
        )

    def heartbeat(self) -> agent_pb2.ConnectRequest:
        """Host metrics and the live streams (never spooled: only the latest one matters)."""
        sample = self._host.sample()
        host = node_pb2.HostMetrics(
            cpu_percent=sample.cpu_percent,
            memory_used_bytes=sample.memory_used_bytes,
            memory_total_bytes=sample.memory_total_bytes,
            disk_used_bytes=sample.disk_used_bytes,
            disk_total_bytes=sample.disk_total_bytes,
            load_average_1m=sample.load_average_1m,
        )
        return stamped(
            agent_pb2.ConnectRequest(
                heartbeat=agent_pb2.Heartbeat(
                    host=host, streams=[report_to_proto(r) for r in self._streams.reports()]
                )
            )
        )

    async def handle(self, response: agent_pb2.ConnectResponse) -> list[agent_pb2.ConnectRequest]:
        """Act on one message from the control plane; the replies to send."""
        body = response.WhichOneof("body")
        if body == "welcome":
            await self.on_welcome(response.welcome)
        elif body == "assignment":
            return [await self.on_assignment(response.assignment)]
        elif body == "event_ack":
            await self.on_event_ack(response.event_ack)
        elif body == "delete_segments":
            if self._on_delete_segments is not None:
                await self._on_delete_segments(list(response.delete_segments.recording_ids))
        elif body == "drain":
            log.warning("the control plane asks this node to drain: %s", response.drain.reason)
        elif body == "ping":
            pass  # Keeps the stream busy through proxies; nothing to answer.
        else:
            log.debug("ignoring a message this agent does not know (%s)", body)
        return []

    async def on_welcome(self, welcome: agent_pb2.Welcome) -> None:
        """Take the session's settings and keep the playback secret."""
        self.session_id = welcome.session_id
        if welcome.node_id and welcome.node_id != self._credential.node_id:
            log.warning(
                "the control plane calls this node %s; its credential says %s",
                welcome.node_id,
                self._credential.node_id,
            )
        interval = welcome.heartbeat_interval.ToTimedelta().total_seconds()
        self.heartbeat_interval_s = (
            min(max(interval, MIN_HEARTBEAT_S), MAX_HEARTBEAT_S)
            if interval > 0
            else DEFAULT_HEARTBEAT_S
        )
        lost_after = welcome.lost_after.ToTimedelta().total_seconds()
        self.lost_after_s = lost_after if lost_after > 0 else 3 * self.heartbeat_interval_s
        if welcome.playback_secret:
            try:
                secret = bytes.fromhex(welcome.playback_secret)
            except ValueError:
                log.error("the control plane sent a playback secret that is not hex; ignored")
            else:
                try:
                    if await asyncio.to_thread(self._playback.update, secret):
                        log.info("stored a new playback secret")
                except OSError as exc:
                    # Still used in memory; only a restart without the control plane loses it.
                    self._playback.value = secret
                    log.error("cannot store the playback secret: %s", exc)

    async def on_assignment(self, assignment: agent_pb2.Assignment) -> agent_pb2.ConnectRequest:
        """Apply `assignment`; the AssignmentAck, or the AssignmentNack saying why not."""
        result = await self._assignment.apply(assignment_from_proto(assignment))
        for stale in result.stale:
            # The camera is not run here; the control plane hears why (its placement decides
            # whether this node's word counts: a report from a node it is not on is ignored).
            await self._outbox.emit(
                stream_event(StreamEventKind.ERROR, stale.camera_id, stale.message)
            )
        if result.accepted:
            if self._on_applied is not None:
                self._on_applied(self._assignment.assignment)
            return stamped(
                agent_pb2.ConnectRequest(ack=agent_pb2.AssignmentAck(version=result.version))
            )
        return stamped(
            agent_pb2.ConnectRequest(
                nack=agent_pb2.AssignmentNack(version=result.version, error=result.error)
            )
        )

    async def on_event_ack(self, ack: agent_pb2.EventAck) -> None:
        """The control plane stored these events: drop them from the spool."""
        await asyncio.to_thread(self._outbox.spool.ack, list(ack.event_ids))
