"""The local CA: made once (key 0600), reused, certificates that verify with openssl and grpc's
TLS stack, reissued when their hosts change, and an operator's own files checked."""

from __future__ import annotations

import base64
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from server.tls.ca import (
    CertificateError,
    ensure_ca,
    ensure_certificate,
    hosts_of,
    operator_certificate,
    spki_sha256,
)


def _verify(ca: Path, cert: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", "verify", "-CAfile", str(ca), str(cert)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_first_run_makes_a_ca_and_a_certificate_then_reuses_them(tmp_path: Path) -> None:
    files = ensure_certificate(tmp_path / "tls", ["localhost", "127.0.0.1", "::1"])
    assert stat.S_IMODE((tmp_path / "tls" / "ca-key.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    assert _verify(files.ca, files.cert).returncode == 0
    assert sorted(hosts_of(files.cert)) == ["127.0.0.1", "::1", "localhost"]
    ca_before, cert_before = files.ca.read_bytes(), files.cert.read_bytes()

    again = ensure_certificate(tmp_path / "tls", ["127.0.0.1", "localhost", "::1"])
    assert again == files
    assert files.ca.read_bytes() == ca_before and files.cert.read_bytes() == cert_before

    # Another host: a new certificate from the same CA.
    moved = ensure_certificate(tmp_path / "tls", ["localhost", "camfleet.example"])
    assert moved.ca.read_bytes() == ca_before
    assert moved.cert.read_bytes() != cert_before
    assert sorted(hosts_of(moved.cert)) == ["camfleet.example", "localhost"]
    assert _verify(moved.ca, moved.cert).returncode == 0


def test_a_certificate_from_another_ca_is_not_trusted_and_is_replaced(tmp_path: Path) -> None:
    other = ensure_certificate(tmp_path / "other", ["localhost"])
    mine = ensure_certificate(tmp_path / "mine", ["localhost"])
    assert _verify(mine.ca, other.cert).returncode != 0
    # Someone copied the other directory's certificate here: the next start issues one of ours.
    mine.cert.write_bytes(other.cert.read_bytes())
    mine.key.write_bytes(other.key.read_bytes())
    fixed = ensure_certificate(tmp_path / "mine", ["localhost"])
    assert _verify(fixed.ca, fixed.cert).returncode == 0


def test_a_csr_is_signed_with_the_name_the_ca_chooses(tmp_path: Path) -> None:
    ca = ensure_ca(tmp_path)
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "admin")]))
        .sign(key, hashes.SHA256())
    )
    pem = ca.sign_csr(csr.public_bytes(serialization.Encoding.PEM), "node-7", ["10.0.0.7"])
    cert = x509.load_pem_x509_certificate(pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "node-7"
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    (tmp_path / "node.pem").write_bytes(pem)
    assert _verify(ca.cert_path, tmp_path / "node.pem").returncode == 0
    with pytest.raises(CertificateError, match="not a PEM CSR"):
        ca.sign_csr(b"hello", "node-7")


def test_operator_files_are_checked_to_belong_together(tmp_path: Path) -> None:
    a = ensure_certificate(tmp_path / "a", ["a.example"])
    b = ensure_certificate(tmp_path / "b", ["b.example"])
    files = operator_certificate(a.cert, a.key, a.ca)
    assert files == a
    with pytest.raises(CertificateError, match="is not the private key of the certificate"):
        operator_certificate(a.cert, b.key)
    with pytest.raises(CertificateError, match="no certificate file"):
        operator_certificate(tmp_path / "missing.pem", a.key)


def test_spki_pin_matches_openssl(tmp_path: Path) -> None:
    files = ensure_certificate(tmp_path, ["localhost"])
    pubkey = subprocess.run(
        ["openssl", "x509", "-in", str(files.cert), "-pubkey", "-noout"],
        capture_output=True,
        check=True,
    ).stdout
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "der"],
        input=pubkey,
        capture_output=True,
        check=True,
    ).stdout
    digest = subprocess.run(
        ["openssl", "dgst", "-sha256", "-binary"], input=der, capture_output=True, check=True
    ).stdout

    assert spki_sha256(files.cert.read_bytes()) == base64.b64encode(digest).decode()
