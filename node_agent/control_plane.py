"""Unary calls to the control plane (RegisterNode, CheckStreamKey, GetClipParts) and the shared
gRPC channel."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from functools import partial
from typing import cast

import grpc
import grpc.aio
from camfleet.v1 import agent_pb2, agent_pb2_grpc

from node_agent.backoff import Backoff
from node_agent.config import AgentConfig
from node_agent.credentials import Credential, save_credential
from node_agent.errors import ConfigError, RegistrationRefused
from node_agent.node_tls import (
    ControlPlaneTls,
    certificate_request,
    load_identity,
    node_cert_path,
    save_certificate,
)
from node_agent.publish_auth import ControlPlaneUnreachable, KeyCheck, KeyCheckFailed
from node_agent.recording.clip_parts import PartsUnavailable, RemotePart, SpreadClip
from node_agent.state import DataDir

log = logging.getLogger(__name__)

# The control plane permits a ping every 10 s; ping every 20 s, also while idle, so a dead
# network is noticed within half a minute even when no heartbeat is due.
CHANNEL_OPTIONS: list[tuple[str, int]] = [
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    # gRPC's own subchannel backoff (1 s growing by 1.6x to 120 s) would otherwise sit under our
    # jittered retry loop: after a 20 s outage the channel waited up to ~17 s more before even
    # trying the restarted control plane. Cap it at the Connect loop's own 4 s.
    ("grpc.initial_reconnect_backoff_ms", 250),
    ("grpc.min_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", 4_000),
]
# Worth retrying: the control plane is away, overloaded or restarting.
RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
    }
)

UNREACHABLE_CODES = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}
)

# The control plane failed rather than decided: the agent reports the refusal itself.
BROKEN_CODES = frozenset(
    {
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.DATA_LOSS,
    }
)


def open_channel(
    target: str, credentials: grpc.ChannelCredentials | None = None
) -> grpc.aio.Channel:
    """A channel to the control plane at `target` (host:port): TLS with `credentials`
    (node_agent.node_tls), plain text without."""
    if credentials is None:
        return grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS)
    return grpc.aio.secure_channel(target, credentials, options=CHANNEL_OPTIONS)


@dataclass(frozen=True)
class Registration:
    """What RegisterNode gave: the credential, and the node certificate (PEM) when asked for."""

    credential: Credential
    certificate: bytes = b""


async def register_node(
    stub: agent_pb2_grpc.AgentServiceAsyncStub,
    join_token: str,
    name: str,
    *,
    backoff: Backoff | None = None,
    timeout_s: float = 10.0,
    labels: Mapping[str, str] | None = None,
    certificate_request: bytes = b"",
    explain: Callable[[str], str | None] = lambda details: None,
) -> Registration:
    """Exchange `join_token` for a credential (the node named `name`, with `labels`), and a
    node certificate for `certificate_request` when given, retrying while the control plane
    is away. `explain` turns a failure's details into a sentence (TLS: node_agent.node_tls).

    Raises RegistrationRefused when the control plane says no (bad, used or expired token).
    """
    backoff = backoff or Backoff(base=0.5, cap=30.0)
    last = ""
    while True:
        try:
            response = await stub.RegisterNode(
                agent_pb2.RegisterNodeRequest(
                    join_token=join_token,
                    name=name,
                    labels=dict(labels or {}),
                    certificate_request=certificate_request.decode(),
                ),
                timeout=timeout_s,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() not in RETRYABLE:
                raise RegistrationRefused(
                    f"the control plane refused the join token ({exc.code().name}): {exc.details()}"
                ) from None
            message = f"{exc.code().name}: {exc.details()}"
            if message != last:
                sentence = explain(exc.details() or "")
                if sentence:
                    log.error("%s; retrying", sentence)
                else:
                    log.warning(
                        "cannot register with the control plane yet (%s); retrying", message
                    )
                last = message
            await asyncio.sleep(backoff.next_delay())
            continue
        if not response.node_id or not response.credential:
            raise RegistrationRefused(
                "the control plane answered RegisterNode without a credential"
            )
        if certificate_request and not response.certificate:
            raise RegistrationRefused(
                "the control plane issued no node certificate (it has no --node-ca-cert): start "
                "the agent without --control-plane-mtls, or give the control plane its node CA"
            )
        log.info("registered as node %s", response.node_id)
        return Registration(
            Credential(response.node_id, response.credential), response.certificate.encode()
        )


class GrpcKeyChecker:
    """CheckStreamKey over the agent's channel, authenticated with the node credential."""

    def __init__(
        self,
        stub: agent_pb2_grpc.AgentServiceAsyncStub,
        credential: Callable[[], Credential | None],
        timeout_s: float = 3.0,
    ) -> None:
        self._stub = stub
        self._credential = credential
        self._timeout_s = timeout_s

    async def check(self, stream_key: str, remote_address: str) -> KeyCheck:
        """The control plane's verdict; KeyCheckFailed (ControlPlaneUnreachable) when none."""
        credential = self._credential()
        if credential is None:
            raise ControlPlaneUnreachable("this node has no credential yet")
        try:
            response = await self._stub.CheckStreamKey(
                agent_pb2.CheckStreamKeyRequest(
                    stream_key=stream_key, remote_address=remote_address
                ),
                metadata=credential.metadata,
                timeout=self._timeout_s,
            )
        except grpc.aio.AioRpcError as exc:
            message = f"{exc.code().name}: {exc.details()}"
            if exc.code() in UNREACHABLE_CODES:
                raise ControlPlaneUnreachable(message) from None
            if exc.code() in BROKEN_CODES:
                raise KeyCheckFailed(message) from None
            # Any other status is the control plane's own refusal (rate limit, bad credential),
            # which it audits itself: refuse, without a second report.
            return KeyCheck(False, "", exc.details() or exc.code().name)
        return KeyCheck(response.allowed, response.camera_id, response.reason)


class GrpcClipParts:
    """GetClipParts over the agent's channel, authenticated with the node credential: the
    parts of a spread clip that other nodes hold, with the URLs to fetch them from."""

    def __init__(
        self,
        stub: agent_pb2_grpc.AgentServiceAsyncStub,
        credential: Callable[[], Credential | None],
        timeout_s: float = 10.0,
    ) -> None:
        self._stub = stub
        self._credential = credential
        self._timeout_s = timeout_s

    async def parts(self, clip: SpreadClip) -> list[RemotePart]:
        """The parts, oldest first; PartsUnavailable with a sentence when the control plane
        cannot be asked or says no (a node holding a part cannot serve it)."""
        credential = self._credential()
        if credential is None:
            raise PartsUnavailable("this node has no credential yet to ask for the other parts")
        try:
            response = await self._stub.GetClipParts(
                agent_pb2.GetClipPartsRequest(
                    camera_id=clip.camera_id,
                    start_ms=clip.start_ms,
                    end_ms=clip.end_ms,
                    grant=clip.grant,
                    expires=clip.expires,
                    signature=clip.signature,
                ),
                metadata=credential.metadata,
                timeout=self._timeout_s,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in UNREACHABLE_CODES:
                raise PartsUnavailable(
                    "the control plane, which says where the other nodes' parts are, cannot be "
                    f"reached ({exc.code().name}); try again"
                ) from None
            raise PartsUnavailable(exc.details() or exc.code().name) from None
        return [
            RemotePart(
                p.recording_id,
                p.start_time.ToDatetime(UTC),
                p.end_time.ToDatetime(UTC),
                p.size_bytes,
                p.url,
                p.node_name,
            )
            for p in response.parts
        ]


async def join(
    stub: agent_pb2_grpc.AgentServiceStub,
    config: AgentConfig,
    data_dir: DataDir,
    tls: ControlPlaneTls,
) -> Credential:
    """Register with the join token (and this node's certificate request, for mutual TLS) and
    store what the control plane gave."""
    mtls = config.control_plane_mtls is not None
    joined = await register_node(
        cast("agent_pb2_grpc.AgentServiceAsyncStub", stub),
        config.join_token,
        config.name,
        labels=config.labels,
        certificate_request=certificate_request(data_dir, config.name) if mtls else b"",
        explain=partial(tls.explain, target=str(config.control_plane)),
    )
    # The certificate first: a stored credential means "joined", so it must be complete.
    if joined.certificate:
        save_certificate(data_dir, joined.certificate)
    save_credential(data_dir, joined.credential)
    return joined.credential


def node_channel(config: AgentConfig, data_dir: DataDir, tls: ControlPlaneTls) -> grpc.aio.Channel:
    """The channel to --control-plane-mtls presenting this node's certificate."""
    identity = load_identity(data_dir)
    if identity is None:
        raise ConfigError(
            f"this node has no certificate ({node_cert_path(data_dir)}) for "
            "--control-plane-mtls: it joined without one. Start it without "
            "--control-plane-mtls, or delete its credential.json and join again with a "
            "new --join-token"
        )
    return open_channel(str(config.control_plane_mtls), tls.credentials(identity))
