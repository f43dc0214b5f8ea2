"""What an operator does to nodes (NodeService), with the live facts and events that go with it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.cameras.status import CameraStatusWriter
from server.common.labels import check_label_map
from server.common.listing import ListRequest, Page
from server.common.validation import require_id, resolve_update_mask
from server.db.models import NodeRow
from server.nodes.hub import AgentHub
from server.nodes.live import NodeLive, NodeView
from server.nodes.load import NodeLoad, node_loads
from server.nodes.presence import Presence
from server.nodes.registry import MAX_NODE_LABELS, NodeRegistry

UPDATABLE_FIELDS = frozenset({"labels"})


class NodeOperations:
    """Get, list, update, cordon, uncordon, drain and delete nodes."""

    def __init__(
        self,
        registry: NodeRegistry,
        presence: Presence,
        hub: AgentHub,
        status: CameraStatusWriter,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        self._registry = registry
        self._presence = presence
        self._hub = hub
        self._status = status
        self._sessions = sessions

    async def _views(self, rows: Sequence[NodeRow], live: NodeLive | None = None) -> list[NodeView]:
        """The nodes with their live host metrics (`live` given: one row's, already read) and
        their load, counted in one query for all of them."""
        loads = await node_loads(self._sessions, [r.id for r in rows])
        views = []
        for row in rows:
            host = live if live is not None else await self._presence.host(row.id)
            load = loads.get(row.id, NodeLoad())
            views.append(NodeView(row, host, load.camera_count, load.pull_on_node))
        return views

    async def view(self, row: NodeRow, live: NodeLive | None = None) -> NodeView:
        """The node with its live host metrics and load."""
        return (await self._views([row], live))[0]

    async def get(self, node_id: str) -> NodeView:
        """One node, live facts included."""
        return await self.view(await self._registry.get(node_id))

    async def list(self, request: ListRequest) -> tuple[list[NodeView], Page[NodeRow]]:
        """A page of nodes, live facts included."""
        page = await self._registry.list_page(request)
        return await self._views(page.items), page

    async def update(
        self, node_id: str, mask: Sequence[str], labels: Mapping[str, str]
    ) -> NodeView:
        """Change the fields named in `mask` (only labels are updatable)."""
        require_id(node_id, "node.id")
        paths = resolve_update_mask(mask, UPDATABLE_FIELDS)
        row = await self._registry.get(node_id)
        if "labels" in paths:
            checked = check_label_map(labels, "node.labels", max_pairs=MAX_NODE_LABELS)
            live = await self._presence.host(node_id)
            row = await self._registry.set_labels(node_id, checked, live)
        return await self.view(row)

    async def cordon(self, node_id: str, cordoned: bool) -> NodeView:
        """Cordon (no new cameras) or uncordon a node."""
        live = await self._presence.host(node_id)
        row = await self._registry.set_schedulable(node_id, cordoned, draining=False, live=live)
        return await self.view(row, live)

    async def drain(self, node_id: str) -> NodeView:
        """Cordon the node and tell its agent to drain; NotFound for an unknown node and
        FailedPrecondition for one already draining (a second drain would only repeat events)."""
        require_id(node_id)
        live = await self._presence.host(node_id)
        row = await self._registry.set_schedulable(node_id, cordoned=True, draining=True, live=live)
        self._hub.drain(node_id, "drained by an operator")
        return await self.view(row, live)

    async def delete(self, node_id: str) -> None:
        """Forget a node: its cameras go OFFLINE, its credential and session end."""
        row = await self._registry.get(node_id)
        ended = await self._status.offline_on_node(node_id, f"node {row.name} was deleted")
        await self._presence.drop_streams(c.id for c in ended)
        row, _ = await self._registry.delete(node_id)
        await self._presence.forget_node(node_id)
        self._hub.node_deleted(node_id)
