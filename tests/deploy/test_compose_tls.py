"""compose's `tls` service (deploy/tls.sh) as compose runs it: the local CA, the control planes'
agent-listener certificate, the nodes' HTTPS certificate (in the nodes' own volume, without the
CA's key) and Envoy's on the first `up`, the same files on the next; the operator's own
certificate checked and given to Envoy instead when deploy/tls-own holds one, the local CA still
signing the hops between agents and control planes, as ./start does."""

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
    """The script with the `tls` volume at `tls` and the `node-tls` one beside it."""
    return subprocess.run(
        ["sh", str(SCRIPT), sys.executable, "-m", "server.tls"],
        cwd=ROOT,
        env={
            **clean_env(),
            "CAMFLEET_PUBLIC_HOST": host,
            "CAMFLEET_TLS_DIR": str(tls),
            "CAMFLEET_NODE_TLS_DIR": str(tls.with_name("node-tls")),
            "CAMFLEET_TLS_OWN_DIR": str(own),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _files(*dirs: Path) -> dict[str, bytes]:
    return {f"{d.name}/{p.name}": p.read_bytes() for d in dirs for p in d.glob("*.pem")}


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
    assert (tls / "edge-ca.pem").read_bytes() == (tls / "ca.pem").read_bytes()
    assert (tls / "ca-key.pem").stat().st_mode & 0o077 == 0
    # The control planes' agent listeners: `control-plane` is what agents dial (the replicas'
    # alias), and the public host for agents elsewhere.
    assert sorted(hosts_of(tls / "agent-listener.pem")) == sorted(
        ["control-plane", "control-plane-1", "control-plane-2", "cams.example"]
    )
    assert _verifies(tls / "ca.pem", tls / "agent-listener.pem")
    # The nodes' volume: their HTTPS pair and the CA's certificate, never its key.
    node = tmp_path / "node-tls"
    assert sorted(p.name for p in node.iterdir()) == [
        "ca.pem",
        "node-http-key.pem",
        "node-http.pem",
    ]
    assert (node / "ca.pem").read_bytes() == (tls / "ca.pem").read_bytes()
    assert "cams.example" in hosts_of(node / "node-http.pem")
    assert _verifies(node / "ca.pem", node / "node-http.pem")
    assert (node / "node-http-key.pem").stat().st_mode & 0o077 == 0
    made = _files(tls, node)
    again = _tls_service(tls, own)
    assert again.returncode == 0, again.stderr
    assert _files(tls, node) == made


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
        ("edge-ca.pem", theirs.ca),
    ):
        assert (tls / name).read_bytes() == source.read_bytes(), name
    assert (tls / "edge-key.pem").stat().st_mode & 0o077 == 0
    # The hops are the local CA's still (./start: an operator's certificate is for Envoy).
    assert (tls / "ca-key.pem").exists()
    assert (tls / "ca.pem").read_bytes() != theirs.ca.read_bytes()
    assert _verifies(tls / "ca.pem", tls / "agent-listener.pem")
    assert _verifies(
        tls.with_name("node-tls") / "ca.pem", tls.with_name("node-tls") / "node-http.pem"
    )


def test_an_earlier_volume_with_the_operators_ca_gets_a_local_ca(tmp_path: Path) -> None:
    """The version before put the operator's CA at ca.pem with no local CA: its ca.pem makes
    way for the local CA's instead of being taken for one without its key."""
    tls, own = tmp_path / "tls", tmp_path / "own"
    theirs = ensure_certificate(tmp_path / "their-ca", ["cams.example"], "edge")
    tls.mkdir()
    own.mkdir()
    (tls / "ca.pem").write_bytes(theirs.ca.read_bytes())
    done = _tls_service(tls, own)
    assert done.returncode == 0, done.stderr
    assert (tls / "ca-key.pem").exists()
    assert (tls / "ca.pem").read_bytes() != theirs.ca.read_bytes()
    assert _verifies(tls / "ca.pem", tls / "edge.pem")


def test_a_node_registered_without_a_certificate_keeps_one_way_tls(tmp_path: Path) -> None:
    """deploy/node-agent.sh, as ./start decides: a node whose credential predates node
    certificates is started without CAMFLEET_CONTROL_PLANE_MTLS (mutual TLS would fail on every
    restart) and the log says what the control planes need; one with its certificate keeps it."""
    data = tmp_path / "node"
    data.mkdir()
    (data / "credential.json").write_text("{}")

    def mtls_given() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                "sh",
                str(ROOT / "deploy" / "node-agent.sh"),
                "sh",
                "-c",
                "echo ${CAMFLEET_CONTROL_PLANE_MTLS-unset}",
            ],
            env={
                **clean_env(),
                "CAMFLEET_AGENT_DATA_DIR": str(data),
                "CAMFLEET_CONTROL_PLANE_MTLS": "control-plane:50053",
            },
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )

    before = mtls_given()
    assert before.stdout.strip() == "unset"
    assert "CAMFLEET_REQUIRE_NODE_CERTS=false" in before.stderr
    (data / "node-cert.pem").write_text("a certificate")
    after = mtls_given()
    assert after.stdout.strip() == "control-plane:50053"
    assert after.stderr == ""
