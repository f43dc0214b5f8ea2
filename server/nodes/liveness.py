"""Node liveness: READY nodes whose heartbeats stop become LOST, their cameras OFFLINE.

The sweep that declares nodes LOST is a singleton job: only the fleet's leader runs it
(server/leader/), so one replica decides every loss and the placement that follows. Its
conditional update still lets only one writer record a loss while leadership moves. Each replica
keeps up its own sessions (those of deleted nodes end, last-seen times of its nodes are touched)
and samples its own loop lag. Heartbeat times come from presence, so a heartbeat that reached any
replica counts. The timeout grows by the leader's own recent event-loop lag
(server/nodes/loop_lag.py): under a connect storm the heartbeats are there, only not read yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

from server.cameras.status import CameraStatusWriter
from server.common.tasks import cancel_and_wait, raise_if_cancelling
from server.db.models import utcnow
from server.errors import DomainError, Unauthenticated, Unavailable
from server.leader.model import Fence, NotLeader
from server.nodes.live import HostMetrics
from server.nodes.loop_lag import LoopLag
from server.nodes.presence import Presence
from server.nodes.registry import NodeRegistry, NodeState

log = logging.getLogger(__name__)

_TOUCH_EVERY_S = 5.0
# Ends the local session of a node with a status for its agent.
EndSession = Callable[[str, DomainError], None]
LocalNodes = Callable[[], list[str]]
# Told (node id, last heartbeat time) once a node is marked LOST.
LostListener = Callable[[str, datetime], Awaitable[None]]


async def _ignore_loss(node_id: str, since: datetime) -> None:
    return None


class NodeLiveness:
    """Marks silent nodes LOST and cleanly departed ones OFFLINE."""

    def __init__(
        self,
        *,
        registry: NodeRegistry,
        status: CameraStatusWriter,
        presence: Presence,
        lost_after_s: float,
        startup_grace_s: float,
        on_lost: LostListener = _ignore_loss,
        fence: Fence | None = None,
    ) -> None:
        """`fence`: the leadership's (server/leader/), so that a replica deposed in the middle
        of a sweep declares nobody lost (None: unfenced, for a lone process)."""
        self._registry = registry
        self._fence = fence
        self._on_lost = on_lost
        self._status = status
        self._presence = presence
        self._lost_after = lost_after_s
        # Nodes get this long after a restart of the control plane to reconnect before their
        # missing heartbeats count (Kubernetes' node startup grace): the agents are backing off.
        self._grace_until = time.time() + max(lost_after_s, startup_grace_s)
        self._startup_grace = startup_grace_s
        self._last_touch = 0.0
        self._took_over_at = 0.0  # when this replica's sweep last started (leadership won)
        self.lag = LoopLag(window_s=max(lost_after_s, 1.0))
        # Node states as last read, shared by the sweep (5 Hz) and the upkeep (2 Hz): reading
        # a thousand nodes' states seven times a second was a tenth of a big fleet's heartbeat
        # cost. Half a silence's worth old at most, so a node that turned READY is in it well
        # before it could be judged; losses are recorded only from READY (conditional), so a
        # state that moved meanwhile cannot be overwritten.
        self._states: dict[str, str] = {}
        self._states_at = float("-inf")
        self._states_max_age = min(1.0, lost_after_s / 2)

    async def run_upkeep(self, local_nodes: LocalNodes, end_session: EndSession) -> None:
        """Every replica, until cancelled: sample the loop lag, end the sessions of deleted
        nodes and touch the last-seen time of the nodes connected here."""
        every = min(0.5, self._lost_after / 4)
        sampler = asyncio.create_task(self.lag.run_forever(), name="loop-lag")
        try:
            while True:
                raise_if_cancelling()
                await asyncio.sleep(every)
                try:
                    await self.upkeep(local_nodes(), end_session)
                except asyncio.CancelledError:
                    raise
                except Exception:  # a database hiccup must not end the upkeep for good
                    raise_if_cancelling()
                    log.exception("node upkeep failed")
        finally:
            sampler.cancel()

    async def run_forever(self, end_session: EndSession) -> None:
        """The leader's sweep, a few times per grace period until cancelled (leadership lost)."""
        # Started on winning leadership. If the last leader died or stopped, the nodes it served
        # are reconnecting (backing off, through Envoy): as after a restart, nodes silent since
        # before the takeover get the startup grace from it before their silence counts
        # (Kubernetes' node controller, too, judges nodes from its own first look after a
        # leader change). Nodes heard since are judged as usual: a link cut now is seen now.
        self._took_over_at = time.time()
        # Five times a second: a loss is declared within 0.2 s of its deadline (it starts the
        # failover clock), for one cheap read of node states and heartbeats.
        every = min(0.2, self._lost_after / 4)
        while True:
            raise_if_cancelling()
            started = time.monotonic()
            await asyncio.sleep(every)
            # The sampler slept through the same stall: count it before judging anyone.
            self.lag.note(time.monotonic() - started - every)
            try:
                await self.sweep(end_session)
            except asyncio.CancelledError:
                raise
            except NotLeader as exc:  # deposed: this job is about to be cancelled
                log.info("node sweep stopped: %s", exc)
            except Exception:  # a database hiccup must not end liveness checks for good
                raise_if_cancelling()
                log.exception("node sweep failed")

    def heard_at_connect(self) -> float:
        """The heartbeat time to record when a node's handshake ends: as Kubernetes' node
        startup grace, a node that just connected is judged only once it has had that long to
        deliver a heartbeat (under a connect storm its Welcome and first heartbeats wait in
        this process's queues for seconds; that is not the node's silence)."""
        return time.time() + max(0.0, self._startup_grace - self._lost_after)

    @contextlib.asynccontextmanager
    async def connecting(self, node_id: str) -> AsyncIterator[None]:
        """While a node's Hello is being recorded: its heartbeat in presence now and kept fresh
        until the block ends. The node is there (its stream is open) and sends heartbeats only
        after the Welcome, while the Hello's writes wait their turn for the database: seconds,
        under a connect storm. A single stamp before them went stale while the node was already
        READY (bench_heartbeats: 28-32 of 1,000 nodes declared LOST after 5-7 s at the storm's
        end), and that wait is not loop lag."""
        every = min(0.5, self._lost_after / 4)

        async def stamp() -> None:
            await self._presence.heartbeat(node_id, time.time(), HostMetrics(), [])

        async def keep_fresh() -> None:
            while True:
                raise_if_cancelling()
                await asyncio.sleep(every)
                try:
                    await stamp()
                except Exception as exc:  # presence away: the Hello's own writes will say so
                    raise_if_cancelling()
                    log.info("node %s: cannot refresh its heartbeat: %s", node_id, exc)

        await stamp()
        task = asyncio.create_task(keep_fresh(), name=f"hello-{node_id}")
        try:
            yield
        finally:
            await cancel_and_wait([task])

    async def upkeep(self, local_nodes: list[str], end_session: EndSession) -> None:
        """End the sessions of deleted nodes and of nodes the leader found LOST; now and then
        touch the local nodes' last seen."""
        states = await self._node_states()
        lost = NodeState.LOST.value
        if any(states.get(node_id, lost) == lost for node_id in local_nodes):
            # A session to end, going by states up to a second old: a node registered or back
            # since then would be ended by mistake. Ended only by what the database says now.
            states = await self._node_states(fresh=True)
        for node_id in local_nodes:
            if node_id not in states:
                end_session(node_id, Unauthenticated("this node was deleted; register it again"))
            elif states[node_id] == lost:
                # The leader (maybe another replica) declared it lost while its stream here stays
                # open (a hung agent, a cut link without a reset): heartbeats on that stream would
                # never make it READY again; a new Hello does.
                end_session(node_id, Unavailable("heartbeats stopped; reconnect"))
        now = time.time()
        if now - self._last_touch >= _TOUCH_EVERY_S and local_nodes:
            self._last_touch = now
            await self._registry.touch(local_nodes, utcnow())

    async def sweep(self, end_session: EndSession) -> None:
        """Mark READY nodes without a recent heartbeat LOST (the leader's job)."""
        states = await self._node_states()
        beats = await self._presence.last_heartbeats()
        now = time.time()
        # Bounded, so a node whose clock jumps back cannot stall loss detection for long.
        allowed = self._lost_after + min(self.lag.recent_max(), 4 * self._lost_after)
        takeover_floor = self._took_over_at + max(0.0, self._startup_grace - self._lost_after)
        for node_id, state in states.items():
            if state != NodeState.READY.value:
                continue
            beat = beats.get(node_id, 0.0)
            seen = max(beat, self._grace_until - self._lost_after)
            if beat < self._took_over_at:
                seen = max(seen, takeover_floor)
            if now - seen > allowed:
                silent = now - beats[node_id] if node_id in beats else None
                # Its state moved (lost here or left by another path): read them all anew.
                self._states_at = float("-inf")
                if await self._lose(node_id, silent):
                    # A hung agent: make it reconnect and say what it has.
                    end_session(node_id, Unavailable("heartbeats stopped; reconnect"))

    async def _node_states(self, fresh: bool = False) -> dict[str, str]:
        """Node id -> state, read again when `fresh` or once the last read is
        `_states_max_age` old."""
        if fresh or time.monotonic() - self._states_at >= self._states_max_age:
            self._states = await self._registry.all_states()
            self._states_at = time.monotonic()
        return self._states

    async def _lose(self, node_id: str, silent_s: float | None) -> bool:
        since = f"no heartbeat for {silent_s:.1f} s" if silent_s else "no heartbeat since restart"
        row = await self._registry.leave(
            node_id, NodeState.LOST, since, only_if=NodeState.READY, fence=self._fence
        )
        if row is None:
            return False  # another replica got there first
        log.warning("node %s lost: %s", row.name, since)
        silent_since = datetime.fromtimestamp(time.time() - (silent_s or self._lost_after), UTC)
        try:
            await self._on_lost(node_id, silent_since)
        except Exception:  # the loss is recorded; a failed listener must not undo the sweep
            raise_if_cancelling()
            log.exception("handling the loss of node %s failed", row.name)
        ended = await self._status.offline_on_node(node_id, f"node {row.name} was lost ({since})")
        await self._presence.drop_streams(c.id for c in ended)
        await self._presence.forget_node(node_id)
        return True

    async def went_offline(self, node_id: str) -> None:
        """The agent closed its stream cleanly: OFFLINE, and so are its cameras."""
        row = await self._registry.leave(node_id, NodeState.OFFLINE, "the agent shut down")
        if row is None:
            return
        ended = await self._status.offline_on_node(node_id, f"node {row.name} shut down")
        await self._presence.drop_streams(c.id for c in ended)
        await self._presence.forget_node(node_id)
