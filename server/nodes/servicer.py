"""camfleet.v1.NodeService: join tokens and node administration."""

from __future__ import annotations

from typing import Any

from camfleet.v1 import node_pb2, node_pb2_grpc

from server.common.listing import ListRequest
from server.common.wire import from_duration, timestamp
from server.db.models import JoinTokenRow
from server.leader.model import LeaderReader
from server.nodes.convert import node_view_to_proto
from server.nodes.join_tokens import JoinTokenService
from server.nodes.operations import NodeOperations


def join_token_to_proto(row: JoinTokenRow) -> node_pb2.JoinToken:
    """API view of a join token (never its secret)."""
    return node_pb2.JoinToken(
        id=row.id,
        description=row.description,
        max_uses=row.max_uses,
        uses=row.uses,
        expire_time=timestamp(row.expires_at),
        create_time=timestamp(row.created_at),
        revoke_time=timestamp(row.revoked_at),
    )


class NodeServicer(node_pb2_grpc.NodeServiceServicer):
    """Join tokens, list/get/update, cordon/uncordon/drain, delete, the fleet's leader."""

    def __init__(
        self, tokens: JoinTokenService, nodes: NodeOperations, leader: LeaderReader
    ) -> None:
        self._tokens = tokens
        self._nodes = nodes
        self._leader = leader

    async def CreateJoinToken(
        self, request: node_pb2.CreateJoinTokenRequest, context: Any
    ) -> node_pb2.CreateJoinTokenResponse:
        ttl = from_duration(request.ttl, "ttl") if request.HasField("ttl") else None
        row, secret = await self._tokens.create(
            request.join_token.description, request.join_token.max_uses, ttl
        )
        return node_pb2.CreateJoinTokenResponse(join_token=join_token_to_proto(row), secret=secret)

    async def ListJoinTokens(
        self, request: node_pb2.ListJoinTokensRequest, context: Any
    ) -> node_pb2.ListJoinTokensResponse:
        page = await self._tokens.list(ListRequest.of(request))
        return node_pb2.ListJoinTokensResponse(
            join_tokens=[join_token_to_proto(r) for r in page.items],
            next_page_token=page.next_page_token,
        )

    async def RevokeJoinToken(
        self, request: node_pb2.RevokeJoinTokenRequest, context: Any
    ) -> node_pb2.RevokeJoinTokenResponse:
        row = await self._tokens.revoke(request.id)
        return node_pb2.RevokeJoinTokenResponse(join_token=join_token_to_proto(row))

    async def ListNodes(
        self, request: node_pb2.ListNodesRequest, context: Any
    ) -> node_pb2.ListNodesResponse:
        nodes, page = await self._nodes.list(ListRequest.of(request))
        return node_pb2.ListNodesResponse(
            nodes=[node_view_to_proto(n) for n in nodes],
            next_page_token=page.next_page_token,
            total_size=page.total_size,
        )

    async def GetNode(
        self, request: node_pb2.GetNodeRequest, context: Any
    ) -> node_pb2.GetNodeResponse:
        view = await self._nodes.get(request.id)
        return node_pb2.GetNodeResponse(node=node_view_to_proto(view))

    async def UpdateNode(
        self, request: node_pb2.UpdateNodeRequest, context: Any
    ) -> node_pb2.UpdateNodeResponse:
        view = await self._nodes.update(
            request.node.id, list(request.update_mask.paths), dict(request.node.labels)
        )
        return node_pb2.UpdateNodeResponse(node=node_view_to_proto(view))

    async def GetLeader(
        self, request: node_pb2.GetLeaderRequest, context: Any
    ) -> node_pb2.GetLeaderResponse:
        leader = await self._leader()
        return node_pb2.GetLeaderResponse(
            replica_id=leader.replica_id, epoch=leader.epoch, since=timestamp(leader.since)
        )

    async def CordonNode(
        self, request: node_pb2.CordonNodeRequest, context: Any
    ) -> node_pb2.CordonNodeResponse:
        view = await self._nodes.cordon(request.id, True)
        return node_pb2.CordonNodeResponse(node=node_view_to_proto(view))

    async def UncordonNode(
        self, request: node_pb2.UncordonNodeRequest, context: Any
    ) -> node_pb2.UncordonNodeResponse:
        view = await self._nodes.cordon(request.id, False)
        return node_pb2.UncordonNodeResponse(node=node_view_to_proto(view))

    async def DrainNode(
        self, request: node_pb2.DrainNodeRequest, context: Any
    ) -> node_pb2.DrainNodeResponse:
        view = await self._nodes.drain(request.id)
        return node_pb2.DrainNodeResponse(node=node_view_to_proto(view))

    async def DeleteNode(
        self, request: node_pb2.DeleteNodeRequest, context: Any
    ) -> node_pb2.DeleteNodeResponse:
        await self._nodes.delete(request.id)
        return node_pb2.DeleteNodeResponse()
