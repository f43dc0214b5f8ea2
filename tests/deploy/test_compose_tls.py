"""compose's `tls` service (deploy/tls.sh) as compose runs it: the local CA and Envoy's
certificate on the first `up`, the same files on the next, and the operator's own certificate
checked and installed instead when deploy/tls-own holds one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.processes import ROOT, clean_env
from server.tls.ca import ensure_certificate, hosts_of

SCRIPT = ROOT / "deploy" / "tls.sh"


def _tls_service(
    tls: Path, own: Path, host: str = "cams.example"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(SCRIPT), sys.executable, "-m", "server.tls"],
        cwd=ROOT,
        env={
            **clean_env(),
            "CAMFLEET_PUBLIC_HOST": host,
            "CAMFLEET_TLS_DIR": str(tls),
            "CAMFLEET_TLS_OWN_DIR": str(own),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _verifies(ca: Path, cert: Path) -> bool:
    done = subprocess.run(
        ["openssl", "verify", "-CAfile", str(ca), str(cert)], capture_output=True, check=False
    )
    return done.returncode == 0


def test_the_local_ca_is_made_once_and_names_the_public_host_and_envoy(tmp_path: Path) -> None:
    tls, own = tmp_path / "tls", tmp_path / "own"
    tls.mkdir()
    own.mkdir()
    first = _tls_service(tls, own)
    assert first.returncode == 0, first.stderr
    assert "signed by the local CA" in first.stdout
    assert sorted(hosts_of(tls / "edge.pem")) == sorted(
        ["cams.example", "envoy", "localhost", "127.0.0.1"]
    )
    assert _verifies(tls / "ca.pem", tls / "edge.pem")
    assert (tls / "ca-key.pem").stat().st_mode & 0o077 == 0
    made = {p.name: p.read_bytes() for p in tls.glob("*.pem")}
    again = _tls_service(tls, own)
    assert again.returncode == 0, again.stderr
    assert {p.name: p.read_bytes() for p in tls.glob("*.pem")} == made


def test_the_operators_certificate_is_checked_then_used(tmp_path: Path) -> None:
    tls, own = tmp_path / "tls", tmp_path / "own"
    tls.mkdir()
    theirs = ensure_certificate(tmp_path / "their-ca", ["cams.example"], "edge")
    stranger = ensure_certificate(tmp_path / "stranger", ["cams.example"], "edge")
    own.mkdir()
    (own / "edge.pem").write_bytes(theirs.cert.read_bytes())
    (own / "edge-key.pem").write_bytes(stranger.key.read_bytes())
    refused = _tls_service(tls, own)
    assert refused.returncode != 0
    assert "is not the private key of the certificate" in refused.stderr
    assert not (tls / "edge.pem").exists()

    (own / "edge-key.pem").write_bytes(theirs.key.read_bytes())
    (own / "ca.pem").write_bytes(theirs.ca.read_bytes())
    done = _tls_service(tls, own)
    assert done.returncode == 0, done.stderr
    assert "the operator's certificate" in done.stdout
    for name, source in (
        ("edge.pem", theirs.cert),
        ("edge-key.pem", theirs.key),
        ("ca.pem", theirs.ca),
    ):
        assert (tls / name).read_bytes() == source.read_bytes(), name
    assert (tls / "edge-key.pem").stat().st_mode & 0o077 == 0
    assert not (tls / "ca-key.pem").exists()  # no local CA was made
