"""The gRPC metrics on /metrics count what callers saw: a known number of calls by status code
(the guard's refusals included), streams with their messages, every method pre-initialised at
0, no listener at all unless --metrics-listen names one, and a clear sentence for an address
that cannot be used."""

from __future__ import annotations

import asyncio
import secrets
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import grpc
import pytest
from camfleet.v1 import camera_pb2, camera_pb2_grpc, common_pb2, event_pb2, event_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from config_options import ConfigError
from server.app import start
from server.backends import StartupError
from server.config import load_settings
from tests.conftest import BACKENDS, backend_settings
from tests.support.platform import Platform, settings_for_tests, start_platform, stop_platform

CAMERA = "camfleet.v1.CameraService"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module", params=BACKENDS)
async def metered(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Platform]:
    """A control plane of its own with /metrics on an ephemeral loopback port."""
    settings = backend_settings(
        request.param,
        tmp_path_factory.mktemp(f"metrics-{request.param}"),
        request,
        metrics_listen="127.0.0.1:0",
    )
    plane = await start_platform(settings, request.param)
    yield plane
    await stop_platform(plane)


async def scrape(plane: Platform, path: str = "/metrics") -> tuple[int, str]:
    """Status and body of GET `path` on the plane's metrics listener."""
    assert plane.plane.metrics is not None
    url = f"http://127.0.0.1:{plane.plane.metrics.port}{path}"
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return resp.status, await resp.text()


async def samples(plane: Platform) -> Samples:
    """Every sample of a scrape by (name, labels)."""
    status, body = await scrape(plane)
    assert status == 200, body
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    """The sample `name` with exactly `labels` (the test fails when it is absent)."""
    key = (name, frozenset(labels.items()))
    assert key in found, f"no sample {name}{labels}"
    return found[key]


def handled(found: Samples, method: str, code: str, service: str = CAMERA) -> float:
    return value(
        found,
        "grpc_server_handled_total",
        grpc_type="unary",
        grpc_service=service,
        grpc_method=method,
        grpc_code=code,
    )


def unary(found: Samples, name: str, method: str) -> float:
    return value(found, name, grpc_type="unary", grpc_service=CAMERA, grpc_method=method)


async def _code_of(call: object) -> str:
    try:
        await call  # type: ignore[misc]
    except grpc.aio.AioRpcError as err:
        return err.code().name
    return "OK"


async def test_calls_are_counted_by_the_code_the_caller_got(metered: Platform) -> None:
    stub = camera_pb2_grpc.CameraServiceStub(metered.channel)
    camera = await metered.new_camera()
    viewer = await metered.as_role(common_pb2.ROLE_VIEWER)
    before = await samples(metered)
    get, admin = stub.GetCamera, metered.admin
    known = camera_pb2.GetCameraRequest(id=camera.id)
    calls = {
        "OK": [lambda: get(known, metadata=admin)] * 2,
        "NOT_FOUND": [
            lambda: get(camera_pb2.GetCameraRequest(id=str(uuid.uuid4())), metadata=admin)
        ]
        * 3,
        "INVALID_ARGUMENT": [
            lambda: get(camera_pb2.GetCameraRequest(id="not-an-id"), metadata=admin)
        ],
        "UNAUTHENTICATED": [
            lambda: get(known),
            lambda: get(known, metadata=(("authorization", "Bearer not-a-token"),)),
        ],
    }
    for code, makers in calls.items():
        for make in makers:
            assert await _code_of(make()) == code
    denied = stub.CreateCamera(
        camera_pb2.CreateCameraRequest(camera=camera_pb2.Camera(name=f"x-{secrets.token_hex(4)}")),
        metadata=viewer,
    )
    assert await _code_of(denied) == "PERMISSION_DENIED"
    after = await samples(metered)

    want = {"OK": 2, "NOT_FOUND": 3, "INVALID_ARGUMENT": 1, "UNAUTHENTICATED": 2}
    for code, n in want.items():
        delta = handled(after, "GetCamera", code) - handled(before, "GetCamera", code)
        assert delta == n, f"GetCamera {code}: {delta}, not {n}"
    assert handled(after, "GetCamera", "INTERNAL") == handled(before, "GetCamera", "INTERNAL")
    assert handled(after, "GetCamera", "UNKNOWN") == handled(before, "GetCamera", "UNKNOWN")
    denied_delta = handled(after, "CreateCamera", "PERMISSION_DENIED") - handled(
        before, "CreateCamera", "PERMISSION_DENIED"
    )
    assert denied_delta == 1
    total = sum(want.values())
    for name in (
        "grpc_server_started_total",
        "grpc_server_msg_received_total",
        "grpc_server_handling_seconds_count",
    ):
        assert unary(after, name, "GetCamera") - unary(before, name, "GetCamera") == total, name
    # Only answered calls send a message.
    sent = unary(after, "grpc_server_msg_sent_total", "GetCamera") - unary(
        before, "grpc_server_msg_sent_total", "GetCamera"
    )
    assert sent == want["OK"]
    inf = value(
        after,
        "grpc_server_handling_seconds_bucket",
        grpc_type="unary",
        grpc_service=CAMERA,
        grpc_method="GetCamera",
        le="+Inf",
    )
    assert inf == unary(after, "grpc_server_handling_seconds_count", "GetCamera")


async def test_every_method_is_there_before_its_first_call(metered: Platform) -> None:
    found = await samples(metered)
    for code in ("OK", "NOT_FOUND", "PERMISSION_DENIED", "UNAVAILABLE"):
        assert handled(found, "DeleteCamera", code) >= 0
    assert (
        value(
            found,
            "grpc_server_started_total",
            grpc_type="bidi_stream",
            grpc_service="camfleet.v1.AgentService",
            grpc_method="Connect",
        )
        == 0
    )
    for service, method, kind in (
        ("camfleet.v1.EventService", "WatchEvents", "server_stream"),
        ("camfleet.v1.AlertService", "ListAlerts", "unary"),
        ("grpc.health.v1.Health", "Watch", "server_stream"),
    ):
        labels = {"grpc_type": kind, "grpc_service": service, "grpc_method": method}
        assert value(found, "grpc_server_handled_total", grpc_code="OK", **labels) >= 0
        assert value(found, "grpc_server_handling_seconds_bucket", le="0.005", **labels) >= 0


async def test_a_stream_counts_its_messages_and_how_it_ended(metered: Platform) -> None:
    watch_labels = {
        "grpc_type": "server_stream",
        "grpc_service": "camfleet.v1.EventService",
        "grpc_method": "WatchEvents",
    }
    before = await samples(metered)
    revision = (
        await metered.cameras.ListCameras(
            camera_pb2.ListCamerasRequest(page_size=1), metadata=metered.admin
        )
    ).revision
    call = event_pb2_grpc.EventServiceStub(metered.channel).WatchEvents(
        event_pb2.WatchEventsRequest(after_revision=revision), metadata=metered.admin
    )
    created = [await metered.new_camera() for _ in range(2)]
    ids = {c.id for c in created}
    seen = 0
    async with asyncio.timeout(30):
        async for resp in call:
            seen += 1
            ids.discard(resp.event.subject.rsplit("/", 1)[-1])
            if not ids:
                break
    during = await samples(metered)
    assert value(during, "camfleet_watchers") >= 1
    call.cancel()
    # The server learns of the cancel asynchronously: wait for the count to move.
    async with asyncio.timeout(30):
        while True:
            after = await samples(metered)
            cancelled = value(
                after, "grpc_server_handled_total", grpc_code="CANCELLED", **watch_labels
            ) - value(before, "grpc_server_handled_total", grpc_code="CANCELLED", **watch_labels)
            if cancelled:
                break
            await asyncio.sleep(0.1)
    assert cancelled == 1
    started = value(after, "grpc_server_started_total", **watch_labels) - value(
        before, "grpc_server_started_total", **watch_labels
    )
    assert started == 1
    sent = value(after, "grpc_server_msg_sent_total", **watch_labels) - value(
        before, "grpc_server_msg_sent_total", **watch_labels
    )
    assert sent >= seen


async def test_only_metrics_is_served(metered: Platform) -> None:
    status, _ = await scrape(metered, "/")
    assert status == 404
    status, _ = await scrape(metered, "/metrics/../debug")
    assert status == 404


async def test_no_listener_unless_one_is_configured(platform: Platform) -> None:
    assert platform.settings.metrics_listen == ""
    assert platform.plane.metrics is None


def test_the_listen_address_is_checked_when_read(tmp_path: Path) -> None:
    _, settings = load_settings([], {"CAMFLEET_METRICS_LISTEN": "127.0.0.1:9464"})
    assert settings.metrics_listen == "127.0.0.1:9464"
    for bad in ("9464", "localhost", "127.0.0.1:0x10", "127.0.0.1:70000", "::1:9464"):
        with pytest.raises(ConfigError, match="CAMFLEET_METRICS_LISTEN"):
            load_settings([], {"CAMFLEET_METRICS_LISTEN": bad})


async def test_an_address_in_use_stops_the_start_with_a_sentence(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = settings_for_tests(tmp_path, metrics_listen=f"127.0.0.1:{port}")
        with pytest.raises(StartupError, match=f"CAMFLEET_METRICS_LISTEN 127.0.0.1:{port}"):
            await start(settings)
