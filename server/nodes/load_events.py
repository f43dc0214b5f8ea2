"""NODE_UPDATED events for nodes whose cameras moved, so a drain's progress is an event stream.

A node's camera_count and drain_remaining (server/nodes/load.py) change when placement moves a
camera off or onto it: a handover started or finished, a failover, a rebalance, a push camera
homed elsewhere. Placement (a floor above) collects the nodes a transaction's moves touched and
calls `stage` before committing: one event per node per transaction, with the counts that
transaction leaves, committed with the moves (the outbox). A watcher of node events, like the
nodes page, then sees a drain count down to 0 without polling, and never reads a node's counts
older than its cameras'.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import NodeRow
from server.nodes.live import NodeView
from server.nodes.load import NodeLoad, node_loads_in
from server.nodes.presence import Presence
from server.nodes.registry import NodeChange, StageNodeChange


def load_message(view: NodeView) -> str:
    """What a watcher reads of a node's new counts."""
    name, count = view.row.name, view.camera_count
    cameras = f"{count} camera{'' if count == 1 else 's'}"
    if not view.row.draining:
        return f"node {name} now carries {cameras}"
    left = view.drain_remaining
    if left == 0:
        return f"node {name} is drained: no pull camera left to move ({cameras} on it)"
    return f"node {name} is draining: {left} pull camera{'' if left == 1 else 's'} left to move"


class NodeLoadEvents:
    """Stages a NODE_UPDATED event carrying the load of each node a placement touched."""

    def __init__(self, on_change: StageNodeChange, presence: Presence | None = None) -> None:
        self._on_change = on_change
        # The node's host metrics ride along (the event replaces the node a watcher holds).
        self._presence = presence

    async def stage(self, session: AsyncSession, node_ids: Collection[str]) -> None:
        """Stage one event per existing node in `node_ids`, counted inside `session` (its
        pending camera changes flushed first, so the counts are the ones it commits)."""
        if not node_ids:
            return
        await session.flush()
        rows = await session.scalars(
            select(NodeRow).where(NodeRow.id.in_(list(node_ids))).order_by(NodeRow.id)
        )
        nodes = list(rows)
        loads = await node_loads_in(session, [n.id for n in nodes])
        for row in nodes:
            load = loads.get(row.id, NodeLoad())
            live = await self._presence.host(row.id) if self._presence is not None else None
            view = NodeView(row, live, load.camera_count, load.pull_on_node)
            self._on_change(session, NodeChange.UPDATED, view, load_message(view))
