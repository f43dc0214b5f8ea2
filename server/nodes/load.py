"""How many cameras each node carries, for Node.camera_count and Node.drain_remaining.

Counted from the camera rows (the placement state), never from presence: the count is what the
scheduler has put there, which is what capacity is measured against, whether or not the streams
are up yet.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.cameras.model import IngestMode
from server.db.models import CameraRow


@dataclass(frozen=True)
class NodeLoad:
    """A node's cameras: active ones placed or homed there, or being handed over to it; and of
    its own pull cameras, how many are still on it (what a drain has left to move)."""

    camera_count: int = 0
    pull_on_node: int = 0


async def _loads_in(session: AsyncSession, ids: list[str]) -> dict[str, NodeLoad]:
    is_pull = CameraRow.ingest_mode == IngestMode.PULL.value
    placed = await session.execute(
        select(CameraRow.node_id, func.count(), func.count().filter(is_pull))
        .where(CameraRow.active, CameraRow.node_id.in_(ids))
        .group_by(CameraRow.node_id)
    )
    incoming = await session.execute(
        select(CameraRow.handover_node_id, func.count())
        .where(CameraRow.active, CameraRow.handover_node_id.in_(ids))
        .group_by(CameraRow.handover_node_id)
    )
    counts: dict[str, list[int]] = {}
    for node_id, total, pull in placed.all():
        counts[str(node_id)] = [int(total), int(pull)]
    for node_id, total in incoming.all():
        counts.setdefault(str(node_id), [0, 0])[0] += int(total)
    return {n: NodeLoad(c[0], c[1]) for n, c in counts.items()}


async def node_loads(
    sessions: async_sessionmaker[AsyncSession], node_ids: Collection[str]
) -> dict[str, NodeLoad]:
    """NodeLoad per node id (nodes without cameras are missing: read them as NodeLoad())."""
    if not node_ids:
        return {}
    async with sessions() as session:
        return await _loads_in(session, list(node_ids))


async def node_loads_in(session: AsyncSession, node_ids: Collection[str]) -> dict[str, NodeLoad]:
    """NodeLoad per node id as `session` sees it (missing ids: NodeLoad())."""
    return await _loads_in(session, list(node_ids)) if node_ids else {}


async def node_load_in(session: AsyncSession, node_id: str) -> NodeLoad:
    """One node's load as `session` sees it (inside the transaction that stages its event, so
    the event carries the counts the change leaves)."""
    return (await _loads_in(session, [node_id])).get(node_id, NodeLoad())
