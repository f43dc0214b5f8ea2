"""One agent's Connect stream on this replica: the wire edge of the hub.

The first message must be a Hello within HELLO_TIMEOUT_S; every later one is decoded into
domain terms (server/nodes/agent_wire.py) and handed to a `MessageHandler` through the session's
work queue, in order; what the control plane says back is queued on the session's outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Protocol

from camfleet.v1 import agent_pb2

from server.common.tasks import raise_if_cancelling
from server.db.wait import database_away
from server.errors import DomainError, InvalidArgument, Unavailable
from server.nodes.agent_wire import (
    Heartbeat,
    Hello,
    KnownReports,
    agent_time,
    assignment_to_proto,
    event_id,
    heartbeat_from,
    hello_from,
    recording_event_from,
    stream_event_from,
)
from server.nodes.desired import Assignment
from server.nodes.live import StreamEvent
from server.nodes.metrics_events import MetricsThrottle
from server.nodes.stream_state import CameraStream
from server.recordings.reports import RecordingReport

log = logging.getLogger(__name__)

HELLO_TIMEOUT_S = 30.0
# Messages of one session waiting for their writes; past this the reader waits too (backpressure
# on the agent, whose spool keeps its events).
_WORK_BACKLOG = 256
Outgoing = agent_pb2.ConnectResponse | DomainError | None


@dataclass
class NodeSession:
    """One connected agent on this replica."""

    node_id: str
    name: str
    session_id: str
    outbox: asyncio.Queue[Outgoing] = field(default_factory=asyncio.Queue)
    sent_version: int = 0
    assigned: frozenset[str] = frozenset()
    # camera id -> its stream state in this session (server/nodes/stream_state.py).
    streams: dict[str, CameraStream] = field(default_factory=dict)
    metrics: MetricsThrottle = field(default_factory=MetricsThrottle)
    # The stream reports last received, decoded (server/nodes/agent_wire.heartbeat_from).
    reports: KnownReports = field(default_factory=dict)
    # Smallest (receive time - agent's send time) seen: clock offset plus network latency.
    fastest_delivery_s: float = math.inf

    def end(self, why: DomainError | None) -> None:
        """Finish the session's response stream (None: replaced by a newer session)."""
        self.outbox.put_nowait(why)

    def send_assignment(self, assignment: Assignment) -> None:
        """Queue the node's new desired state."""
        self.outbox.put_nowait(
            agent_pb2.ConnectResponse(assignment=assignment_to_proto(assignment))
        )

    def send_deletions(self, recording_ids: Sequence[str]) -> None:
        """Queue a request to delete these segments."""
        self.outbox.put_nowait(
            agent_pb2.ConnectResponse(
                delete_segments=agent_pb2.DeleteSegments(recording_ids=list(recording_ids))
            )
        )

    def send_drain(self, reason: str) -> None:
        """Queue a request to drain."""
        self.outbox.put_nowait(agent_pb2.ConnectResponse(drain=agent_pb2.Drain(reason=reason)))

    def ack(self, event_id: str) -> None:
        """Tell the agent the event is stored (it leaves the spool)."""
        self.outbox.put_nowait(
            agent_pb2.ConnectResponse(event_ack=agent_pb2.EventAck(event_ids=[event_id]))
        )


class MessageHandler(Protocol):
    """What a session does with the agent's messages (server/nodes/messages.py)."""

    async def heartbeat(
        self, session: NodeSession, beat: Heartbeat
    ) -> Callable[[], Awaitable[None]] | None:
        """Record what must be seen at once; return the writes that wait their turn, as a job
        that may be tried again (None: nothing to write)."""
        ...

    async def stream_event(
        self, session: NodeSession, event_id: str, event: StreamEvent | None
    ) -> None:
        """Store and apply a stream event (None: unusable, acknowledged and dropped)."""
        ...

    async def recording_event(
        self, session: NodeSession, event_id: str, event: RecordingReport, at: datetime
    ) -> None:
        """Hand a segment or recorder event to the recordings ingest."""
        ...

    async def ack(self, session: NodeSession, version: int) -> None:
        """The agent applied assignment `version`."""
        ...

    async def nack(self, session: NodeSession, version: int, error: str) -> None:
        """The agent refused assignment `version`."""
        ...


async def first_message(requests: AsyncIterator[agent_pb2.ConnectRequest]) -> Hello:
    """The stream's Hello, or InvalidArgument when anything else (or nothing) comes first."""
    try:
        async with asyncio.timeout(HELLO_TIMEOUT_S):
            first = await anext(requests)
    except StopAsyncIteration:
        raise InvalidArgument("the stream ended before a Hello") from None
    except TimeoutError:
        raise InvalidArgument(f"no Hello within {HELLO_TIMEOUT_S:.0f} s") from None
    if first.WhichOneof("body") != "hello":
        raise InvalidArgument("the first message on Connect must be a Hello")
    return hello_from(first)


async def read(
    session: NodeSession,
    requests: AsyncIterator[agent_pb2.ConnectRequest],
    handler: MessageHandler,
) -> None:
    """Read the agent's messages; the session ends when they end or fail.

    Heartbeats reach presence here, at once; everything that writes (events, ACKs, status
    changes) runs in order on a worker. Under a connect storm a write waits seconds for its
    turn, and a reader blocked on it would leave the node's next heartbeats unread: the
    sweeper would declare a healthy node LOST.
    """
    work: asyncio.Queue[Job] = asyncio.Queue(maxsize=_WORK_BACKLOG)
    worker = asyncio.create_task(_work(session, work), name=f"node-{session.name}")
    try:
        async for message in requests:
            kind = message.WhichOneof("body")
            if kind == "heartbeat":
                writes = await handler.heartbeat(session, heartbeat_from(message, session.reports))
                if writes is not None:  # most heartbeats only refresh presence
                    await work.put(writes)
            elif kind == "stream_event":
                await work.put(partial(_on_stream_event, handler, session, message))
            elif kind in ("segment_event", "recorder_event"):
                await work.put(partial(_on_recording_event, handler, session, message))
            elif kind == "ack":
                await work.put(partial(handler.ack, session, message.ack.version))
            elif kind == "nack":
                nack = message.nack
                await work.put(partial(handler.nack, session, nack.version, nack.error))
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
    session.end(None)


# A message's work, made again for each try.
Job = Callable[[], Awaitable[None]]
# While the database is away, a message's work is tried again (FIRST doubling to MAX) for at
# most WITHIN, and the session, its stream and its heartbeats, stays up.
RETRY_FIRST_S, RETRY_MAX_S, RETRY_WITHIN_S = 0.25, 4.0, 120.0


async def _work(session: NodeSession, work: asyncio.Queue[Job]) -> None:
    """Handle the session's messages in the order they came, until cancelled or one fails.

    A message whose writes fail because the database is away (a PostgreSQL restart) is tried
    again rather than ending the session: an ended session made every agent reconnect, and a
    Hello cannot succeed until the database is back, so a new leader found nodes silent and
    declared them lost, moving their cameras (holes in every pull camera's recording). Its
    heartbeats meanwhile keep presence fresh; what the agent sent stays unacknowledged in its
    spool. A heartbeat's writes (the status changes it implies) are tried again the same way:
    ending the session on them made the agent reconnect into a Hello that cannot succeed while
    the database is away, and its node was declared lost when it came back (bench_chaos)."""
    while True:
        raise_if_cancelling()
        job = await work.get()
        try:
            if not await _attempts(session, job):
                return
        finally:
            work.task_done()


async def _attempts(session: NodeSession, job: Job) -> bool:
    """Run `job`, again while the database is away; False when the session must end."""
    delay, deadline = RETRY_FIRST_S, time.monotonic() + RETRY_WITHIN_S
    while True:
        try:
            await job()
            return True
        except DomainError as err:
            session.end(err)
            return False
        except Exception as exc:  # e.g. the database went away: the agent reconnects and resends
            raise_if_cancelling()
            if database_away(exc) and time.monotonic() < deadline:
                log.warning(
                    "node %s: the database is away (%s); its message waits, tried again in %.2f s",
                    session.name,
                    type(exc).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            log.exception("node %s: message handling failed", session.name)
            session.end(Unavailable("the control plane could not process a message; reconnect"))
            return False


# Decoded on the worker, in order: a bad event id ends the session after the messages before it.


async def _on_stream_event(
    handler: MessageHandler, session: NodeSession, message: agent_pb2.ConnectRequest
) -> None:
    await handler.stream_event(session, event_id(message), stream_event_from(message))


async def _on_recording_event(
    handler: MessageHandler, session: NodeSession, message: agent_pb2.ConnectRequest
) -> None:
    await handler.recording_event(
        session, event_id(message), recording_event_from(message), agent_time(message)
    )
