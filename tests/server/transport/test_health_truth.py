"""grpc.health.v1 tells the truth: with PostgreSQL or Redis cut off under a running control
plane (through a proxy the test controls), Health/Check and Health/Watch say NOT_SERVING and
calls that need the store fail with UNAVAILABLE and a sentence, never INTERNAL; once the store
is back, health says SERVING again and calls work, without a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import grpc
from camfleet.v1 import auth_pb2, auth_pb2_grpc, camera_pb2, event_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from harness.tcp_proxy import CuttableProxy, cuttable_proxy
from tests.support.platform import ADMIN_PASSWORD
from tests.support.stack import Stack, running_control_plane

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
CAMERA_SERVICE = "camfleet.v1.CameraService"
# Generous: the prober looks every second; a loaded machine may be slower.
WITHIN_S = 30


async def _next_status(watch: grpc.aio.UnaryStreamCall, want: int) -> None:  # type: ignore[type-arg]
    """Read Health/Watch until it reports `want`."""
    async with asyncio.timeout(WITHIN_S):
        while True:
            reply = await watch.read()
            assert reply is not grpc.aio.EOF, "Health/Watch ended"
            if reply.status == want:
                return


async def _unavailable(call: Awaitable[object], what: str) -> None:
    """`call` fails with UNAVAILABLE and says which store (never INTERNAL or UNKNOWN)."""
    try:
        await call
    except grpc.aio.AioRpcError as err:
        assert err.code() == grpc.StatusCode.UNAVAILABLE, (err.code(), err.details())
        assert f"{what} is unavailable" in (err.details() or ""), err.details()
    else:
        raise AssertionError(f"succeeded while {what} was cut off")


async def _check(stack: Stack, service: str = "") -> int:
    assert stack.channel is not None
    health = health_pb2_grpc.HealthStub(stack.channel)
    reply = await health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
    return int(reply.status)


async def _outage_and_back(
    stack: Stack,
    proxy: CuttableProxy,
    what: str,
    needs_store: Callable[[], list[Awaitable[object]]],
) -> None:
    assert stack.channel is not None
    watch = health_pb2_grpc.HealthStub(stack.channel).Watch(health_pb2.HealthCheckRequest())
    try:
        await _next_status(watch, SERVING)
        proxy.cut()
        await _next_status(watch, NOT_SERVING)
        assert await _check(stack) == NOT_SERVING
        assert await _check(stack, CAMERA_SERVICE) == NOT_SERVING
        for call in needs_store():
            await _unavailable(call, what)

        proxy.restore()
        await _next_status(watch, SERVING)
        assert await _check(stack) == SERVING
        assert await _check(stack, CAMERA_SERVICE) == SERVING
        for call in needs_store():
            await call  # the same calls work again, without a restart
    finally:
        watch.cancel()


def _list(stack: Stack) -> Awaitable[object]:
    return stack.cameras.ListCameras(
        camera_pb2.ListCamerasRequest(page_size=10), metadata=stack.admin, timeout=20
    )


def _get(stack: Stack, camera_id: str) -> Awaitable[object]:
    return stack.cameras.GetCamera(
        camera_pb2.GetCameraRequest(id=camera_id), metadata=stack.admin, timeout=20
    )


def _login(stack: Stack) -> Awaitable[object]:
    assert stack.channel is not None
    return auth_pb2_grpc.AuthServiceStub(stack.channel).Login(
        auth_pb2.LoginRequest(username="admin", password=ADMIN_PASSWORD), timeout=20
    )


async def test_health_follows_the_database() -> None:
    with cuttable_proxy(("127.0.0.1", 5432)) as proxy:

        def through_proxy(env: dict[str, str]) -> None:
            url = env["CAMFLEET_DATABASE_URL"]
            env["CAMFLEET_DATABASE_URL"] = url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")

        async with running_control_plane("postgres", through_proxy) as stack:
            camera = await stack.new_camera("before the outage")

            def needs_database() -> list[Awaitable[object]]:
                return [_list(stack), _get(stack, camera.id), _login(stack)]

            await _outage_and_back(stack, proxy, "the database", needs_database)
            await stack.new_camera("after the outage")


async def test_health_follows_redis() -> None:
    with cuttable_proxy(("127.0.0.1", 6379)) as proxy:

        def through_proxy(env: dict[str, str]) -> None:
            env["CAMFLEET_REDIS_URL"] = f"redis://127.0.0.1:{proxy.port}/0"

        async with running_control_plane("postgres", through_proxy) as stack:
            before = await stack.revision()

            def needs_redis() -> list[Awaitable[object]]:
                return [_list(stack), _login(stack)]

            await _outage_and_back(stack, proxy, "Redis", needs_redis)
            await _created_during_an_outage_is_relayed(stack, proxy, before)


async def _created_during_an_outage_is_relayed(
    stack: Stack, proxy: CuttableProxy, before: int
) -> None:
    """A change needs only the database: made while Redis is cut off, its event waits in the
    outbox and reaches watchers once Redis is back."""
    assert stack.channel is not None
    health = health_pb2_grpc.HealthStub(stack.channel).Watch(health_pb2.HealthCheckRequest())
    proxy.cut()
    try:
        await _next_status(health, NOT_SERVING)
        camera = await stack.new_camera("made while Redis was away")
    finally:
        proxy.restore()
        health.cancel()
    call = stack.watch(before, 'type = "EVENT_TYPE_CAMERA_CREATED"')
    try:
        async with asyncio.timeout(WITHIN_S):
            async for resp in call:
                if resp.event.camera.id == camera.id:
                    assert resp.event.type == event_pb2.EVENT_TYPE_CAMERA_CREATED
                    return
    finally:
        call.cancel()
