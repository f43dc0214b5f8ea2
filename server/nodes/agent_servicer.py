"""camfleet.v1.AgentService: registration, the Connect stream and stream-key checks (agents)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from camfleet.v1 import agent_pb2, agent_pb2_grpc

from server.common.wire import timestamp
from server.identity.principal import current_call, current_principal
from server.nodes.hub import AgentHub
from server.nodes.node_certs import NodeCertificateSigner
from server.nodes.publish_check import PublishCheck
from server.nodes.registry import NodeRegistry
from server.recordings.clips import ClipExports, SignedClip


class AgentServicer(agent_pb2_grpc.AgentServiceServicer):
    """The node agent's API. Connect and CheckStreamKey run as the node (its `cfn_` credential)."""

    def __init__(
        self,
        registry: NodeRegistry,
        hub: AgentHub,
        check: PublishCheck,
        clips: ClipExports,
        *,
        certificates: NodeCertificateSigner | None = None,
    ) -> None:
        self._registry = registry
        self._hub = hub
        self._check = check
        # Node client certificates for mutual TLS (a signer without a CA refuses CSRs).
        self.certificates = certificates or NodeCertificateSigner(None)
        self._clips = clips

    async def RegisterNode(
        self, request: agent_pb2.RegisterNodeRequest, context: Any
    ) -> agent_pb2.RegisterNodeResponse:
        csr = request.certificate_request
        if csr:
            self.certificates.check(csr)
        row, credential = await self._registry.register(
            request.join_token, request.name, dict(request.labels)
        )
        return agent_pb2.RegisterNodeResponse(
            node_id=row.id,
            credential=credential,
            certificate=self.certificates.sign(csr, row.id) if csr else "",
        )

    async def Connect(
        self, request_iterator: AsyncIterator[agent_pb2.ConnectRequest], context: Any
    ) -> AsyncIterator[agent_pb2.ConnectResponse]:
        principal = current_principal()
        async for response in self._hub.connect(
            principal.node_id, principal.username, request_iterator
        ):
            yield response

    async def CheckStreamKey(
        self, request: agent_pb2.CheckStreamKeyRequest, context: Any
    ) -> agent_pb2.CheckStreamKeyResponse:
        principal = current_principal()
        verdict = await self._check.check(
            principal.node_id,
            principal.username.removeprefix("node:"),
            request.stream_key,
            request.remote_address or current_call().source_address,
        )
        return agent_pb2.CheckStreamKeyResponse(
            allowed=verdict.allowed, camera_id=verdict.camera_id, reason=verdict.reason
        )

    async def GetClipParts(
        self, request: agent_pb2.GetClipPartsRequest, context: Any
    ) -> agent_pb2.GetClipPartsResponse:
        parts = await self._clips.clip_parts(
            current_principal().node_id,
            SignedClip(
                request.camera_id,
                request.start_ms,
                request.end_ms,
                request.grant,
                request.expires,
                request.signature,
            ),
        )
        return agent_pb2.GetClipPartsResponse(
            parts=[
                agent_pb2.ClipPart(
                    recording_id=p.recording_id,
                    start_time=timestamp(p.start),
                    end_time=timestamp(p.end),
                    size_bytes=p.size_bytes,
                    url=p.url,
                    node_name=p.node_name,
                )
                for p in parts
            ]
        )
