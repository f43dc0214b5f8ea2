"""What an operator does to nodes (NodeService), with the live facts and events that go with it."""

from __future__ import annotations

from server.cameras.status import CameraStatusWriter
from server.common.listing import ListRequest, Page
from server.db.models import NodeRow
from server.nodes.hub import AgentHub
from server.nodes.live import NodeView
from server.nodes.presence import Presence
from server.nodes.registry import NodeRegistry


class NodeOperations:
    """Get, list, cordon, uncordon, drain and delete nodes."""

    def __init__(
        self,
        registry: NodeRegistry,
        presence: Presence,
        hub: AgentHub,
        status: CameraStatusWriter,
    ) -> None:
        self._registry = registry
        self._presence = presence
        self._hub = hub
        self._status = status

    async def view(self, row: NodeRow) -> NodeView:
        """The node with its live host metrics."""
        return NodeView(row, await self._presence.host(row.id))

    async def get(self, node_id: str) -> NodeView:
        """One node, live facts included."""
        return await self.view(await self._registry.get(node_id))

    async def list(self, request: ListRequest) -> tuple[list[NodeView], Page[NodeRow]]:
        """A page of nodes, live facts included."""
        page = await self._registry.list_page(request)
        return [await self.view(r) for r in page.items], page

    async def cordon(self, node_id: str, cordoned: bool) -> NodeView:
        """Cordon (no new cameras) or uncordon a node."""
        live = await self._presence.host(node_id)
        row = await self._registry.set_schedulable(node_id, cordoned, draining=False, live=live)
        return NodeView(row, live)

    async def drain(self, node_id: str) -> NodeView:
        """Cordon the node and tell its agent to drain."""
        live = await self._presence.host(node_id)
        row = await self._registry.set_schedulable(node_id, cordoned=True, draining=True, live=live)
        self._hub.drain(node_id, "drained by an operator")
        return NodeView(row, live)

    async def delete(self, node_id: str) -> None:
        """Forget a node: its cameras go OFFLINE, its credential and session end."""
        row = await self._registry.get(node_id)
        ended = await self._status.offline_on_node(node_id, f"node {row.name} was deleted")
        await self._presence.drop_streams(c.id for c in ended)
        row, _ = await self._registry.delete(node_id)
        await self._presence.forget_node(node_id)
        self._hub.node_deleted(node_id)
