"""The Connect stream: Hello, Welcome, heartbeats, spooled events until acknowledged, and
assignments ACKed or NACKed; reconnected with backoff whenever it ends.

Message handling (hello(), heartbeat(), handle()) is plain methods over the agent's state, so it
can be exercised without a stream; run() and stop() drive them over gRPC. The data plane never
waits on any of this.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
import grpc.aio
from camfleet.v1 import agent_pb2, node_pb2

from node_agent.assignment import CurrentAssignment
from node_agent.backoff import Backoff
from node_agent.credentials import Credential
from node_agent.hostmetrics import HostMetrics
from node_agent.outbox import Outbox, stamped
from node_agent.playback_auth import PlaybackSecret
from node_agent.streams import StreamTracker

log = logging.getLogger(__name__)

CONNECT_METHOD = "/camfleet.v1.AgentService/Connect"
DEFAULT_HEARTBEAT_S = 1.0
# Whatever a Welcome says, heartbeats stay within these bounds.
MIN_HEARTBEAT_S, MAX_HEARTBEAT_S = 0.1, 300.0


def _serialize(message: agent_pb2.ConnectRequest | bytes) -> bytes:
    """Spooled events are already serialized: they go out byte for byte as first stored."""
    return message if isinstance(message, bytes) else message.SerializeToString()


@dataclass(frozen=True)
class NodeInfo:
    """What Hello says about this node."""

    version: str
    capacity: int
    rtmp_url: str
    http_url: str


class ProtocolError(Exception):
    """The control plane broke the protocol (e.g. no Welcome first)."""


@dataclass(frozen=True)
class SessionEnded(Exception):
    """A Connect stream ended; its status."""

    code: grpc.StatusCode
    details: str

    def __str__(self) -> str:
        return f"{self.code.name}: {self.details}"


class Connection:
    """One node's Connect stream to the control plane, kept open until stop()."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        *,
        credential: Credential,
        info: NodeInfo,
        assignment: CurrentAssignment,
        streams: StreamTracker,
        outbox: Outbox,
        playback: PlaybackSecret,
        host: HostMetrics,
        credential_path: Path | None = None,
        welcome_timeout_s: float = 30.0,
        on_applied: Callable[[agent_pb2.Assignment], None] | None = None,
        on_delete_segments: Callable[[list[str]], Awaitable[object]] | None = None,
    ) -> None:
        self._connect: grpc.aio.StreamStreamMultiCallable[
            agent_pb2.ConnectRequest | bytes, agent_pb2.ConnectResponse
        ] = channel.stream_stream(
            CONNECT_METHOD,
            request_serializer=_serialize,
            response_deserializer=agent_pb2.ConnectResponse.FromString,
        )
        self._credential = credential
        self._info = info
        self._assignment = assignment
        self._streams = streams
        self._outbox = outbox
        self._playback = playback
        self._host = host
        self._credential_path = credential_path
        self._welcome_timeout_s = welcome_timeout_s
        # Told of every assignment applied (node_agent.revocation ends revoked publishes).
        self._on_applied = on_applied
        # DeleteSegments go to node_agent.recording, which reports each deletion as an event.
        self._on_delete_segments = on_delete_segments
        # Capped well below the control plane's startup grace (15 s by default), so after a
        # control-plane restart every node is back before it could be marked lost; full jitter
        # still spreads a fleet's reconnects over the cap.
        self.backoff = Backoff(base=0.5, cap=4.0)
        # A node the control plane does not know (deleted) retries, but slowly.
        self.unauthenticated_backoff = Backoff(base=5.0, cap=120.0)
        self.heartbeat_interval_s = DEFAULT_HEARTBEAT_S
        self.lost_after_s = 3 * DEFAULT_HEARTBEAT_S
        self.session_id = ""
        # True between a Welcome and the end of that stream.
        self.connected = False
        self.sessions = 0
        self._stop = asyncio.Event()
        self._half_closed = False
        self._write_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._last_error: str | None = None

    # ----- messages -------------------------------------------------------------------------

    def hello(self) -> agent_pb2.ConnectRequest:
        """The first message of every stream: who this node is and what runs here now."""
        return stamped(
            agent_pb2.ConnectRequest(
                hello=agent_pb2.Hello(
                    version=self._info.version,
                    capacity=self._info.capacity,
                    rtmp_url=self._info.rtmp_url,
                    http_url=self._info.http_url,
                    streams=self._streams.reports(),
                    assignment_version=self._assignment.version,
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
                heartbeat=agent_pb2.Heartbeat(host=host, streams=self._streams.reports())
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
        result = await self._assignment.apply(assignment)
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

    # ----- the stream -----------------------------------------------------------------------

    def start(self) -> None:
        """Keep a Connect stream open in the background until stop()."""
        self._task = asyncio.create_task(self.run(), name="connect")

    async def run(self) -> None:
        """Connect, and reconnect with backoff whenever the stream ends, until stop()."""
        while not self._stop.is_set():
            try:
                await self._session()
            except SessionEnded as exc:
                ended = exc
            except grpc.aio.AioRpcError as exc:
                ended = SessionEnded(exc.code(), exc.details() or "")
            except ProtocolError as exc:
                ended = SessionEnded(grpc.StatusCode.INTERNAL, str(exc))
            except Exception as exc:
                # A bug here must not end the agent: log it fully and reconnect.
                log.exception("the Connect stream failed")
                ended = SessionEnded(grpc.StatusCode.INTERNAL, repr(exc))
            else:
                ended = SessionEnded(grpc.StatusCode.OK, "the control plane closed the stream")
            self.connected = False
            if self._stop.is_set():
                break
            self._report(ended)
            backoff = (
                self.unauthenticated_backoff
                if ended.code == grpc.StatusCode.UNAUTHENTICATED
                else self.backoff
            )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(backoff.next_delay()):
                    await self._stop.wait()

    def _report(self, ended: SessionEnded) -> None:
        """Log why the stream ended, once per distinct reason (a long outage logs one line)."""
        text = str(ended)
        if text == self._last_error:
            log.debug("Connect ended again: %s", text)
            return
        self._last_error = text
        if ended.code == grpc.StatusCode.UNAUTHENTICATED:
            where = self._credential_path or "the data directory's credential.json"
            log.error(
                "THE CONTROL PLANE REJECTS THIS NODE'S CREDENTIAL (%s). The node was deleted or "
                "the credential is wrong. Retrying slowly; to join again, stop the agent, delete "
                "%s and start it with a new --join-token (NodeService.CreateJoinToken).",
                ended.details,
                where,
            )
        else:
            log.warning("Connect stream to the control plane ended (%s); reconnecting", text)

    async def _write(
        self,
        call: grpc.aio.StreamStreamCall[
            agent_pb2.ConnectRequest | bytes, agent_pb2.ConnectResponse
        ],
        message: agent_pb2.ConnectRequest | bytes,
    ) -> None:
        async with self._write_lock:
            if self._half_closed:
                return
            try:
                await call.write(message)
            except asyncio.InvalidStateError:
                # The call finished under us: report how it finished.
                raise SessionEnded(await call.code(), await call.details() or "") from None

    async def _session(self) -> None:
        call = self._connect(None, metadata=self._credential.metadata)
        self._half_closed = False
        welcomed = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []

        def spawn(work: Awaitable[object], name: str) -> asyncio.Task[None]:
            async def wrapped() -> None:
                await work

            task = asyncio.create_task(wrapped(), name=name)
            tasks.append(task)
            return task

        try:
            await self._write(call, self.hello())
            reader = spawn(self._read_loop(call, welcomed), "connect-read")
            stopped = spawn(self._stop.wait(), "connect-stop")
            welcome = spawn(welcomed.wait(), "connect-welcome")
            done, _ = await asyncio.wait(
                {reader, stopped, welcome},
                timeout=self._welcome_timeout_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if not done:
                raise ProtocolError(f"no Welcome within {self._welcome_timeout_s:.0f}s")
            if welcome in done and stopped not in done:
                self.connected = True
                self.sessions += 1
                self.backoff.reset()
                self.unauthenticated_backoff.reset()
                if self._last_error is not None or self.sessions == 1:
                    log.info(
                        "connected to the control plane as node %s (session %s)",
                        self._credential.node_id,
                        self.session_id,
                    )
                self._last_error = None
                workers = {
                    spawn(self._heartbeat_loop(call), "connect-heartbeat"),
                    spawn(self._send_spooled(call), "connect-events"),
                }
                done, _ = await asyncio.wait(
                    {reader, stopped, *workers}, return_when=asyncio.FIRST_COMPLETED
                )
            if stopped in done or self._stop.is_set():
                await self._close_cleanly(call, reader, tasks)
                return
            for task in done:
                if task is not stopped and task is not welcome:
                    task.result()  # re-raises what ended the stream
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if not call.done():
                call.cancel()

    async def _close_cleanly(
        self,
        call: grpc.aio.StreamStreamCall[
            agent_pb2.ConnectRequest | bytes, agent_pb2.ConnectResponse
        ],
        reader: asyncio.Task[None],
        tasks: list[asyncio.Task[None]],
        grace_s: float = 5.0,
    ) -> None:
        """Half-close the stream (the control plane's sign of a clean shutdown, as opposed to a
        crash) and give it a moment to finish its side."""
        # Under the write lock no write is in flight: cancelling a task inside call.write()
        # would cancel the whole call, which is just what the control plane reads as a crash.
        async with self._write_lock:
            self._half_closed = True
            for task in tasks:
                if task is not reader:
                    task.cancel()
            with contextlib.suppress(grpc.aio.AioRpcError, asyncio.InvalidStateError):
                await call.done_writing()
        with contextlib.suppress(TimeoutError, grpc.aio.AioRpcError, ProtocolError):
            async with asyncio.timeout(grace_s):
                await asyncio.shield(reader)
        log.info("closed the Connect stream")

    async def _read_loop(
        self,
        call: grpc.aio.StreamStreamCall[
            agent_pb2.ConnectRequest | bytes, agent_pb2.ConnectResponse
        ],
        welcomed: asyncio.Event,
    ) -> None:
        while True:
            response = await call.read()
            if not isinstance(response, agent_pb2.ConnectResponse):
                return  # grpc.aio.EOF: the control plane finished its side
            if not welcomed.is_set() and response.WhichOneof("body") != "welcome":
                raise ProtocolError(
                    f"the control plane sent {response.WhichOneof('body')} before Welcome"
                )
            replies = await self.handle(response)
            welcomed.set()
            for reply in replies:
                await self._write(call, reply)

    async def _heartbeat_loop(
        self,
        call: grpc.aio.StreamStreamCall[
            agent_pb2.ConnectRequest | bytes, agent_pb2.ConnectResponse
        ],
    ) -> None:
        while True:
            await self._write(call, self.heartbeat())
            await asyncio.sleep(self.heartbeat_interval_s)

    async def _send_spooled(
        self,
        call: grpc.aio.StreamStreamCall[
            agent_pb2.ConnectRequest | bytes, agent_pb2.ConnectResponse
        ],
    ) -> None:
        """Every spooled event, oldest first, then new ones as they come; each stream starts
        over from the oldest unacknowledged one."""
        spool = self._outbox.spool
        after = 0
        while True:
            # Cleared before looking, so an event spooled meanwhile is not missed.
            self._outbox.changed.clear()
            batch = await asyncio.to_thread(spool.pending, after, 500)
            if not batch:
                await self._outbox.changed.wait()
                continue
            for event in batch:
                await self._write(call, event.payload)
                after = event.seq

    async def stop(self, grace_s: float = 5.0) -> None:
        """Close the stream cleanly (half-close, then wait for the control plane) and stop."""
        self._stop.set()
        task = self._task
        if task is None:
            return
        try:
            async with asyncio.timeout(grace_s + 1.0):
                await asyncio.shield(task)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        except Exception:
            log.exception("the Connect loop failed")
