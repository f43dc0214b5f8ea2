"""TLS between this node and the control plane: the CA that authenticates the control plane
(--control-plane-ca), and the node's own certificate for mutual TLS (--control-plane-mtls).

The node's private key is made here, on the node, and only its certificate request goes to the
control plane with RegisterNode; the key stays in DATA_DIR/node-key.pem (owner-only) and the
certificate the control plane signed (its common name is the node id) in node-cert.pem.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from node_agent.config_values import HostPort
from node_agent.errors import ConfigError
from node_agent.state import DataDir, read_private, write_private

log = logging.getLogger(__name__)


def node_key_path(data_dir: DataDir) -> Path:
    return data_dir.root / "node-key.pem"


def node_cert_path(data_dir: DataDir) -> Path:
    return data_dir.root / "node-cert.pem"


@dataclass(frozen=True)
class ControlPlaneTls:
    """How this agent reaches the control plane: the CA it trusts (None: plain text)."""

    ca_path: Path | None = None
    ca: bytes = b""

    @property
    def enabled(self) -> bool:
        return self.ca_path is not None

    def credentials(self, identity: tuple[bytes, bytes] | None = None) -> grpc.ChannelCredentials:
        """Channel credentials trusting only our CA; with `identity` (key, certificate PEM) the
        node presents its certificate too."""
        key, cert = identity if identity is not None else (None, None)
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca, private_key=key, certificate_chain=cert
        )

    def explain(self, details: str, target: str) -> str | None:
        """A sentence for a TLS failure in a gRPC status's details, None if it is none."""
        text = details.lower()
        if "handshake" not in text and "certificate" not in text and "ssl" not in text:
            return None
        if self.ca_path is None:
            return (
                f"the control plane at {target} speaks TLS but this agent was started without "
                "--control-plane-ca: give it the CA certificate that signed the control plane's"
            )
        return (
            f"cannot authenticate the control plane at {target}: its TLS certificate is not "
            f"signed by the CA in --control-plane-ca ({self.ca_path}), or does not name "
            f"{target.rsplit(':', 1)[0]}; this agent will not send its credential there"
        )


def is_loopback(host: str) -> bool:
    """Whether a host (a name or an address, as given in a flag) is this machine's loopback:
    "localhost" or a loopback address; any other name is taken as reaching the network."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_control_plane_tls(ca_path: Path | None, target: HostPort) -> ControlPlaneTls:
    """The CA of --control-plane-ca read and checked; ConfigError naming the flag if unusable."""
    if ca_path is None:
        if not is_loopback(target.host):
            log.warning(
                "speaking plain text to the control plane at %s: the join token and this "
                "node's credential cross the network unencrypted; give --control-plane-ca to "
                "use TLS (plain text is meant for a control plane on this machine)",
                target,
            )
        return ControlPlaneTls()
    try:
        data = ca_path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"--control-plane-ca {ca_path}: {exc.strerror or exc}") from None
    try:
        x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ConfigError(
            f"--control-plane-ca {ca_path} is not a PEM certificate (the CA that signed the "
            "control plane's certificate)"
        ) from None
    return ControlPlaneTls(ca_path, data)


def certificate_request(data_dir: DataDir, name: str) -> bytes:
    """A PEM certificate request for this node's key, made (owner-only) on first use."""
    path = node_key_path(data_dir)
    pem = read_private(path)
    if pem is None:
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_private(path, pem)
    private = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(private, ec.EllipticCurvePrivateKey):
        raise ConfigError(f"{path} is not this node's EC key; delete it and join again")
    csr = (
        x509.CertificateSigningRequestBuilder()
        # The control plane names the certificate itself (the node id); this is a hint only.
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name[:64] or "node")]))
        .sign(private, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM)


def save_certificate(data_dir: DataDir, cert_pem: bytes) -> None:
    write_private(node_cert_path(data_dir), cert_pem)


def load_identity(data_dir: DataDir) -> tuple[bytes, bytes] | None:
    """(key, certificate) PEM of this node, None when it has no certificate."""
    key = read_private(node_key_path(data_dir))
    cert = read_private(node_cert_path(data_dir))
    if key is None or cert is None:
        return None
    return key, cert


class NodeStub:
    """The AgentService stub node calls use, switched (use()) to the mutual-TLS channel once the
    node has its certificate: the key checker and clip-part lookups are built before the first
    registration, which is what issues the certificate."""

    def __init__(self, stub: Any) -> None:
        self._current = stub

    def use(self, stub: Any) -> None:
        self._current = stub

    def __getattr__(self, name: str) -> Any:
        return getattr(self._current, name)
