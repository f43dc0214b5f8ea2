"""Node client certificates, signed at join from the node's own certificate request.

The node makes its key and sends only a CSR with RegisterNode; the certificate names the node
id (its common name), whatever the request asked for, and is good for TLS client
authentication only, so it cannot pose as a server. server/transport/agent_tls.py maps it back.
"""

from __future__ import annotations

from pathlib import Path

from cryptography import x509

from server.errors import FailedPrecondition, InvalidArgument
from server.tls.ca import CertificateAuthority, CertificateError, load_ca

MAX_CSR_BYTES = 8192


class NodeCertificateSigner:
    """Signs node CSRs with the node CA (None: this control plane issues no node certificates)."""

    def __init__(self, ca: CertificateAuthority | None) -> None:
        self._ca = ca

    @classmethod
    def from_files(cls, cert: Path | None, key: Path | None) -> NodeCertificateSigner:
        """The signer of --node-ca-cert/--node-ca-key; CertificateError if they are unusable."""
        return cls(load_ca(cert, key) if cert and key else None)

    def check(self, csr_pem: str) -> None:
        """Refuse, before the join token is spent, a request that cannot be signed."""
        if self._ca is None:
            raise FailedPrecondition(
                "this control plane issues no node certificates (it has no --node-ca-cert): "
                "start the agent without --control-plane-mtls"
            )
        if len(csr_pem) > MAX_CSR_BYTES:
            raise InvalidArgument(f"certificate_request is over {MAX_CSR_BYTES} bytes")
        try:
            csr = x509.load_pem_x509_csr(csr_pem.encode())
        except ValueError:
            raise InvalidArgument("certificate_request is not a PEM certificate request") from None
        if not csr.is_signature_valid:
            raise InvalidArgument("certificate_request's signature does not match its key")

    def sign(self, csr_pem: str, node_id: str) -> str:
        """PEM certificate for the request's key, naming `node_id` (check() passed)."""
        assert self._ca is not None
        try:
            pem = self._ca.sign_csr(csr_pem.encode(), node_id, client=True, server=False)
        except CertificateError as exc:
            raise InvalidArgument(f"certificate_request: {exc}") from None
        return pem.decode()
