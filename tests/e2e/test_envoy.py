"""The browser's path: grpc-web and CORS through a real Envoy, plain gRPC through it too, and
the UI's static files from the same port."""

from __future__ import annotations

import asyncio
import base64
import http.client
import ipaddress
import struct
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from camfleet.v1 import auth_pb2, auth_pb2_grpc, camera_pb2, camera_pb2_grpc

from tests.conftest import PlatformFactory
from tests.support.envoy import running_envoy
from tests.support.grpc_web import grpc_web_call as _grpc_web_call
from tests.support.platform import ADMIN_PASSWORD, Platform
from tests.support.ui_server import ASSET, INDEX_HTML, make_dist, running_ui_server

# A page served elsewhere that may call the API (vite's dev server): allowed by configuration
# (CAMFLEET_CORS_ORIGINS), as every origin but the UI's own must be.
DEV_ORIGIN = "http://127.0.0.1:5173"


@pytest.fixture
async def envoy_port(platform: Platform, tmp_path: Path) -> AsyncIterator[int]:
    async with running_envoy(
        [("127.0.0.1", platform.plane.port)], tmp_path, cors_origins=[DEV_ORIGIN]
    ) as port:
        yield port


async def test_grpc_web_login_and_list_through_envoy(envoy_port: int) -> None:
    login = auth_pb2.LoginRequest(username="admin", password=ADMIN_PASSWORD).SerializeToString()
    status, _, frames, trailers = await asyncio.to_thread(
        _grpc_web_call, envoy_port, "/camfleet.v1.AuthService/Login", login, {}
    )
    assert status == 200 and trailers.get("grpc-status") == "0", trailers
    token = auth_pb2.LoginResponse.FromString(frames[0]).tokens.access_token
    status, _, frames, trailers = await asyncio.to_thread(
        _grpc_web_call,
        envoy_port,
        "/camfleet.v1.CameraService/ListCameras",
        camera_pb2.ListCamerasRequest(page_size=5).SerializeToString(),
        {"authorization": f"Bearer {token}"},
    )
    assert trailers.get("grpc-status") == "0", trailers
    assert camera_pb2.ListCamerasResponse.FromString(frames[0]).total_size >= 0


async def test_grpc_web_errors_carry_status_message_and_details(envoy_port: int) -> None:
    status, headers, frames, trailers = await asyncio.to_thread(
        _grpc_web_call, envoy_port, "/camfleet.v1.CameraService/ListCameras", b"", {}
    )
    assert status == 200 and frames == []  # grpc-web: the error is in the status, not HTTP
    # Errors may come in trailers or, without a body, in the headers: a client reads both.
    meta = {**headers, **trailers}
    assert meta["grpc-status"] == str(grpc.StatusCode.UNAUTHENTICATED.value[0])
    assert "needs a credential" in urllib.parse.unquote(meta["grpc-message"])
    assert base64.b64decode(meta["grpc-status-details-bin"] + "==")


async def test_cors_preflight_allows_the_browser_headers(envoy_port: int) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{envoy_port}/camfleet.v1.CameraService/ListCameras",
        method="OPTIONS",
        headers={
            "origin": DEV_ORIGIN,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization,content-type,x-grpc-web,x-user-agent",
        },
    )
    resp = await asyncio.to_thread(urllib.request.urlopen, request, timeout=10)
    allowed = resp.headers["access-control-allow-headers"]
    for header in ("authorization", "x-grpc-web", "x-user-agent", "grpc-timeout"):
        assert header in allowed
    assert resp.headers["access-control-allow-origin"] == DEV_ORIGIN
    assert "grpc-status-details-bin" in resp.headers["access-control-expose-headers"]


async def test_plain_grpc_through_the_same_listener(envoy_port: int, platform: Platform) -> None:
    camera = await platform.new_camera()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{envoy_port}") as channel:
        login = await auth_pb2_grpc.AuthServiceStub(channel).Login(
            auth_pb2.LoginRequest(username="admin", password=ADMIN_PASSWORD)
        )
        got = await camera_pb2_grpc.CameraServiceStub(channel).GetCamera(
            camera_pb2.GetCameraRequest(id=camera.id),
            metadata=(("authorization", f"Bearer {login.tokens.access_token}"),),
        )
    assert got.camera.name == camera.name


def test_compose_config_is_valid_for_envoy(tmp_path: Path) -> None:
    from harness.processes import ROOT
    from server.tls.ca import ensure_certificate
    from tests.support.assertions import runs_cleanly
    from tests.support.envoy import envoy_binary

    # Its TLS certificate comes from compose's `tls` volume (/etc/camfleet/tls): made here.
    ensure_certificate(tmp_path / "tls", ["cams.example", "envoy"], "edge")
    config = tmp_path / "envoy.yaml"
    config.write_text(
        (ROOT / "envoy" / "envoy.yaml")
        .read_text()
        .replace("/etc/camfleet/tls/", f"{tmp_path / 'tls'}/")
    )
    runs_cleanly(
        [envoy_binary(), "--mode", "validate", "-c", str(config), "--disable-hot-restart"],
        timeout_s=60,
    )


def _grpc_web_from(source: str, port: int, method: str, message: bytes) -> dict[str, str]:
    """A grpc-web call whose TCP connection starts from loopback address `source`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        conn.request(
            "POST",
            method,
            body=struct.pack(">BI", 0, len(message)) + message,
            headers={"content-type": "application/grpc-web+proto", "x-grpc-web": "1"},
        )
        resp = conn.getresponse()
        resp.read()
        return {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


async def test_audit_shows_the_browser_address_behind_a_trusted_proxy(
    make_platform: PlatformFactory, tmp_path: Path
) -> None:
    behind = await make_platform(trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),))
    bad = auth_pb2.LoginRequest(username="admin", password="not-it").SerializeToString()
    async with running_envoy([("127.0.0.1", behind.plane.port)], tmp_path) as port:
        await asyncio.to_thread(
            _grpc_web_from, "127.0.0.2", port, "/camfleet.v1.AuthService/Login", bad
        )
    failed = await behind.audit_logs('action = "auth.login_failed"')
    assert [a.source_address for a in failed] == ["127.0.0.2"]


async def test_a_direct_client_cannot_claim_another_address(platform: Platform) -> None:
    name = f"nobody-{id(platform)}-{asyncio.get_running_loop().time()}"
    with pytest.raises(grpc.aio.AioRpcError):
        await platform.auth.Login(
            auth_pb2.LoginRequest(username=name, password="not-it"),
            metadata=(("x-forwarded-for", "127.0.0.9"),),
        )
    failed = await platform.audit_logs(f'action = "auth.login_failed" AND actor = "{name}"')
    assert [a.source_address for a in failed] == ["127.0.0.1"]


def test_compose_node_agent_reaches_the_control_planes_beside_envoy() -> None:
    """As ./start's agent: the replicas' own TLS agent listeners (at `control-plane`, their
    shared alias), not Envoy, which terminates TLS and could not pass on a node certificate.
    (Every variable compose sets, and its TLS files: tests/deploy/test_compose_settings.py.)"""
    import yaml

    from harness.processes import ROOT

    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    agent = compose["services"]["node-agent"]
    assert agent["environment"]["CAMFLEET_CONTROL_PLANE"] == "control-plane:50052"
    assert agent["environment"]["CAMFLEET_CONTROL_PLANE_MTLS"] == "control-plane:50053"
    assert "create-join-token" in " ".join(compose["services"]["join-token"]["entrypoint"])


@pytest.fixture
async def envoy_with_ui(platform: Platform, tmp_path: Path) -> AsyncIterator[int]:
    """Envoy as ./start and compose run it: gRPC to the control plane, the rest to the UI."""
    with running_ui_server(make_dist(tmp_path)) as ui:
        async with running_envoy([("127.0.0.1", platform.plane.port)], tmp_path, ui=ui) as port:
            yield port


def _get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


async def test_the_ui_grpc_web_and_grpc_share_one_port(envoy_with_ui: int) -> None:
    port = envoy_with_ui
    status, headers, body = await asyncio.to_thread(_get, port, "/")
    assert (status, body.decode()) == (200, INDEX_HTML)
    assert headers["cache-control"] == "no-cache"
    status, headers, _ = await asyncio.to_thread(_get, port, f"/{ASSET}")
    assert status == 200 and headers["content-type"].startswith("text/javascript")
    assert "immutable" in headers["cache-control"]
    # A client-side route reloaded in the browser still gets the app.
    status, _, body = await asyncio.to_thread(_get, port, "/cameras/some-id")
    assert (status, body.decode()) == (200, INDEX_HTML)

    login = auth_pb2.LoginRequest(username="admin", password=ADMIN_PASSWORD).SerializeToString()
    status, _, frames, trailers = await asyncio.to_thread(
        _grpc_web_call, port, "/camfleet.v1.AuthService/Login", login, {}
    )
    assert trailers.get("grpc-status") == "0", trailers
    assert auth_pb2.LoginResponse.FromString(frames[0]).tokens.access_token
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        reply = await auth_pb2_grpc.AuthServiceStub(channel).Login(
            auth_pb2.LoginRequest(username="admin", password=ADMIN_PASSWORD)
        )
    assert reply.tokens.access_token


async def test_an_unknown_rpc_is_a_grpc_error_not_the_ui(envoy_with_ui: int) -> None:
    _, headers, _, trailers = await asyncio.to_thread(
        _grpc_web_call, envoy_with_ui, "/camfleet.v1.CameraService/NoSuchMethod", b"", {}
    )
    meta = {**headers, **trailers}
    assert meta["grpc-status"] == str(grpc.StatusCode.UNIMPLEMENTED.value[0])
    assert not headers["content-type"].startswith("text/html")


def test_compose_runs_the_ui_where_envoy_sends_it() -> None:
    """Envoy's UI cluster names the compose `ui` service and its port, and that service serves
    the directory the image builds the UI into."""
    import yaml

    from harness.processes import ROOT
    from scripts.envoy_config import TEMPLATE

    envoy = yaml.safe_load(TEMPLATE.read_text())
    (ui,) = [c for c in envoy["static_resources"]["clusters"] if c["name"] == "ui"]
    (endpoint,) = ui["load_assignment"]["endpoints"][0]["lb_endpoints"]
    address = endpoint["endpoint"]["address"]["socket_address"]
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    service = compose["services"][address["address"]]
    assert service["entrypoint"] == ["python", "-m", "server.ui"]
    assert service["environment"]["CAMFLEET_UI_LISTEN"] == f"0.0.0.0:{address['port_value']}"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"/src/clients/web/dist {service['environment']['CAMFLEET_UI_DIST']}" in dockerfile
    routes = envoy["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    matches = [
        (r["match"].get("prefix") or r["match"]["path"], r["route"]["cluster"])
        for r in routes["typed_config"]["route_config"]["virtual_hosts"][0]["routes"]
    ]
    # gRPC first (streaming RPCs by name, then the rest): the UI's catch-all must never shadow
    # an RPC.
    assert matches[-1] == ("/", "ui")
    assert {cluster for _, cluster in matches[:-1]} == {"control_plane"}
    assert {"/camfleet.v1.", "/grpc."} <= {match for match, _ in matches}
