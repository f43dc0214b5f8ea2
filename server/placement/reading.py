"""The fleet as the scheduler reads it: only the columns the planner uses, all rows or those of
some ids (a node event names one node; re-reading the whole fleet for each was what made a
thousand nodes' connect storm slow), as PlanNode and PlanCamera."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from server.cameras.model import IngestMode
from server.common.ladder import DEFAULT_LADDER
from server.db.models import CameraRow, NodeRow
from server.nodes.registry import NodeState
from server.placement.cost import ladder_cores
from server.placement.fleet import PlanCamera, PlanNode

_CAMERA_COLUMNS = (
    CameraRow.id,
    CameraRow.name,
    CameraRow.ingest_mode,
    CameraRow.active,
    CameraRow.node_id,
    CameraRow.handover_node_id,
    CameraRow.node_selector,
    CameraRow.placement_epoch,
    CameraRow.placement_reason,
    CameraRow.live_ladder,
)
_NODE_COLUMNS = (
    NodeRow.id,
    NodeRow.name,
    NodeRow.state,
    NodeRow.cordoned,
    NodeRow.draining,
    NodeRow.labels,
    NodeRow.capacity,
    NodeRow.cpu_cores,
)
# Ids per query, within SQLite's bound parameters.
_READ_CHUNK = 1000


async def read_nodes(
    sessions: async_sessionmaker[AsyncSession], ids: Iterable[str] | None = None
) -> list[PlanNode]:
    """Nodes (all, or those of `ids` that exist) as the planner sees them."""
    rows = await _rows(sessions, select(*_NODE_COLUMNS), NodeRow.id, ids)
    return [plan_node(row) for row in rows]


async def read_cameras(
    sessions: async_sessionmaker[AsyncSession],
    ids: Iterable[str] | None = None,
    default_ladder: Sequence[str] = DEFAULT_LADDER,
) -> list[PlanCamera]:
    """Cameras (all, or those of `ids` that exist) as the planner sees them; those without a
    ladder of their own cost `default_ladder`."""
    rows = await _rows(sessions, select(*_CAMERA_COLUMNS), CameraRow.id, ids)
    return [plan_camera(row, default_ladder) for row in rows]


async def _rows(
    sessions: async_sessionmaker[AsyncSession],
    query: Select[*tuple[Any, ...]],
    key: InstrumentedAttribute[str],
    ids: Iterable[str] | None,
) -> list[Any]:
    """The rows of `query`: all, or those whose `key` is one of `ids`."""
    async with sessions() as session:
        if ids is None:
            return list((await session.execute(query)).all())
        wanted, out = sorted(ids), list[Any]()
        for start in range(0, len(wanted), _READ_CHUNK):
            chunk = wanted[start : start + _READ_CHUNK]
            out += (await session.execute(query.where(key.in_(chunk)))).all()
        return out


def plan_node(row: Any) -> PlanNode:
    """A node row, or a result row of _NODE_COLUMNS (hence Any), as the planner sees it."""
    return PlanNode(
        id=row.id,
        name=row.name,
        ready=row.state == NodeState.READY.value,
        cordoned=row.cordoned,
        draining=row.draining,
        labels=dict(row.labels or {}),
        capacity=row.capacity,
        cpu_cores=row.cpu_cores,
    )


def plan_camera(row: Any, default_ladder: Sequence[str] = DEFAULT_LADDER) -> PlanCamera:
    """A camera row, or a result row of _CAMERA_COLUMNS (hence Any), as the planner sees it;
    its cores are its live ladder's (`default_ladder` when it has none of its own)."""
    return PlanCamera(
        id=row.id,
        name=row.name,
        pull=row.ingest_mode == IngestMode.PULL.value,
        active=row.active,
        node_id=row.node_id,
        handover_node_id=row.handover_node_id,
        selector=dict(row.node_selector or {}),
        epoch=row.placement_epoch,
        waiting=row.placement_reason,
        cores=ladder_cores(tuple(row.live_ladder or ()) or tuple(default_ladder)),
    )
