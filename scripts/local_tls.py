"""TLS for `./start`: its options, and every certificate it presents, made by the local CA.

By default Envoy (the UI, grpc-web and gRPC) speaks TLS with a certificate from the local CA in
DATA_DIR/tls (server/tls/ca.py: made on the first start, reused after), or with the operator's
own (--tls-cert/--tls-key, and --tls-ca for what clients should trust). `--plaintext` keeps
plain HTTP for development, and only on loopback: anywhere else a password would cross a network
in the clear.

The browser tests make these same certificates before Chromium starts (platform_certificates)
and pin each one's public key, so the leaves are made in one place, here.
"""

from __future__ import annotations

import argparse
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from node_agent.node_tls import is_loopback
from server.tls.ca import (
    CA_CERT,
    CA_KEY,
    CertificateError,
    CertificateFiles,
    ensure_ca,
    ensure_certificate,
    operator_certificate,
)

EDGE = "edge"  # Envoy's certificate: edge.pem and edge-key.pem in the TLS directory
# The control plane's TLS listeners for node agents, and the node's HTTPS (HLS, WHEP, downloads).
AGENT_LISTENER = "agent-listener"
NODE_HTTP = "node-http"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
# Listening on every interface (compared, never bound).
_WILDCARDS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104


def add_tls_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    parser.add_argument(
        "--plaintext",
        action="store_true",
        default=env("CAMFLEET_PLAINTEXT", "") in {"1", "true", "yes"},
        help="serve the UI and the API over plain HTTP (development only: refused unless "
        "Envoy listens on loopback) [$CAMFLEET_PLAINTEXT=1]",
    )
    parser.add_argument(
        "--tls-dir",
        default=env("CAMFLEET_TLS_DIR", ""),
        help="where the local CA and its certificates live (default DATA_DIR/tls; made on the "
        "first start) [$CAMFLEET_TLS_DIR]",
    )
    parser.add_argument(
        "--tls-cert",
        default=env("CAMFLEET_TLS_CERT", ""),
        help="your own certificate (PEM, chain first) for Envoy instead of the local CA's "
        "[$CAMFLEET_TLS_CERT]",
    )
    parser.add_argument(
        "--tls-key", default=env("CAMFLEET_TLS_KEY", ""), help="its private key [$CAMFLEET_TLS_KEY]"
    )
    parser.add_argument(
        "--tls-ca",
        default=env("CAMFLEET_TLS_CA", ""),
        help="the CA clients should trust for --tls-cert (default: the certificate itself) "
        "[$CAMFLEET_TLS_CA]",
    )


def check_tls_arguments(args: argparse.Namespace, envoy_host: str) -> str | None:
    """What is wrong with the TLS options, as a sentence; None when they are usable."""
    if args.plaintext and not is_loopback(envoy_host):
        return (
            f"--plaintext is for loopback only, and Envoy would listen on {envoy_host}: "
            "passwords and tokens would cross the network in the clear (drop --plaintext, "
            "or use --envoy-listen 127.0.0.1:PORT)"
        )
    if bool(args.tls_cert) != bool(args.tls_key):
        return "--tls-cert and --tls-key go together (your certificate and its private key)"
    if args.plaintext and args.tls_cert:
        return "--plaintext and --tls-cert contradict each other: choose one"
    return None


def edge_hosts(envoy_host: str) -> list[str]:
    """The names the edge certificate is for: the listen address, the loopback names when it
    is on loopback or every interface, and this host's names when on every interface."""
    hosts: list[str] = []
    if envoy_host not in _WILDCARDS:
        hosts.append(envoy_host)
    if envoy_host in _WILDCARDS or is_loopback(envoy_host):
        hosts += LOOPBACK_NAMES
    if envoy_host in _WILDCARDS:
        hosts += [socket.gethostname(), socket.getfqdn()]
    return list(dict.fromkeys(h for h in hosts if h))


def platform_certificates(tls_dir: Path, edge: Iterable[str]) -> dict[str, CertificateFiles]:
    """Every certificate `./start` presents, signed by the CA in `tls_dir` (made there on the
    first call, reused after while it still fits): name → its files."""
    ca = ensure_ca(tls_dir)
    # One machine: the node and the control plane answer to the same names as Envoy.
    return {
        name: ensure_certificate(tls_dir, list(edge), name, ca=ca)
        for name in (EDGE, AGENT_LISTENER, NODE_HTTP)
    }


@dataclass(frozen=True)
class HopTls:
    """TLS between ./start's node agent and control plane, and the node's HTTPS: always the
    local CA's (an operator's --tls-cert is for Envoy, which browsers reach)."""

    ca: Path
    ca_key: Path
    agent_listener: CertificateFiles
    node_http: CertificateFiles

    def control_plane_env(self, listen: str, mtls_listen: str, mutual: bool) -> dict[str, str]:
        """The control plane's agent listeners; with `mutual`, node certificates required."""
        env = {
            "CAMFLEET_AGENT_LISTEN": listen,
            "CAMFLEET_AGENT_TLS_CERT": str(self.agent_listener.cert),
            "CAMFLEET_AGENT_TLS_KEY": str(self.agent_listener.key),
            "CAMFLEET_NODE_CA_CERT": str(self.ca),
            "CAMFLEET_NODE_CA_KEY": str(self.ca_key),
            "CAMFLEET_AGENT_MTLS_LISTEN": mtls_listen,
        }
        if mutual:
            env["CAMFLEET_REQUIRE_NODE_CERTS"] = "true"
        return env

    def agent_flags(self, mtls_listen: str, mutual: bool) -> list[str]:
        flags = ["--control-plane-ca", str(self.ca)]
        if mutual:
            flags += ["--control-plane-mtls", mtls_listen]
        https = ["--http-tls-cert", str(self.node_http.cert)]
        return [*flags, *https, "--http-tls-key", str(self.node_http.key)]


def hop_certificates(args: argparse.Namespace, data: Path, envoy_host: str) -> HopTls | None:
    """The local CA's certificates for the agent listeners and the node's HTTPS; None with
    --plaintext."""
    if args.plaintext:
        return None
    tls_dir = Path(args.tls_dir) if args.tls_dir else data / "tls"
    made = platform_certificates(tls_dir, edge_hosts(envoy_host))
    return HopTls(tls_dir / CA_CERT, tls_dir / CA_KEY, made[AGENT_LISTENER], made[NODE_HTTP])


def edge_certificate(
    args: argparse.Namespace, data: Path, envoy_host: str
) -> CertificateFiles | None:
    """Envoy's certificate: the operator's, or the local CA's; None with --plaintext.
    CertificateError (a sentence) when the operator's files do not make one."""
    if args.plaintext:
        return None
    if args.tls_cert:
        return operator_certificate(args.tls_cert, args.tls_key, args.tls_ca or None)
    tls_dir = Path(args.tls_dir) if args.tls_dir else data / "tls"
    return platform_certificates(tls_dir, edge_hosts(envoy_host))[EDGE]


__all__ = [
    "AGENT_LISTENER",
    "EDGE",
    "NODE_HTTP",
    "CertificateError",
    "HopTls",
    "add_tls_arguments",
    "check_tls_arguments",
    "edge_certificate",
    "edge_hosts",
    "hop_certificates",
    "is_loopback",
    "platform_certificates",
]
