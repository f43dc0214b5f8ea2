"""Reading a test fleet (harness.fleet) as its e2e tests and bench_chaos do: poll until a
condition holds, with failures that name cameras and nodes in one line each, and the few calls
the fleet tests repeat. Calls made while a control-plane replica has just died are retried on
UNAVAILABLE, as a client does while Envoy's health checks catch up."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
from camfleet.v1 import camera_pb2, node_pb2

from harness.fleet import Fleet

C = camera_pb2
ONLINE = C.CAMERA_STATUS_ONLINE
READY = node_pb2.NODE_STATE_READY
LOST = node_pb2.NODE_STATE_LOST
T = TypeVar("T")


async def until(
    what: str, probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], within_s: float
) -> T:
    """Poll `probe` until `ok`; AssertionError naming `what` and the last value otherwise. A
    call that fails while a replica is down counts as not yet."""
    deadline = time.monotonic() + within_s
    last: object = None
    while True:
        try:
            last = value = await probe()
            if ok(value):
                return value
        except grpc.aio.AioRpcError as err:
            last = f"{err.code().name}: {err.details()}"
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {within_s:.0f} s; last: {brief(last)}")
        await asyncio.sleep(0.25)


def brief(value: object) -> object:
    """Cameras and nodes by name as one line each (status, node), not whole messages."""
    if isinstance(value, dict):
        return {k: brief(v) for k, v in value.items()}
    if isinstance(value, camera_pb2.Camera):
        status = C.CameraStatus.Name(value.status).removeprefix("CAMERA_STATUS_")
        handover = f" handover {value.handover_node_id[:8]}" if value.handover_node_id else ""
        return f"{status} on {value.node_id[:8] or '-'}{handover} {value.status_reason}".strip()
    if isinstance(value, node_pb2.Node):
        state = node_pb2.NodeState.Name(value.state).removeprefix("NODE_STATE_")
        return f"{state} {value.id[:8]} cameras={value.camera_count} drain={value.drain_remaining}"
    return value


async def retried(call: Callable[[], Awaitable[T]], within_s: float = 20.0) -> T:
    """`call`, again while it fails UNAVAILABLE (what a client does while Envoy still tries a
    replica that just died), for at most `within_s`."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            return await call()
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.25)


async def cameras(fleet: Fleet) -> dict[str, camera_pb2.Camera]:
    """Every camera by name."""
    resp = await retried(
        lambda: fleet.cameras.ListCameras(
            C.ListCamerasRequest(page_size=100), metadata=fleet.admin, timeout=10
        )
    )
    return {c.name: c for c in resp.cameras}


async def node_ids(fleet: Fleet) -> dict[str, str]:
    """Node name -> id."""
    return {name: n.id for name, n in (await retried(fleet.node_states)).items()}


async def create(fleet: Fleet, camera: camera_pb2.Camera) -> camera_pb2.Camera:
    resp = await fleet.cameras.CreateCamera(
        C.CreateCameraRequest(camera=camera), metadata=fleet.admin, timeout=15
    )
    created: camera_pb2.Camera = resp.camera
    return created


def all_online(names: list[str]) -> Callable[[dict[str, camera_pb2.Camera]], bool]:
    return lambda cams: all(cams[n].status == ONLINE and cams[n].node_id for n in names)


def placed_on(cams: dict[str, camera_pb2.Camera], names: list[str]) -> Counter[str]:
    return Counter(cams[n].node_id for n in names)
