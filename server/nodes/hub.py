"""The control plane's side of AgentService.Connect: one session per connected node.

The hub owns the sessions of the agents connected to this replica. It
- records Hello (node READY, cameras reconciled to what the node really streams),
- keeps presence fresh from heartbeats without touching the database,
- stores stream events once by id and moves camera status,
- pushes a new Assignment whenever a camera change touches a node (it follows the event log,
  so changes made on any replica reach the replica that holds the node's stream),
- has node liveness (server/nodes/liveness.py) mark nodes LOST when heartbeats stop,
- hands segment and recorder events to the recordings ingest (server/recordings/ingest.py) and
  tells nodes which segments to delete (on DeleteRecording, on every Hello, and again while
  they stay pending).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from camfleet.v1 import agent_pb2, camera_pb2, event_pb2, node_pb2, stream_pb2
from google.protobuf import duration_pb2

from server.audit.log import AuditLog
from server.cameras.service import CameraStatus
from server.cameras.status import CameraStatusWriter
from server.common.validation import is_id
from server.db.models import StreamEventRow, utcnow
from server.errors import DomainError, InvalidArgument, Unauthenticated, Unavailable
from server.events.log import EventLog
from server.events.publisher import EventPublisher
from server.nodes.assignments import AssignmentBuilder
from server.nodes.liveness import NodeLiveness
from server.nodes.presence import Presence
from server.nodes.registry import NodeHello, NodeRegistry
from server.nodes.stream_events import EVENT_TYPES, StreamEventStore
from server.recordings.ingest import RecordingIngest, UnusableEvent
from server.transport.convert import timestamp

log = logging.getLogger(__name__)

HELLO_TIMEOUT_S = 30.0
# Messages of one session waiting for their writes; past this the reader waits too (backpressure
# on the agent, whose spool keeps its events).
_WORK_BACKLOG = 256
# How often live metrics may produce a STREAM_UPDATED event per camera, and what counts as a
# change worth showing.
_METRICS_EVENT_EVERY_S = 5.0
_METRICS_RELATIVE_CHANGE = 0.2
# Deletions a node has not confirmed after this long are sent again (the request may have been
# made on another replica, or lost with a stream).
_RESEND_DELETIONS_S = 15.0
_STATUS_VALUES = {
    CameraStatus.CONNECTING: camera_pb2.CAMERA_STATUS_CONNECTING,
    CameraStatus.ONLINE: camera_pb2.CAMERA_STATUS_ONLINE,
}


@dataclass
class _Session:
    """One connected agent on this replica."""

    node_id: str
    name: str
    session_id: str
    outbox: asyncio.Queue[agent_pb2.ConnectResponse | DomainError | None] = field(
        default_factory=asyncio.Queue
    )
    sent_version: int = 0
    assigned: frozenset[str] = frozenset()
    # camera id -> status this session last set (CONNECTING or ONLINE); absent: not live.
    live: dict[str, CameraStatus] = field(default_factory=dict)
    shown: dict[str, tuple[stream_pb2.StreamStatus, float]] = field(default_factory=dict)
    # Smallest (receive time - agent's send time) seen: clock offset plus network latency.
    fastest_delivery_s: float = math.inf

    def end(self, why: DomainError | None) -> None:
        """Finish the session's response stream (None: replaced by a newer session)."""
        self.outbox.put_nowait(why)


def _agent_time(message: agent_pb2.ConnectRequest) -> datetime:
    """When the agent says the message was made; now if unset or absurd."""
    if message.HasField("time"):
        with contextlib.suppress(ValueError, OverflowError):
            return message.time.ToDatetime(tzinfo=UTC)
    return utcnow()


def _stream_status(
    node_id: str, report: agent_pb2.StreamReport, status: CameraStatus, now: datetime
) -> stream_pb2.StreamStatus:
    stream = stream_pb2.StreamStatus(
        camera_id=report.camera_id,
        status=_STATUS_VALUES[status],
        node_id=node_id,
        bitrate_bps=max(0, report.bitrate_bps),
        fps=max(0.0, report.fps),
        width=max(0, report.width),
        height=max(0, report.height),
        video_codec=report.video_codec[:32],
        audio_codec=report.audio_codec[:32],
        clients=max(0, report.clients),
        update_time=timestamp(now),
    )
    if report.HasField("publish_start_time"):
        stream.publish_start_time.CopyFrom(report.publish_start_time)
    return stream


def _worth_showing(old: stream_pb2.StreamStatus, new: stream_pb2.StreamStatus) -> bool:
    def moved(a: float, b: float) -> bool:
        return abs(a - b) > _METRICS_RELATIVE_CHANGE * max(a, b, 1.0)

    return (
        (old.width, old.height, old.video_codec, old.audio_codec, old.clients, old.status)
        != (new.width, new.height, new.video_codec, new.audio_codec, new.clients, new.status)
        or moved(old.bitrate_bps, new.bitrate_bps)
        or moved(old.fps, new.fps)
    )


class AgentHub:
    """Sessions of the agents connected to this replica, and node liveness."""

    def __init__(
        self,
        *,
        registry: NodeRegistry,
        assignments: AssignmentBuilder,
        presence: Presence,
        status: CameraStatusWriter,
        stream_events: StreamEventStore,
        recordings: RecordingIngest,
        publisher: EventPublisher,
        audit: AuditLog,
        events: EventLog,
        heartbeat_interval: timedelta,
        lost_after: timedelta,
        startup_grace: timedelta,
        playback_secret: bytes,
    ) -> None:
        self._registry = registry
        self._assignments = assignments
        self._presence = presence
        self._status = status
        self._stream_events = stream_events
        self._recordings = recordings
        self._publisher = publisher
        self._audit = audit
        self._events = events
        self._heartbeat = heartbeat_interval
        self._lost_after = lost_after.total_seconds()
        self._playback_secret = playback_secret
        self._sessions: dict[str, _Session] = {}
        # camera id -> the local node whose last assignment holds it; nodes owing a new one.
        self._camera_node: dict[str, str] = {}
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        # Nodes get this long after a restart of the control plane to reconnect before their
        # missing heartbeats count (Kubernetes' node startup grace): the agents are backing off.
        self._liveness = NodeLiveness(
            registry=registry,
            status=status,
            presence=presence,
            publisher=publisher,
            lost_after_s=self._lost_after,
            startup_grace_s=startup_grace.total_seconds(),
            on_lost=recordings.node_lost,
        )

    @property
    def connected(self) -> int:
        """How many agents hold a session on this replica."""
        return len(self._sessions)

    async def start(self) -> None:
        """Start the lost-node sweeper and the assignment follower."""
        self._tasks = [
            asyncio.create_task(
                self._liveness.run_forever(lambda: list(self._sessions), self._end_session),
                name="node-sweeper",
            ),
            asyncio.create_task(self._follow_cameras(), name="assignment-follower"),
            asyncio.create_task(self._push_dirty(), name="assignment-pusher"),
            asyncio.create_task(self._resend_deletions(), name="deletion-resender"),
            asyncio.create_task(
                self._assignments.follow_revocations(self.refresh_all), name="grant-follower"
            ),
        ]

    def refresh_all(self) -> None:
        """Recompute every local node's assignment (revoked URL grants changed)."""
        self._dirty.update(self._sessions)
        self._wake.set()

    async def close(self) -> None:
        """Stop background work and end every session (agents reconnect elsewhere)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for session in list(self._sessions.values()):
            session.end(Unavailable("the control plane is shutting down; reconnect"))

    # --- Connect ---------------------------------------------------------------------------

    async def connect(
        self, node_id: str, name: str, requests: AsyncIterator[agent_pb2.ConnectRequest]
    ) -> AsyncIterator[agent_pb2.ConnectResponse]:
        """Serve one agent's Connect stream."""
        first = await self._first_message(requests)
        session = _Session(node_id=node_id, name=name, session_id=uuid.uuid4().hex)
        await self._hello(session, first)
        previous = self._sessions.get(node_id)
        if previous is not None:
            previous.end(None)
        self._sessions[node_id] = session
        reader = asyncio.create_task(self._read(session, requests))
        clean = False
        try:
            yield agent_pb2.ConnectResponse(
                welcome=agent_pb2.Welcome(
                    session_id=session.session_id,
                    node_id=node_id,
                    heartbeat_interval=duration_pb2.Duration(
                        seconds=int(self._heartbeat.total_seconds()),
                        nanos=self._heartbeat.microseconds * 1000,
                    ),
                    lost_after=duration_pb2.Duration(
                        seconds=int(self._lost_after),
                        nanos=int((self._lost_after % 1) * 1e9),
                    ),
                    playback_secret=self._playback_secret.hex(),
                )
            )
            await self._push_assignment(session)
            pending = await self._recordings.pending_deletions([node_id])
            self.send_deletions(node_id, pending.get(node_id, []))
            while True:
                item = await session.outbox.get()
                if isinstance(item, agent_pb2.ConnectResponse):
                    yield item
                    continue
                if item is not None:
                    raise item
                if reader.done() and not reader.cancelled() and reader.exception() is None:
                    clean = self._current(session)
                return
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            if self._current(session):
                del self._sessions[node_id]
                if clean:
                    await self._liveness.went_offline(node_id)

    def _current(self, session: _Session) -> bool:
        return self._sessions.get(session.node_id) is session

    @staticmethod
    async def _first_message(
        requests: AsyncIterator[agent_pb2.ConnectRequest],
    ) -> agent_pb2.ConnectRequest:
        try:
            async with asyncio.timeout(HELLO_TIMEOUT_S):
                first = await anext(requests)
        except StopAsyncIteration:
            raise InvalidArgument("the stream ended before a Hello") from None
        except TimeoutError:
            raise InvalidArgument(f"no Hello within {HELLO_TIMEOUT_S:.0f} s") from None
        if first.WhichOneof("body") != "hello":
            raise InvalidArgument("the first message on Connect must be a Hello")
        return first

    async def _hello(self, session: _Session, message: agent_pb2.ConnectRequest) -> None:
        hello = message.hello
        now = _agent_time(message)
        # Presence first: the sweeper must never see the node READY without a heartbeat.
        await self._presence.heartbeat(session.node_id, time.time(), node_pb2.HostMetrics(), [])
        row, became_ready = await self._registry.connected(
            session.node_id,
            NodeHello(hello.version, hello.capacity, hello.rtmp_url, hello.http_url),
            now,
        )
        session.name = row.name
        await self._recordings.node_back(session.node_id, now)
        if became_ready:  # announced before the cameras it brings back, as it happened
            await self._publisher.node_changed(
                event_pb2.EVENT_TYPE_NODE_STATE_CHANGED, row, f"node {row.name} is ready"
            )
        streams: list[stream_pb2.StreamStatus] = []
        for report in hello.streams:
            if not is_id(report.camera_id):
                continue
            status = CameraStatus.ONLINE if report.media_flowing else CameraStatus.CONNECTING
            session.live[report.camera_id] = status
            streams.append(_stream_status(session.node_id, report, status, now))
        # What the node streams now is the truth, whatever older events said.
        changed = await self._status.reconcile_node(
            session.node_id,
            session.live,
            now,
            f"not streaming on node {row.name} when it reconnected",
        )
        await self._presence.drop_streams(c.id for c in changed if c.id not in session.live)
        # Counted from the end of the handshake, not its start, and with a startup grace: under
        # a connect storm the writes above wait their turn for seconds, and the first heartbeat
        # comes only after the Welcome.
        await self._presence.heartbeat(
            session.node_id, self._liveness.heard_at_connect(), node_pb2.HostMetrics(), streams
        )
        log.info("node %s connected (%d live streams)", row.name, len(streams))

    async def _read(
        self, session: _Session, requests: AsyncIterator[agent_pb2.ConnectRequest]
    ) -> None:
        """Read the agent's messages; the session ends when they end or fail.

        Heartbeats reach presence here, at once; everything that writes (events, ACKs, status
        changes) runs in order on a worker. Under a connect storm a write waits seconds for its
        turn, and a reader blocked on it would leave the node's next heartbeats unread: the
        sweeper would declare a healthy node LOST.
        """
        work: asyncio.Queue[Awaitable[None]] = asyncio.Queue(maxsize=_WORK_BACKLOG)
        worker = asyncio.create_task(self._work(session, work), name=f"node-{session.name}")
        try:
            async for message in requests:
                kind = message.WhichOneof("body")
                if kind == "heartbeat":
                    await work.put(await self._on_heartbeat(session, message))
                elif kind == "stream_event":
                    await work.put(self._on_stream_event(session, message))
                elif kind in ("segment_event", "recorder_event"):
                    await work.put(self._on_recording_event(session, message))
                elif kind == "ack":
                    await work.put(self._on_ack(session, message.ack.version))
                elif kind == "nack":
                    await work.put(self._on_nack(session, message.nack))
                elif kind == "hello":
                    raise InvalidArgument("Hello may only be the first message of a stream")
                else:
                    raise InvalidArgument(
                        "empty ConnectRequest: set one of hello, heartbeat, stream_event, "
                        "segment_event, recorder_event, ack, nack"
                    )
            await work.join()
        except DomainError as err:
            session.end(err)
            return
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
            while not work.empty():  # never awaited: close them so Python does not warn
                pending = work.get_nowait()
                if inspect.iscoroutine(pending):
                    pending.close()
        session.end(None)

    async def _work(self, session: _Session, work: asyncio.Queue[Awaitable[None]]) -> None:
        """Handle the session's messages in the order they came, until cancelled or one fails."""
        while True:
            job = await work.get()
            try:
                await job
            except DomainError as err:
                session.end(err)
                return
            except Exception:  # e.g. the database went away: the agent reconnects and resends
                log.exception("node %s: message handling failed", session.name)
                session.end(
                    Unavailable("the control plane could not process a message; reconnect")
                )
                return
            finally:
                work.task_done()

    async def _on_heartbeat(
        self, session: _Session, message: agent_pb2.ConnectRequest
    ) -> Awaitable[None]:
        """Record the heartbeat in presence now; return what remains to write (in order)."""
        now = utcnow()
        at = _agent_time(message)
        # How much longer than this node's best this heartbeat took to be read: a backlog in this
        # process (unread messages wait in gRPC's buffers, which the loop-lag sampler cannot
        # see). Liveness allows for it rather than blame the nodes (the offset cancels out).
        delivery = now.timestamp() - at.timestamp()
        session.fastest_delivery_s = min(session.fastest_delivery_s, delivery)
        self._liveness.lag.note(delivery - session.fastest_delivery_s)
        streams: list[stream_pb2.StreamStatus] = []
        flowing: list[str] = []
        for report in message.heartbeat.streams:
            known = session.live.get(report.camera_id)
            if known is None:
                continue  # its PUBLISH event has not arrived yet, or it already ended
            if known is CameraStatus.CONNECTING and report.media_flowing:
                # The MEDIA event may still be in the spool; the heartbeat shows it already.
                session.live[report.camera_id] = known = CameraStatus.ONLINE
                flowing.append(report.camera_id)
            streams.append(_stream_status(session.node_id, report, known, now))
        await self._presence.heartbeat(
            session.node_id, time.time(), message.heartbeat.host, streams
        )
        return self._after_heartbeat(session, flowing, at, streams)

    async def _after_heartbeat(
        self,
        session: _Session,
        flowing: list[str],
        at: datetime,
        streams: list[stream_pb2.StreamStatus],
    ) -> None:
        for camera_id in flowing:
            await self._status.set(camera_id, CameraStatus.ONLINE, "", session.node_id, at)
        for stream in streams:
            await self._maybe_show(session, stream)

    async def _maybe_show(self, session: _Session, stream: stream_pb2.StreamStatus) -> None:
        previous = session.shown.get(stream.camera_id)
        now = time.monotonic()
        if previous is None:
            # The first report of a stream adds nothing to the status event that announced it;
            # publishing it cost a connect storm ten event appends per node.
            session.shown[stream.camera_id] = (stream, now)
            return
        if now - previous[1] < _METRICS_EVENT_EVERY_S or not _worth_showing(previous[0], stream):
            return
        session.shown[stream.camera_id] = (stream, now)
        size = f"{stream.width}x{stream.height}" if stream.width else "unknown size"
        await self._publisher.stream_updated(
            stream,
            f"stream {stream.camera_id}: {size} {stream.video_codec or '?'} "
            f"{stream.fps:.0f} fps {stream.bitrate_bps // 1000} kbit/s, {stream.clients} clients",
        )

    @staticmethod
    def _event_id(message: agent_pb2.ConnectRequest) -> str:
        event_id = message.event_id
        if not event_id or len(event_id) > 64:
            kind = (message.WhichOneof("body") or "").replace("_", " ")
            raise InvalidArgument(f"every {kind} needs an event_id of 1-64 characters")
        return event_id

    @staticmethod
    def _ack(session: _Session, event_id: str) -> None:
        session.outbox.put_nowait(
            agent_pb2.ConnectResponse(event_ack=agent_pb2.EventAck(event_ids=[event_id]))
        )

    async def _on_recording_event(
        self, session: _Session, message: agent_pb2.ConnectRequest
    ) -> None:
        event_id = self._event_id(message)
        at = _agent_time(message)
        try:
            if message.HasField("segment_event"):
                await self._recordings.segment_event(
                    session.node_id, event_id, message.segment_event, at
                )
            else:
                await self._recordings.recorder_event(
                    session.node_id, event_id, message.recorder_event, at
                )
        except UnusableEvent as why:
            # Acknowledged and dropped, like an unusable stream event.
            log.warning("node %s sent an unusable event %s: %s", session.name, event_id, why)
        self._ack(session, event_id)

    async def _on_stream_event(self, session: _Session, message: agent_pb2.ConnectRequest) -> None:
        event = message.stream_event
        event_id = self._event_id(message)
        type_name = EVENT_TYPES.get(event.type)
        if type_name is None or (event.camera_id and not is_id(event.camera_id)):
            # Acknowledged and dropped: an event no one can use must not block the spool
            # behind it forever.
            log.warning("node %s sent an unusable stream event %s", session.name, event_id)
            self._ack(session, event_id)
            return
        at = _agent_time(message)
        new = await self._stream_events.record(
            StreamEventRow(
                id=event_id,
                node_id=session.node_id,
                camera_id=event.camera_id,
                type=type_name,
                message=event.message[:2000],
                remote_address=event.remote_address[:64],
                time=at,
                received_at=utcnow(),
            )
        )
        if new:
            await self._apply(session, event, at)
        self._ack(session, event_id)

    async def _apply(self, session: _Session, event: agent_pb2.StreamEvent, at: datetime) -> None:
        camera_id, node_id = event.camera_id, session.node_id
        kind = event.type
        if kind == stream_pb2.STREAM_EVENT_TYPE_REFUSED:
            await self._audit.security_event(
                "stream.publish_refused",
                f"cameras/{camera_id}" if camera_id else f"nodes/{node_id}",
                actor=f"node:{session.name}",
                details={
                    "reason": event.message[:500],
                    "publisher_address": event.remote_address[:64],
                    "key_prefix": event.stream_key_prefix[:6],
                },
            )
            return
        if not camera_id:
            return
        if kind == stream_pb2.STREAM_EVENT_TYPE_PUBLISH:
            await self._status.set(camera_id, CameraStatus.CONNECTING, "", node_id, at)
            session.live[camera_id] = CameraStatus.CONNECTING
        elif kind == stream_pb2.STREAM_EVENT_TYPE_MEDIA:
            await self._status.set(camera_id, CameraStatus.ONLINE, "", node_id, at)
            session.live[camera_id] = CameraStatus.ONLINE
        elif kind == stream_pb2.STREAM_EVENT_TYPE_UNPUBLISH:
            reason = event.message[:500] or "the publisher disconnected"
            await self._status.set(camera_id, CameraStatus.OFFLINE, reason, node_id, at)
            session.live.pop(camera_id, None)
            session.shown.pop(camera_id, None)
            await self._presence.drop_streams([camera_id])
        elif kind == stream_pb2.STREAM_EVENT_TYPE_ERROR:
            reason = event.message[:500] or "the node reported an error"
            await self._status.set(camera_id, CameraStatus.ERROR, reason, node_id, at)
            session.live.pop(camera_id, None)
            await self._presence.drop_streams([camera_id])

    async def _on_ack(self, session: _Session, version: int) -> None:
        if version > session.sent_version:
            raise InvalidArgument(
                f"acknowledged assignment version {version}, which was never sent (the latest "
                f"is {session.sent_version})"
            )
        if version == session.sent_version:
            await self._registry.acknowledged(session.node_id, version)
        else:
            log.info("node %s acknowledged old assignment %d", session.name, version)

    async def _on_nack(self, session: _Session, nack: agent_pb2.AssignmentNack) -> None:
        log.warning(
            "node %s refused assignment %d: %s", session.name, nack.version, nack.error[:500]
        )
        await self._audit.security_event(
            "node.assignment_refused",
            f"nodes/{session.node_id}",
            outcome="failure",
            actor=f"node:{session.name}",
            details={"version": str(nack.version), "error": nack.error[:500]},
        )

    # --- Desired state ---------------------------------------------------------------------

    async def _push_assignment(self, session: _Session) -> None:
        assignment = await self._assignments.current(session.node_id)
        if assignment is None:
            session.end(Unauthenticated("this node was deleted; register it again"))
            return
        assigned = frozenset(c.camera_id for c in assignment.cameras)
        for camera_id in session.assigned - assigned:
            if self._camera_node.get(camera_id) == session.node_id:
                del self._camera_node[camera_id]
        for camera_id in assigned:
            self._camera_node[camera_id] = session.node_id
        session.assigned = assigned
        if assignment.version > session.sent_version:  # a slower, older computation loses
            session.sent_version = assignment.version
            session.outbox.put_nowait(agent_pb2.ConnectResponse(assignment=assignment))

    async def _follow_cameras(self) -> None:
        """Mark every local node a camera change touches for a new assignment. The follower
        only marks; `_push_dirty` recomputes each marked node once, however many changes came
        (a fleet reconnecting makes thousands of camera events in seconds)."""
        while True:
            try:
                async for stored in self._events.watch(await self._events.current_revision()):
                    if not stored.subject.startswith("cameras/"):
                        continue
                    camera = event_pb2.Event.FromString(stored.payload).camera
                    for node_id in (camera.node_id, self._camera_node.get(camera.id, "")):
                        if node_id in self._sessions:
                            self._dirty.add(node_id)
                            self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:  # compaction or a broken log: catch up on everything, go on
                log.exception("assignment follower restarts")
                self._dirty.update(self._sessions)
                self._wake.set()
                await asyncio.sleep(1.0)

    async def _push_dirty(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            dirty, self._dirty = self._dirty, set()
            for node_id in dirty:
                session = self._sessions.get(node_id)
                if session is None:
                    continue
                try:
                    await self._push_assignment(session)
                except asyncio.CancelledError:
                    raise
                except Exception:  # retried on the next change; the agent keeps its last one
                    log.exception("could not compute the assignment of node %s", session.name)

    def send_deletions(self, node_id: str, recording_ids: Sequence[str]) -> None:
        """Tell a locally connected node to delete these segments (no-op otherwise: the node
        gets them on its next Hello, or from the replica that holds its stream)."""
        session = self._sessions.get(node_id)
        if session is not None and recording_ids:
            session.outbox.put_nowait(
                agent_pb2.ConnectResponse(
                    delete_segments=agent_pb2.DeleteSegments(recording_ids=list(recording_ids))
                )
            )

    async def _resend_deletions(self) -> None:
        while True:
            await asyncio.sleep(_RESEND_DELETIONS_S)
            try:
                pending = await self._recordings.pending_deletions(
                    list(self._sessions), older_than=timedelta(seconds=_RESEND_DELETIONS_S)
                )
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup: the next round tries again
                log.exception("could not read pending segment deletions")
                continue
            for node_id, ids in pending.items():
                self.send_deletions(node_id, ids)

    def drain(self, node_id: str, reason: str) -> None:
        """Tell a locally connected node to drain."""
        session = self._sessions.get(node_id)
        if session is not None:
            session.outbox.put_nowait(
                agent_pb2.ConnectResponse(drain=agent_pb2.Drain(reason=reason))
            )

    def node_deleted(self, node_id: str) -> None:
        """End the session of a deleted node."""
        self._end_session(node_id, Unauthenticated("this node was deleted; register it again"))

    def _end_session(self, node_id: str, why: DomainError) -> None:
        session = self._sessions.get(node_id)
        if session is not None:
            session.end(why)

    async def sweep(self) -> None:
        """One liveness pass (the background task runs it continuously)."""
        await self._liveness.sweep(list(self._sessions), self._end_session)
