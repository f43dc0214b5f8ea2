"""A node's session outlives a PostgreSQL restart: a message whose write fails because the
database is away is tried again until it answers, in order, while the stream and its
heartbeats go on. Ending the session (as before) made every agent reconnect, no Hello could
succeed until the database was back, and the new leader declared the nodes lost and moved
their cameras: holes in every pull camera after a PostgreSQL restart (bench_chaos)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from functools import partial

from camfleet.v1 import agent_pb2
from sqlalchemy import text

from harness.private_servers import private_postgres
from server.db.engine import create_engine
from server.nodes.agent_wire import Heartbeat
from server.nodes.live import StreamEvent
from server.nodes.session import NodeSession, read
from server.recordings.reports import RecordingReport


class Writes:
    """A MessageHandler whose stream events write to a real PostgreSQL, as the real one does."""

    def __init__(self, engine: object) -> None:
        self.engine = engine
        self.stored: list[str] = []
        self.heartbeats = 0

    async def heartbeat(
        self, session: NodeSession, beat: Heartbeat
    ) -> Callable[[], Awaitable[None]] | None:
        self.heartbeats += 1
        # The third one implies a status change to write (the real handler's effects).
        return partial(self.write, f"beat {self.heartbeats}") if self.heartbeats == 3 else None

    async def write(self, what: str) -> None:
        async with self.engine.begin() as conn:  # type: ignore[attr-defined]
            await conn.execute(text("SELECT 1"))
        self.stored.append(what)

    async def stream_event(
        self, session: NodeSession, event_id: str, event: StreamEvent | None
    ) -> None:
        async with self.engine.begin() as conn:  # type: ignore[attr-defined]
            await conn.execute(text("SELECT 1"))
        self.stored.append(event_id)

    async def recording_event(
        self, session: NodeSession, event_id: str, event: RecordingReport, at: datetime
    ) -> None:
        raise AssertionError("not sent")

    async def ack(self, session: NodeSession, version: int) -> None:
        self.stored.append(f"ack {version}")

    async def nack(self, session: NodeSession, version: int, error: str) -> None:
        raise AssertionError("not sent")


async def test_a_message_waits_for_the_database_and_the_session_stays_up() -> None:
    with private_postgres() as pg:
        engine = create_engine(pg.url, pool_size=2)
        try:
            handler = Writes(engine)
            session = NodeSession(node_id="n1", name="edge", session_id="s1")
            restarted = asyncio.Event()

            async def agent() -> AsyncIterator[agent_pb2.ConnectRequest]:
                await asyncio.to_thread(pg.stop)
                yield agent_pb2.ConnectRequest(
                    event_id="e1", stream_event=agent_pb2.StreamEvent(message="first")
                )
                yield agent_pb2.ConnectRequest(ack=agent_pb2.AssignmentAck(version=7))
                for _ in range(6):  # heartbeats go on meanwhile
                    await asyncio.sleep(0.5)
                    yield agent_pb2.ConnectRequest(heartbeat=agent_pb2.Heartbeat())
                await asyncio.to_thread(pg.start)
                restarted.set()

            async with asyncio.timeout(120):
                await read(session, agent(), handler)
            assert restarted.is_set()
            assert handler.heartbeats == 6
            # In order, once the database was back: a heartbeat's writes too (ending the session
            # on them made the agent reconnect into a Hello that could not succeed, and its
            # node was declared lost when the database returned).
            assert handler.stored == ["e1", "ack 7", "beat 3"]
            # The session ended only because the agent's stream did: no error for it.
            assert session.outbox.get_nowait() is None
        finally:
            await engine.dispose()
