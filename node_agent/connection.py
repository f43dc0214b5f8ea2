"""The Connect stream: Hello, Welcome, heartbeats, spooled events until acknowledged, and
assignments ACKed or NACKed; reconnected with backoff whenever it ends.

What each message means is node_agent.messages; run() and stop() drive it over gRPC. The data
plane never waits on any of this.
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
from camfleet.v1 import agent_pb2

from node_agent.backoff import Backoff
from node_agent.credentials import Credential
from node_agent.flow import SEND_WINDOW, SendWindow
from node_agent.messages import AgentMessages
from node_agent.outbox import Outbox
from node_agent.tasks import cancel_and_wait

log = logging.getLogger(__name__)

CONNECT_METHOD = "/camfleet.v1.AgentService/Connect"


def _serialize(message: agent_pb2.ConnectRequest | bytes) -> bytes:
    """Spooled events are already serialized: they go out byte for byte as first stored."""
    return message if isinstance(message, bytes) else message.SerializeToString()


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
        messages: AgentMessages,
        *,
        credential: Credential,
        outbox: Outbox,
        credential_path: Path | None = None,
        welcome_timeout_s: float = 30.0,
        explain: Callable[[str], str | None] = lambda details: None,
    ) -> None:
        self._connect: grpc.aio.StreamStreamMultiCallable[
            agent_pb2.ConnectRequest | bytes, agent_pb2.ConnectResponse
        ] = channel.stream_stream(
            CONNECT_METHOD,
            request_serializer=_serialize,
            response_deserializer=agent_pb2.ConnectResponse.FromString,
        )
        self.messages = messages
        self._credential = credential
        self._outbox = outbox
        self._credential_path = credential_path
        self._welcome_timeout_s = welcome_timeout_s
        # A TLS failure's details as a sentence (node_agent.node_tls), None for other failures.
        self._explain = explain
        # Capped well below the control plane's startup grace (15 s by default), so after a
        # control-plane restart every node is back before it could be marked lost; full jitter
        # still spreads a fleet's reconnects over the cap.
        self.backoff = Backoff(base=0.5, cap=4.0)
        # A node the control plane does not know (deleted) retries, but slowly.
        self.unauthenticated_backoff = Backoff(base=5.0, cap=120.0)
        # True between a Welcome and the end of that stream.
        self.connected = False
        self.sessions = 0
        self._stop = asyncio.Event()
        self._half_closed = False
        self._write_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._last_error: str | None = None
        # The spooled events in flight on the current stream.
        self._window = SendWindow(SEND_WINDOW)

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
        elif sentence := self._explain(ended.details):
            log.error("%s; retrying", sentence)
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
            await self._write(call, self.messages.hello())
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
                        self.messages.session_id,
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
            await cancel_and_wait(tasks, quiet=True)
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
            if response.WhichOneof("body") == "event_ack":
                self._window.acked(response.event_ack.event_ids)
            replies = await self.messages.handle(response)
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
            await self._write(call, self.messages.heartbeat())
            await asyncio.sleep(self.messages.heartbeat_interval_s)

    async def _send_spooled(
        self,
        call: grpc.aio.StreamStreamCall[
            agent_pb2.ConnectRequest | bytes, agent_pb2.ConnectResponse
        ],
    ) -> None:
        """Every spooled event, oldest first, then new ones as they come; each stream starts
        over from the oldest unacknowledged one. At most SEND_WINDOW of them unacknowledged at
        once (see SendWindow)."""
        outbox = self._outbox
        window = self._window = SendWindow(SEND_WINDOW)
        after = 0
        while True:
            # Cleared before looking, so an event spooled meanwhile is not missed.
            outbox.changed.clear()
            batch = await asyncio.to_thread(outbox.spool.pending, after, 500)
            if not batch:
                await outbox.changed.wait()
                continue
            for event in batch:
                await window.room()
                window.sent(event.event_id)
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
