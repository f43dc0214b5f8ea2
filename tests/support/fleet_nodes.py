"""Several node agents of one control plane on loopback (tests/support/stack.py runs one), and
waiting on what the API says about cameras and nodes. Every agent is a real `python -m
node_agent` with its nginx, ended by PID (the test's Stack or `stop_all`)."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from camfleet.v1 import camera_pb2, node_pb2

from harness.agents import agent_argv, start_agent, wait_agent_ready
from harness.ports import free_port
from harness.processes import Child
from tests.support.stack import Stack

T = TypeVar("T")


@dataclass
class FleetAgent:
    """One running agent and the node it registered as."""

    name: str
    child: Child
    node_id: str


def unique_name(prefix: str) -> str:
    """`prefix` and a random suffix: names stay unique on a shared plane."""
    return f"{prefix}-{secrets.token_hex(3)}"


async def start_fleet_agent(stack: Stack, name: str, extra: Sequence[str] = ()) -> FleetAgent:
    """Register and start an agent named `name` on the stack's control plane; wait until its
    node is READY."""
    data_dir = stack.root / name
    env = {"CAMFLEET_LOG_LEVEL": "INFO"}
    if not (data_dir / "credential.json").exists():
        env["CAMFLEET_JOIN_TOKEN"] = await stack.join_token()
    argv = agent_argv(
        stack.target,
        data_dir,
        f"127.0.0.1:{free_port()}",
        f"127.0.0.1:{free_port()}",
        name=name,
        extra=list(extra),
    )
    child = start_agent(argv, {**os.environ, **env}, stack._new_log(name))
    await wait_agent_ready(child)
    node = await eventually(lambda: ready_node(stack, name), what=f"node {name} READY")
    return FleetAgent(name, child, node.id)


async def ready_node(stack: Stack, name: str) -> node_pb2.Node | None:
    """The node named `name` if it is READY."""
    for node in await list_nodes(stack):
        if node.name == name and node.state == node_pb2.NODE_STATE_READY:
            return node
    return None


async def list_nodes(stack: Stack) -> list[node_pb2.Node]:
    resp = await stack.nodes.ListNodes(
        node_pb2.ListNodesRequest(page_size=100), metadata=stack.admin
    )
    return list(resp.nodes)


async def get_camera(stack: Stack, camera_id: str) -> camera_pb2.Camera:
    resp = await stack.cameras.GetCamera(
        camera_pb2.GetCameraRequest(id=camera_id), metadata=stack.admin
    )
    return resp.camera


async def new_pull_camera(
    stack: Stack, name: str, source_url: str, selector: dict[str, str] | None = None
) -> camera_pb2.Camera:
    resp = await stack.cameras.CreateCamera(
        camera_pb2.CreateCameraRequest(
            camera=camera_pb2.Camera(
                name=name,
                ingest_mode=camera_pb2.INGEST_MODE_PULL,
                source_url=source_url,
                node_selector=selector or {},
            )
        ),
        metadata=stack.admin,
    )
    return resp.camera


async def placements(stack: Stack, camera_id: str) -> list[camera_pb2.Placement]:
    """The camera's placement history, newest first."""
    resp = await stack.cameras.ListPlacements(
        camera_pb2.ListPlacementsRequest(camera_id=camera_id, page_size=100), metadata=stack.admin
    )
    return list(resp.placements)


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, what: str, within_s: float = 60.0
) -> T:
    """Poll `probe` until it returns something other than None/False; AssertionError naming
    `what` after `within_s` (a generous timeout, not a measurement)."""
    deadline = time.monotonic() + within_s
    while True:
        value = await probe()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within_s:.0f} s")
        await asyncio.sleep(0.2)


def stop_all(agents: Sequence[FleetAgent]) -> None:
    """End every agent by PID (its nginx follows)."""
    for agent in agents:
        agent.child.stop(grace_s=15)
