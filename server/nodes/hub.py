"""The control plane's side of AgentService.Connect: one session per connected node.

The hub holds the sessions of the agents connected to this replica and runs the work around
them, each job in its own module:
- server/nodes/session.py: the stream's framing, the Hello timeout and the per-session work
  queue (the agent protocol is read and written there, nowhere else);
- server/nodes/messages.py: what each message does (node READY, presence, stream events
  through the pure stream-state machine of server/nodes/stream_state.py, ACK/NACK), with
  server/nodes/metrics_events.py deciding which live metrics become events;
- server/nodes/assignment_push.py: a new Assignment whenever a camera change touches a node;
- server/nodes/deletions.py: segment deletions, sent again while they stay pending;
- server/nodes/liveness.py: nodes whose heartbeats stop become LOST (the sweep is a singleton
  job: `singleton_jobs()` hands it to the leadership, server/leader/, which runs it only on the
  fleet's leader; the upkeep of this replica's own sessions runs everywhere).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any

from camfleet.v1 import agent_pb2

from server.common.tasks import cancel_and_wait, raise_if_cancelling
from server.errors import DomainError, Unauthenticated, Unavailable
from server.leader.model import Fence
from server.nodes.agent_wire import welcome
from server.nodes.assignment_push import AssignmentPusher
from server.nodes.deletions import DeletionSender
from server.nodes.hub_deps import HubFeeds, NodeStores, SessionTerms
from server.nodes.liveness import NodeLiveness
from server.nodes.messages import SessionMessages
from server.nodes.session import NodeSession, first_message, read


class AgentHub:
    """Sessions of the agents connected to this replica, and node liveness."""

    def __init__(
        self,
        stores: NodeStores,
        feeds: HubFeeds,
        terms: SessionTerms,
        fence: Fence | None = None,
    ) -> None:
        """`fence`: the leadership's, which the lost-node sweep checks in each of its writes."""
        self._stores = stores
        self._terms = terms
        self._sessions: dict[str, NodeSession] = {}
        # Nodes get this long after a restart of the control plane to reconnect before their
        # missing heartbeats count (Kubernetes' node startup grace): the agents are backing off.
        self._liveness = NodeLiveness(
            registry=stores.registry,
            status=stores.status,
            presence=stores.presence,
            lost_after_s=terms.lost_after.total_seconds(),
            startup_grace_s=terms.startup_grace.total_seconds(),
            on_lost=stores.recordings.node_lost,
            fence=fence,
        )
        self._messages = SessionMessages(stores, feeds, self._liveness)
        self._pusher = AssignmentPusher(stores.assignments, feeds.events, self._sessions)
        self._deletions = DeletionSender(stores.recordings, self._sessions)
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def connected(self) -> int:
        """How many agents hold a session on this replica."""
        return len(self._sessions)

    def singleton_jobs(self) -> dict[str, Callable[[], Coroutine[Any, Any, None]]]:
        """The jobs only the fleet's leader runs: the lost-node sweeper."""
        return {"node-sweeper": lambda: self._liveness.run_forever(self._end_session)}

    async def start(self) -> None:
        """Start this replica's session upkeep, the assignment follower and the deletion
        resender (the lost-node sweeper runs on the leader: see singleton_jobs)."""
        jobs: dict[str, Coroutine[Any, Any, None]] = {
            "node-upkeep": self._liveness.run_upkeep(
                lambda: list(self._sessions), self._end_session
            ),
            "assignment-follower": self._pusher.follow_cameras(),
            "assignment-pusher": self._pusher.push_marked(),
            "deletion-resender": self._deletions.resend_forever(),
            "grant-follower": self._stores.assignments.follow_revocations(self._pusher.refresh_all),
            "settings-follower": self._stores.assignments.follow_settings(self._pusher.refresh_all),
        }
        self._tasks = [asyncio.create_task(job, name=name) for name, job in jobs.items()]

    async def close(self) -> None:
        """Stop background work and end every session (agents reconnect elsewhere)."""
        await cancel_and_wait(self._tasks)
        for session in list(self._sessions.values()):
            session.end(Unavailable("the control plane is shutting down; reconnect"))

    async def connect(
        self, node_id: str, name: str, requests: AsyncIterator[agent_pb2.ConnectRequest]
    ) -> AsyncIterator[agent_pb2.ConnectResponse]:
        """Serve one agent's Connect stream."""
        hello = await first_message(requests)
        session = NodeSession(node_id=node_id, name=name, session_id=uuid.uuid4().hex)
        await self._messages.hello(session, hello)
        previous = self._sessions.get(node_id)
        if previous is not None:
            previous.end(None)
        self._sessions[node_id] = session
        reader = asyncio.create_task(read(session, requests, self._messages))
        clean = False
        try:
            yield welcome(session.session_id, node_id, self._terms)
            await self._pusher.push(session)
            await self._deletions.send_pending(node_id)
            while True:
                raise_if_cancelling()
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

    def _current(self, session: NodeSession) -> bool:
        return self._sessions.get(session.node_id) is session

    def send_deletions(self, node_id: str, recording_ids: Sequence[str]) -> None:
        """Tell a locally connected node to delete these segments (see DeletionSender.send)."""
        self._deletions.send(node_id, recording_ids)

    def drain(self, node_id: str, reason: str) -> None:
        """Tell a locally connected node to drain."""
        session = self._sessions.get(node_id)
        if session is not None:
            session.send_drain(reason)

    def node_deleted(self, node_id: str) -> None:
        """End the session of a deleted node."""
        self._end_session(node_id, Unauthenticated("this node was deleted; register it again"))

    def _end_session(self, node_id: str, why: DomainError) -> None:
        session = self._sessions.get(node_id)
        if session is not None:
            session.end(why)
