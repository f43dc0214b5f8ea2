"""Issue 17 (TLS at the edge): Envoy, rendered as ./start and compose render it, terminates TLS
with a certificate of the local CA in front of a real control plane. Clients that trust that CA
get gRPC (HTTP/2 by ALPN) and grpc-web, with HSTS; a client with another CA, with only the
system's roots or in plain text is refused, and `camfleet` says why in a sentence."""

from __future__ import annotations

import asyncio
import http.client
import ssl
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from camfleet.v1 import auth_pb2, auth_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from scripts.envoy_config import render
from server.tls.ca import CertificateFiles, ensure_certificate
from tests.cli.cli_process import Cli
from tests.support.envoy import Edge, running_edge
from tests.support.platform import (
    ADMIN_PASSWORD,
    Platform,
    settings_for_tests,
    start_platform,
    stop_platform,
)

pytestmark = pytest.mark.timeout(300)

HSTS = "max-age=31536000"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[CertificateFiles, Path]:
    """The edge's certificate from a local CA, and another CA's certificate (a wrong one)."""
    base = tmp_path_factory.mktemp("tls")
    edge = ensure_certificate(base / "local", ["127.0.0.1", "localhost"], "edge")
    other = ensure_certificate(base / "other", ["127.0.0.1"], "edge")
    return edge, other.ca


@pytest.fixture(scope="module")
async def plane(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Platform]:
    p = await start_platform(settings_for_tests(tmp_path_factory.mktemp("plane")), "sqlite")
    yield p
    await stop_platform(p)


@pytest.fixture(scope="module")
async def edge(
    plane: Platform,
    certificates: tuple[CertificateFiles, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Edge]:
    files, _ = certificates
    async with running_edge(
        [("127.0.0.1", plane.plane.port)],
        tmp_path_factory.mktemp("envoy"),
        tls=(files.cert, files.key),
    ) as running:
        yield running


def _credentials(ca: Path | None) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(ca.read_bytes() if ca else None)


async def test_grpc_clients_that_trust_the_local_ca_are_served_over_http2(
    edge: Edge, certificates: tuple[CertificateFiles, Path]
) -> None:
    files, _ = certificates
    # grpc insists on ALPN h2: a handshake that agreed on anything else would fail the call.
    async with grpc.aio.secure_channel(f"127.0.0.1:{edge.port}", _credentials(files.ca)) as ch:
        health = await health_pb2_grpc.HealthStub(ch).Check(
            health_pb2.HealthCheckRequest(), timeout=10
        )
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        login = await auth_pb2_grpc.AuthServiceStub(ch).Login(
            auth_pb2.LoginRequest(username="admin", password=ADMIN_PASSWORD), timeout=30
        )
        assert login.tokens.access_token
    # The certificate is also for `localhost`.
    async with grpc.aio.secure_channel(f"localhost:{edge.port}", _credentials(files.ca)) as ch:
        await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10)


@pytest.mark.parametrize("trust", ["another CA", "the system's roots"])
async def test_a_client_that_does_not_trust_the_ca_is_refused_with_the_reason(
    edge: Edge, certificates: tuple[CertificateFiles, Path], trust: str
) -> None:
    _, other_ca = certificates
    ca = other_ca if trust == "another CA" else None
    async with grpc.aio.secure_channel(f"127.0.0.1:{edge.port}", _credentials(ca)) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "CERTIFICATE_VERIFY_FAILED" in (caught.value.details() or "")


async def test_plain_text_is_not_answered_on_the_tls_port(edge: Edge) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{edge.port}") as ch:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def _grpc_web_login(port: int, ca: Path) -> tuple[int, dict[str, str], str | None, bytes]:
    """A browser's grpc-web Login over HTTPS (HTTP/1.1): status, headers, ALPN agreed, body
    (its frames, the trailers last)."""
    context = ssl.create_default_context(cafile=str(ca))
    context.set_alpn_protocols(["http/1.1"])
    message = auth_pb2.LoginRequest(username="admin", password=ADMIN_PASSWORD).SerializeToString()
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    try:
        conn.request(
            "POST",
            "/camfleet.v1.AuthService/Login",
            body=struct.pack(">BI", 0, len(message)) + message,
            headers={"content-type": "application/grpc-web+proto", "x-grpc-web": "1"},
        )
        resp = conn.getresponse()
        body = resp.read()
        alpn = conn.sock.selected_alpn_protocol() if conn.sock else None  # type: ignore[union-attr]
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, alpn, body
    finally:
        conn.close()


async def test_grpc_web_over_https_carries_hsts(
    edge: Edge, certificates: tuple[CertificateFiles, Path]
) -> None:
    files, _ = certificates
    # In a thread: the control plane answers on this test's event loop.
    status, headers, alpn, body = await asyncio.to_thread(_grpc_web_login, edge.port, files.ca)
    assert (status, alpn) == (200, "http/1.1")
    assert b"grpc-status:0" in body, body  # the trailers frame
    assert headers["strict-transport-security"] == HSTS


def test_plain_text_rendering_has_neither_tls_nor_hsts(tmp_path: Path) -> None:
    plain = render(("127.0.0.1", 1), "admin.sock", [("127.0.0.1", 2)])
    listener = plain["static_resources"]["listeners"][0]
    assert "transport_socket" not in listener["filter_chains"][0]
    assert "Strict-Transport-Security" not in str(plain)
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    tls = render(("127.0.0.1", 1), "admin.sock", [("127.0.0.1", 2)], tls=(cert, key))
    chain = tls["static_resources"]["listeners"][0]["filter_chains"][0]
    context = chain["transport_socket"]["typed_config"]["common_tls_context"]
    assert context["alpn_protocols"] == ["h2", "http/1.1"]
    assert context["tls_certificates"] == [
        {"certificate_chain": {"filename": str(cert)}, "private_key": {"filename": str(key)}}
    ]
    # The UI's own origin is https:// now (CORS allow-list).
    assert "https://127.0.0.1:1" in str(tls) and "http://127.0.0.1:1" not in str(tls)


async def test_the_cli_verifies_the_server_with_ca_and_says_why_it_refuses(
    edge: Edge, certificates: tuple[CertificateFiles, Path], tmp_path: Path
) -> None:
    files, other_ca = certificates
    server = f"127.0.0.1:{edge.port}"
    cli = Cli(tmp_path / "cli")
    logged = await cli.run(
        "login", "-s", server, "--ca", str(files.ca), "-u", "admin", "--password-stdin",
        stdin=ADMIN_PASSWORD + "\n",
    )  # fmt: skip
    assert logged.code == 0, logged
    # The context keeps the CA: later commands verify the server with it.
    who = await cli.run("whoami")
    assert who.code == 0 and "admin" in who.stdout, who

    # Another CA for this run: refused, one sentence, exit 7 (unavailable).
    wrong = await cli.run("--ca", str(other_ca), "whoami")
    assert wrong.code == 7, wrong
    assert "presented a TLS certificate this client does not trust" in wrong.stderr, wrong
    assert "--ca" in wrong.stderr and "Traceback" not in wrong.stderr

    # https:// with only the system's roots: the same sentence.
    fresh = Cli(tmp_path / "fresh")
    bare = await fresh.run(
        "login", "-s", f"https://{server}", "-u", "admin", "--password-stdin",
        stdin=ADMIN_PASSWORD + "\n",
    )  # fmt: skip
    assert bare.code == 7 and "does not trust" in bare.stderr, bare

    # A CA file that is not one, or missing: said before anything is sent.
    (tmp_path / "not-a-ca.pem").write_text("hello")
    for path, says in [
        (tmp_path / "not-a-ca.pem", "holds no PEM certificate"),
        (tmp_path / "missing.pem", "Cannot read the CA file"),
    ]:
        bad = await cli.run("--ca", str(path), "whoami")
        assert bad.code == 2 and says in bad.stderr, bad
