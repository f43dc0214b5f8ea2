"""The control plane's TLS listeners for node agents, and which node a client certificate names.

Two listeners beside the main one (which stays Envoy's upstream and plain on loopback):
- `--agent-listen`: TLS with the control plane's certificate; agents authenticate the server
  with their CA and register there (the join token and credential never cross in plain text).
- `--agent-mtls-listen`: TLS that also requires a client certificate signed by the node CA,
  one per node, issued at join from the node's own CSR. grpc's Python API cannot ask for a
  client certificate without requiring it, so registration (before a node has one) needs the
  first listener.

The certificate's common name is the node id. A call that presents one must carry that node's
credential too; with --require-node-certs a node call without one is refused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from server.config import Settings
from server.errors import PermissionDenied, Unauthenticated

log = logging.getLogger(__name__)


class AgentTlsError(Exception):
    """The TLS files cannot be read, or a listener cannot be bound: a sentence for the operator."""


def _read(option: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise AgentTlsError(f"{option} {path}: {exc.strerror or exc}") from None


def add_agent_listeners(server: grpc.aio.Server, settings: Settings) -> list[str]:
    """Bind the TLS listeners `settings` asks for; returns what they are, for the start log."""
    bound: list[str] = []
    if not settings.agent_listen and not settings.agent_mtls_listen:
        return bound
    assert settings.agent_tls_cert is not None and settings.agent_tls_key is not None
    pair = (
        _read("CAMFLEET_AGENT_TLS_KEY", settings.agent_tls_key),
        _read("CAMFLEET_AGENT_TLS_CERT", settings.agent_tls_cert),
    )
    if settings.agent_listen:
        _bind(server, settings.agent_listen, grpc.ssl_server_credentials([pair]))
        bound.append(f"{settings.agent_listen} (TLS, for node agents)")
    if settings.agent_mtls_listen:
        assert settings.node_ca_cert is not None
        credentials = grpc.ssl_server_credentials(
            [pair],
            root_certificates=_read("CAMFLEET_NODE_CA_CERT", settings.node_ca_cert),
            require_client_auth=True,
        )
        _bind(server, settings.agent_mtls_listen, credentials)
        bound.append(f"{settings.agent_mtls_listen} (TLS with node certificates)")
    return bound


def _bind(server: grpc.aio.Server, listen: str, credentials: grpc.ServerCredentials) -> None:
    try:
        port = server.add_secure_port(listen, credentials)
    except RuntimeError as exc:
        log.debug("bind of %s failed: %s", listen, exc)
        port = 0
    if not port:
        raise AgentTlsError(f"cannot listen on {listen} (in use, or not a local address)")


def certificate_node(context: Any) -> str | None:
    """The node id in the verified client certificate of this call's connection, or None when
    it presented none (grpc verified it against the node CA before the call began)."""
    auth = context.auth_context()
    names = auth.get("x509_common_name") if auth else None
    if not names:
        return None
    return bytes(names[0]).decode("utf-8", "replace")


@dataclass(frozen=True)
class NodeCertificates:
    """The rule for node calls: a presented certificate must be the caller's own; with
    `required`, one must be presented."""

    required: bool = False

    def check(self, context: Any, node_id: str) -> None:
        """Raise PermissionDenied (another node's certificate) or Unauthenticated (none, while
        required) for a call authenticated as `node_id`."""
        presented = certificate_node(context)
        if presented is None:
            if self.required:
                raise Unauthenticated(
                    "this control plane requires node certificates: connect to its "
                    "--agent-mtls-listen address with the certificate issued at join "
                    "(the agent's --control-plane-mtls)"
                )
            return
        if presented != node_id:
            raise PermissionDenied(
                f"the TLS client certificate is node {presented}'s, but the call carries node "
                f"{node_id}'s credential: a node may only present its own certificate"
            )
