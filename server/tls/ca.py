"""A local certificate authority: the CA and the certificates camfleet's hops present.

`./start`, compose and the control plane (which signs a node's certificate at join) share it.
On first use a directory gets a CA (`ca.pem`, its key `ca-key.pem` mode 0600); certificates
signed by it are reused while they name the same hosts, are signed by that CA and are far from
expiry, and issued again otherwise. An operator's own certificate, key and CA are used as they
are (checked, never rewritten). ECDSA P-256: quick to make, and spoken by Envoy, grpc and every
browser.
"""

from __future__ import annotations

import base64
import datetime as dt
import fcntl
import ipaddress
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT = "ca.pem"
CA_KEY = "ca-key.pem"
CA_DAYS = 3650
# Browsers refuse a publicly trusted leaf valid for more than 398 days; a local one keeps to the
# same so that nothing changes if its CA is ever swapped for a public one.
LEAF_DAYS = 397
# A certificate with less than this left is issued again at the next start.
RENEW_BEFORE = dt.timedelta(days=30)
# Clocks of the hosts that check a certificate may be a little behind the one that made it.
BACKDATE = dt.timedelta(minutes=5)


class CertificateError(ValueError):
    """Files that do not make a usable certificate, said as a sentence for the operator."""


@dataclass(frozen=True)
class CertificateFiles:
    """PEM files of one certificate: what a TLS server (or client) is configured with."""

    cert: Path
    key: Path
    ca: Path


@dataclass(frozen=True)
class CertificateAuthority:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    cert_path: Path

    def issue(
        self,
        common_name: str,
        hosts: Sequence[str] = (),
        *,
        server: bool = True,
        client: bool = False,
        public_key: ec.EllipticCurvePublicKey | None = None,
        days: int = LEAF_DAYS,
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey | None]:
        """A leaf certificate for `hosts` (names or IP addresses, all in its SANs).

        With `public_key` (from a node's CSR) no key is made and None is returned for it, so the
        private key never leaves the host that made it.
        """
        key = None if public_key is not None else ec.generate_private_key(ec.SECP256R1())
        subject_key = public_key if public_key is not None else _public(key)
        now = dt.datetime.now(dt.UTC)
        usages = [
            u
            for u, on in (
                (ExtendedKeyUsageOID.SERVER_AUTH, server),
                (ExtendedKeyUsageOID.CLIENT_AUTH, client),
            )
            if on
        ]
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.cert.subject)
            .public_key(subject_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(min(now + dt.timedelta(days=days), self.cert.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        if hosts:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([_general_name(h) for h in _unique(hosts)]),
                critical=False,
            )
        return builder.sign(self.key, hashes.SHA256()), key

    def sign_csr(
        self,
        csr_pem: bytes,
        common_name: str,
        hosts: Sequence[str] = (),
        *,
        client: bool = True,
        server: bool = True,
    ) -> bytes:
        """PEM of a certificate for a CSR's key (a node at join), with the name we choose.

        Only the CSR's key is taken from it: the name and SANs a requester asks for are not
        believed, the caller says what this node is.
        """
        try:
            csr = x509.load_pem_x509_csr(csr_pem)
        except ValueError as e:
            raise CertificateError(f"the certificate request is not a PEM CSR: {e}") from None
        if not csr.is_signature_valid:
            raise CertificateError("the certificate request's signature does not match its key")
        key = csr.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise CertificateError("the certificate request's key must be an EC (P-256) key")
        cert, _ = self.issue(common_name, hosts, server=server, client=client, public_key=key)
        return cert.public_bytes(serialization.Encoding.PEM)


def ensure_ca(directory: Path | str, name: str = "camfleet local CA") -> CertificateAuthority:
    """The CA in `directory`, made there (key 0600) if it has none yet."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with _locked(directory):
        cert_path, key_path = directory / CA_CERT, directory / CA_KEY
        if cert_path.exists() and key_path.exists():
            return load_ca(cert_path, key_path)
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "camfleet"),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        # The key first: a CA certificate without its key beside it would be a CA nobody can use.
        _write_private(key_path, _key_pem(key))
        _write_public(cert_path, cert.public_bytes(serialization.Encoding.PEM))
        return CertificateAuthority(cert, key, cert_path)


def load_ca(cert_path: Path | str, key_path: Path | str) -> CertificateAuthority:
    cert = _load_cert(Path(cert_path))
    key = _load_key(Path(key_path))
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertificateError(f"{key_path}: the local CA's key must be an EC key")
    if key.public_key().public_bytes(*_SPKI) != cert.public_key().public_bytes(*_SPKI):
        raise CertificateError(f"{key_path} is not the key of the CA certificate {cert_path}")
    return CertificateAuthority(cert, key, Path(cert_path))


def ensure_certificate(
    directory: Path | str,
    hosts: Sequence[str],
    name: str = "server",
    *,
    ca: CertificateAuthority | None = None,
    client: bool = False,
) -> CertificateFiles:
    """`<name>.pem` and `<name>-key.pem` in `directory` for `hosts`, signed by the local CA.

    Reused while they name the same hosts (in any order), are signed by this CA and have more
    than RENEW_BEFORE left; issued again otherwise. The CA is the directory's own unless given.
    """
    directory = Path(directory)
    ca = ca or ensure_ca(directory)
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}-key.pem"
    with _locked(directory):
        if _still_good(cert_path, key_path, ca, hosts):
            return CertificateFiles(cert_path, key_path, ca.cert_path)
        cert, key = ca.issue(hosts[0] if hosts else name, hosts, client=client)
        assert key is not None
        _write_private(key_path, _key_pem(key))
        _write_public(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return CertificateFiles(cert_path, key_path, ca.cert_path)


def operator_certificate(
    cert: Path | str, key: Path | str, ca: Path | str | None = None
) -> CertificateFiles:
    """An operator's own certificate and key, checked to belong together, used as they are.

    `ca` is what clients are told to trust; without it the certificate's own file is (a chain
    ending in a public root needs nothing more from us).
    """
    cert_path, key_path = Path(cert), Path(key)
    leaf = _load_cert(cert_path)
    private = _load_key(key_path)
    if private.public_key().public_bytes(*_SPKI) != leaf.public_key().public_bytes(*_SPKI):
        raise CertificateError(f"{key_path} is not the private key of the certificate {cert_path}")
    if leaf.not_valid_after_utc <= dt.datetime.now(dt.UTC):
        raise CertificateError(
            f"the certificate {cert_path} expired on {leaf.not_valid_after_utc:%Y-%m-%d}"
        )
    ca_path = Path(ca) if ca is not None else cert_path
    _load_cert(ca_path)
    return CertificateFiles(cert_path, key_path, ca_path)


def spki_sha256(cert_pem: bytes) -> str:
    """base64 SHA-256 of a certificate's public key: what Chromium's
    `--ignore-certificate-errors-spki-list` and HPKP-style pins name."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(cert.public_key().public_bytes(*_SPKI))
    return base64.b64encode(digest.finalize()).decode()


def hosts_of(cert_path: Path | str) -> list[str]:
    """The DNS names and IP addresses a certificate is for."""
    return _sans(_load_cert(Path(cert_path)))


_SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _still_good(
    cert_path: Path, key_path: Path, ca: CertificateAuthority, hosts: Sequence[str]
) -> bool:
    if not (cert_path.exists() and key_path.exists()):
        return False
    try:
        cert = _load_cert(cert_path)
        key = _load_key(key_path)
    except CertificateError:
        return False
    if key.public_key().public_bytes(*_SPKI) != cert.public_key().public_bytes(*_SPKI):
        return False
    if cert.issuer != ca.cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(ca.cert)
    except (InvalidSignature, ValueError, TypeError):
        return False
    if cert.not_valid_after_utc - dt.datetime.now(dt.UTC) < RENEW_BEFORE:
        return False
    return sorted(_sans(cert)) == sorted(_normal(h) for h in _unique(hosts))


def _sans(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [str(v) for v in san.get_values_for_type(x509.DNSName)] + [
        str(v) for v in san.get_values_for_type(x509.IPAddress)
    ]


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _normal(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def _unique(hosts: Sequence[str]) -> list[str]:
    seen: dict[str, None] = {}
    for host in hosts:
        if h := host.strip():
            seen.setdefault(h, None)
    return list(seen)


def _public(key: ec.EllipticCurvePrivateKey | None) -> ec.EllipticCurvePublicKey:
    assert key is not None
    return key.public_key()


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _load_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except FileNotFoundError:
        raise CertificateError(f"no certificate file at {path}") from None
    except ValueError:
        raise CertificateError(f"{path} is not a PEM certificate") from None


def _load_key(path: Path) -> PrivateKeyTypes:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise CertificateError(f"no key file at {path}") from None
    except (ValueError, TypeError):
        raise CertificateError(f"{path} is not an unencrypted PEM private key") from None
    return key


def _write_private(path: Path, data: bytes) -> None:
    # Created 0600 from the start (not chmod after), and swapped in whole.
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """One maker at a time: two replicas starting together must not make two CAs."""
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
