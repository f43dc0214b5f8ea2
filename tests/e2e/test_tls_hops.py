"""TLS between node agents and the control plane, and HTTPS from nodes, with real processes.

A control plane with an agent TLS listener and a mutual-TLS one (node certificates signed by
its node CA from each node's CSR at join), node agents as operators start them, ffmpeg
publishing: the node joins and streams over TLS, its HLS, WHEP and downloads are https URLs
that verify against the CA; an agent given another CA refuses the control plane with a
sentence and keeps retrying; a node presenting another node's certificate is refused.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import grpc
import pytest
from camfleet.v1 import agent_pb2, agent_pb2_grpc, camera_pb2, node_pb2, recording_pb2
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from harness.agents import agent_argv, start_agent, wait_agent_ready
from harness.ports import free_port
from harness.processes import Child
from node_agent.node_tls import certificate_request
from node_agent.state import DataDir
from server.tls.ca import CertificateFiles, ensure_ca, ensure_certificate
from tests.support.agent_node import publishing
from tests.support.stack import Stack, recordings, running_control_plane

pytestmark = pytest.mark.timeout(300)


@dataclass(frozen=True)
class Pki:
    """The local CA, the control plane's certificate and the node's HTTPS certificate."""

    ca: Path
    control_plane: CertificateFiles
    node_http: CertificateFiles
    # Another CA, which vouches for nothing here.
    stranger: Path


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca = ensure_ca(tmp_path / "ca")
    control_plane = ensure_certificate(tmp_path / "ca", ["127.0.0.1"], "control-plane", ca=ca)
    node_http = ensure_certificate(tmp_path / "ca", ["127.0.0.1"], "node-http", ca=ca)
    stranger = ensure_ca(tmp_path / "stranger", name="someone else's CA")
    return Pki(ca.cert_path, control_plane, node_http, stranger.cert_path)


@dataclass
class TlsPlane:
    stack: Stack
    tls: str  # the agent TLS listener, host:port
    mtls: str  # the node-certificate listener


@asynccontextmanager
async def tls_plane(pki: Pki, *, require_node_certs: bool = True) -> AsyncIterator[TlsPlane]:
    tls, mtls = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    ca_key = pki.ca.with_name("ca-key.pem")

    def adjust(env: dict[str, str]) -> None:
        env.update(
            CAMFLEET_AGENT_LISTEN=tls,
            CAMFLEET_AGENT_TLS_CERT=str(pki.control_plane.cert),
            CAMFLEET_AGENT_TLS_KEY=str(pki.control_plane.key),
            CAMFLEET_NODE_CA_CERT=str(pki.ca),
            CAMFLEET_NODE_CA_KEY=str(ca_key),
            CAMFLEET_AGENT_MTLS_LISTEN=mtls,
            CAMFLEET_REQUIRE_NODE_CERTS="true" if require_node_certs else "false",
        )

    async with running_control_plane("sqlite", adjust) as stack:
        yield TlsPlane(stack, tls, mtls)


@asynccontextmanager
async def agent(
    plane: TlsPlane, pki: Pki, name: str, *flags: str, ready: bool = True
) -> AsyncIterator[Child]:
    """A node agent of `plane` with `flags`, joining with a fresh token; stopped by PID."""
    stack = plane.stack
    data = stack.root / name
    token = await stack.join_token()
    argv = agent_argv(
        plane.tls,
        data,
        f"127.0.0.1:{free_port()}",
        f"127.0.0.1:{free_port()}",
        name=name,
        extra=["--segment-seconds", "2", *flags],
    )
    env = {**os.environ, "CAMFLEET_JOIN_TOKEN": token, "CAMFLEET_LOG_LEVEL": "INFO"}
    log = stack.root / f"{name}.log"
    stack.logs.append(log)  # in stack.log_text(), for assertion messages
    child = start_agent(argv, env, log)
    try:
        if ready:
            await wait_agent_ready(child)
        yield child
    finally:
        child.stop(grace_s=15)


def trusting(ca: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca))


async def fetch(url: str, ca: Path) -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, ssl=trusting(ca)) as resp,
    ):
        return resp.status, await resp.read()


async def until(
    check: Callable[[], Awaitable[bool]], within_s: float, what: Callable[[], str]
) -> None:
    """Until `check()` holds; the assertion says `what()` (e.g. the logs) if it never does."""
    deadline = time.monotonic() + within_s
    while not await check():
        assert time.monotonic() < deadline, what()
        await asyncio.sleep(0.3)


async def test_an_agent_joins_over_mutual_tls_streams_and_serves_https(
    pki: Pki, tmp_path: Path
) -> None:
    mutual = ["--control-plane-ca", str(pki.ca)]
    https = ["--http-tls-cert", str(pki.node_http.cert), "--http-tls-key", str(pki.node_http.key)]
    async with tls_plane(pki) as plane:
        stack = plane.stack
        flags = [*mutual, "--control-plane-mtls", plane.mtls, *https]
        async with agent(plane, pki, "tls-node", *flags) as child:
            # The node made its key here, and holds a certificate naming its id.
            data = stack.root / "tls-node"
            key_file, cert_file = data / "node-key.pem", data / "node-cert.pem"
            assert oct(key_file.stat().st_mode & 0o777) == "0o600"
            cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
            key = serialization.load_pem_private_key(key_file.read_bytes(), None)
            spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            assert cert.public_key().public_bytes(*spki) == key.public_key().public_bytes(*spki)
            nodes = await stack.nodes.ListNodes(node_pb2.ListNodesRequest(), metadata=stack.admin)
            (node,) = nodes.nodes
            assert cert.subject.rfc4514_string() == f"CN={node.id}"
            assert child.log is not None
            log = child.log

            async def connected() -> bool:
                return f"connected to the control plane as node {node.id}" in log.read_text()

            await until(connected, 60, stack.log_text)

            async def ready() -> bool:
                got = await stack.nodes.GetNode(
                    node_pb2.GetNodeRequest(id=node.id), metadata=stack.admin
                )
                return bool(got.node.state == node_pb2.NODE_STATE_READY)

            await until(ready, 60, stack.log_text)
            camera = (
                await stack.cameras.CreateCamera(
                    camera_pb2.CreateCameraRequest(
                        camera=camera_pb2.Camera(name="tls-lobby", recording_enabled=True)
                    ),
                    metadata=stack.admin,
                )
            ).camera
            rtmp = next(
                line.split("publish to ", 1)[1].split("/<key>", 1)[0]
                for line in log.read_text().splitlines()
                if "camfleet node agent ready" in line
            )
            async with publishing(f"{rtmp}/{camera.stream_key}", 90):

                async def online() -> bool:
                    got = await stack.cameras.GetCamera(
                        camera_pb2.GetCameraRequest(id=camera.id), metadata=stack.admin
                    )
                    return bool(got.camera.status == camera_pb2.CAMERA_STATUS_ONLINE)

                await until(online, 60, stack.log_text)
                urls = await stack.cameras.GetStreamUrls(
                    camera_pb2.GetStreamUrlsRequest(id=camera.id), metadata=stack.admin
                )
                assert urls.hls_playback_url.startswith("https://127.0.0.1:"), urls
                assert urls.whep_url.startswith("https://127.0.0.1:"), urls

                playlist = b""

                async def playable() -> bool:
                    nonlocal playlist
                    status, playlist = await fetch(urls.hls_playback_url, pki.ca)
                    return status == 200 and b".ts" in playlist

                await until(playable, 30, lambda: f"no playlist over https: {playlist!r}")
                segment = next(
                    line for line in playlist.decode().splitlines() if line.endswith(".ts")
                )
                status, media = await fetch(
                    urls.hls_playback_url.rsplit("/", 1)[0] + "/" + segment, pki.ca
                )
                assert (status, media[:1]) == (200, b"G")
                # A client that does not trust the local CA refuses the node's certificate.
                with pytest.raises(aiohttp.ClientConnectorCertificateError):
                    async with aiohttp.ClientSession() as session:
                        await session.get(urls.hls_playback_url)

                listed: list[recording_pb2.Recording] = []

                async def recorded() -> bool:
                    nonlocal listed
                    resp = await recordings(stack).ListRecordings(
                        recording_pb2.ListRecordingsRequest(camera_id=camera.id),
                        metadata=stack.admin,
                    )
                    listed = list(resp.recordings)
                    return bool(listed)

                await until(recorded, 60, stack.log_text)
            download = await recordings(stack).GetDownloadUrl(
                recording_pb2.GetDownloadUrlRequest(id=listed[0].id), metadata=stack.admin
            )
            assert download.url.startswith("https://127.0.0.1:"), download
            status, media = await fetch(download.url, pki.ca)
            assert (status, media[:1]) == (200, b"G"), media[:200]


async def test_an_agent_given_another_ca_refuses_the_control_plane_and_retries(
    pki: Pki,
) -> None:
    async with (
        tls_plane(pki) as plane,
        agent(plane, pki, "misled", "--control-plane-ca", str(pki.stranger), ready=False) as child,
    ):
        assert child.log is not None
        sentence = (
            f"cannot authenticate the control plane at {plane.tls}: its TLS certificate is not "
            f"signed by the CA in --control-plane-ca ({pki.stranger})"
        )

        async def refused() -> bool:
            return sentence in child.log.read_text()  # type: ignore[union-attr]

        await until(refused, 60, child.tail)
        # It keeps trying (alive, not registered) rather than exiting or sending its token.
        await asyncio.sleep(3)
        child.check_alive()
        assert not (plane.stack.root / "misled" / "credential.json").exists()
        nodes = await plane.stack.nodes.ListNodes(
            node_pb2.ListNodesRequest(), metadata=plane.stack.admin
        )
        assert not nodes.nodes
        assert child.log.read_text().count(sentence) == 1, "logged once, not once per retry"


async def _join(plane: TlsPlane, pki: Pki, name: str, tmp: Path) -> tuple[str, str, bytes, bytes]:
    """Register `name` over the TLS listener with a CSR made in `tmp`; (node id, credential,
    key PEM, certificate PEM)."""
    data = DataDir(tmp / name)
    csr = certificate_request(data, name)
    token = await plane.stack.join_token()
    channel = grpc.aio.secure_channel(plane.tls, grpc.ssl_channel_credentials(pki.ca.read_bytes()))
    async with channel:
        resp = await agent_pb2_grpc.AgentServiceStub(channel).RegisterNode(
            agent_pb2.RegisterNodeRequest(
                join_token=token, name=name, certificate_request=csr.decode()
            )
        )
    key = (tmp / name / "node-key.pem").read_bytes()
    return resp.node_id, resp.credential, key, resp.certificate.encode()


async def _check_key(
    plane: TlsPlane, pki: Pki, target: str, credential: str, identity: tuple[bytes, bytes] | None
) -> None:
    key, cert = identity if identity else (None, None)
    creds = grpc.ssl_channel_credentials(pki.ca.read_bytes(), key, cert)
    async with grpc.aio.secure_channel(target, creds) as channel:
        await agent_pb2_grpc.AgentServiceStub(channel).CheckStreamKey(
            agent_pb2.CheckStreamKeyRequest(stream_key="k" * 20, remote_address="127.0.0.1"),
            metadata=(("authorization", f"Bearer {credential}"),),
            timeout=10,
        )


async def test_a_node_presenting_another_nodes_certificate_is_refused(
    pki: Pki, tmp_path: Path
) -> None:
    async with tls_plane(pki) as plane:
        a_id, a_cred, a_key, a_cert = await _join(plane, pki, "node-a", tmp_path)
        b_id, b_cred, _, b_cert = await _join(plane, pki, "node-b", tmp_path)
        assert x509.load_pem_x509_certificate(b_cert).subject.rfc4514_string() == f"CN={b_id}"

        # Its own certificate: the call goes through (the key is simply unknown).
        await _check_key(plane, pki, plane.mtls, a_cred, (a_key, a_cert))

        # Node B's credential over node A's certificate.
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _check_key(plane, pki, plane.mtls, b_cred, (a_key, a_cert))
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert refused.value.details() == (
            f"the TLS client certificate is node {a_id}'s, but the call carries node {b_id}'s "
            "credential: a node may only present its own certificate"
        )

        # No certificate at all, while the control plane requires them.
        with pytest.raises(grpc.aio.AioRpcError) as bare:
            await _check_key(plane, pki, plane.tls, b_cred, None)
        assert bare.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "requires node certificates" in (bare.value.details() or "")

        # A CSR this control plane cannot sign is refused before the join token is spent.
        token = await plane.stack.join_token()
        channel = grpc.aio.secure_channel(
            plane.tls, grpc.ssl_channel_credentials(pki.ca.read_bytes())
        )
        async with channel:
            stub = agent_pb2_grpc.AgentServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as bad:
                await stub.RegisterNode(
                    agent_pb2.RegisterNodeRequest(
                        join_token=token, name="node-c", certificate_request="not a CSR"
                    )
                )
            assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "not a PEM certificate request" in (bad.value.details() or "")
            data = DataDir(tmp_path / "node-c")
            good = await stub.RegisterNode(
                agent_pb2.RegisterNodeRequest(
                    join_token=token,
                    name="node-c",
                    certificate_request=certificate_request(data, "node-c").decode(),
                )
            )
            assert good.certificate.startswith("-----BEGIN CERTIFICATE-----")
