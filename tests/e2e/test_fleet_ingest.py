"""End to end, the fleet ingest: two node agents on loopback behind Envoy's RTMP proxy
(harness.ingest, rendered from envoy/envoy.yaml), a camera told the ingest's URL publishing an
ffmpeg test pattern through it and reconnecting whenever its connection ends, as cameras do.
The agent it landed on is killed with its whole process group (kill -9); the camera, republishing
through Envoy, lands on the other node, which takes its key from the control plane, and goes
ONLINE there, homed there by a `published` placement; the segments each node recorded carry
the placement epoch they were recorded under.

Everything runs as real processes (control plane, agents, nginx, Envoy, ffmpeg) on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml
from camfleet.v1 import camera_pb2, node_pb2, recording_pb2, stream_pb2

from harness.agents import agent_argv, start_agent, wait_agent_ready
from harness.ingest import INGEST_CLUSTER, INGEST_LISTENER, TEMPLATE, Address, running_ingest
from harness.ports import free_port
from harness.processes import (
    ROOT,
    Child,
    kill_survivors,
    process_tree,
    stop_by_pid,
    survivors_after,
)
from scripts.envoy_config import render
from tests.support.agent_node import ffmpeg_publish_argv
from tests.support.recordings import all_recordings
from tests.support.stack import Stack, recordings, running_control_plane

pytestmark = pytest.mark.timeout(300)

# Short segments: each node's first recording is listed within seconds.
AGENT_FLAGS = ("--segment-seconds", "2")
ENVOY_SOURCE = "127.0.0.3"


@dataclass
class Camera:
    """A camera that publishes to `url` and, whenever its connection ends, publishes again a
    moment later (as an IP camera does); ended by PID."""

    url: str
    connects: int = 0
    proc: subprocess.Popen[bytes] | None = None
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    async def _run(self) -> None:
        while True:
            self.connects += 1
            self.proc = subprocess.Popen(
                ffmpeg_publish_argv(self.url, seconds=600),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            # Ended by the node or Envoy closing its connection (or by the test, by PID).
            await asyncio.to_thread(self.proc.wait)
            await asyncio.sleep(0.5)


@asynccontextmanager
async def reconnecting_camera(url: str) -> AsyncIterator[Camera]:
    camera = Camera(url)
    camera._task = asyncio.create_task(camera._run())
    try:
        yield camera
    finally:
        camera._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await camera._task
        if camera.proc is not None:
            stop_by_pid(camera.proc, grace_s=5)


@dataclass
class FleetNode:
    name: str
    # Its fleet-ingest listener (PROXY protocol), which Envoy connects to.
    rtmp: Address
    agent: Child
    node_id: str = ""


async def start_node(stack: Stack, name: str, rtmp: Address, ingest_url: str) -> FleetNode:
    """An agent registering as `name`, its ingest listener on `rtmp`, telling cameras the
    ingest's URL."""
    flags = ["--ingest-listen", f"{rtmp[0]}:{rtmp[1]}", "--public-rtmp-url", ingest_url]
    argv = agent_argv(
        stack.target,
        stack.root / name,
        f"127.0.0.1:{free_port()}",
        f"127.0.0.1:{free_port()}",
        name=name,
        extra=[*AGENT_FLAGS, *flags, "--label", f"name={name}"],
    )
    env = {**os.environ, "CAMFLEET_JOIN_TOKEN": await stack.join_token()}
    agent = start_agent(argv, env, stack.root / f"{name}.log")
    stack.logs.append(stack.root / f"{name}.log")
    return FleetNode(name, rtmp, agent)


async def camera_now(stack: Stack, camera_id: str) -> camera_pb2.Camera:
    resp = await stack.cameras.GetCamera(
        camera_pb2.GetCameraRequest(id=camera_id), metadata=stack.admin
    )
    return resp.camera


async def online_on(
    stack: Stack, camera_id: str, node_ids: set[str], within_s: float
) -> camera_pb2.Camera:
    """The camera once the API shows it ONLINE on one of `node_ids`."""
    deadline = time.monotonic() + within_s
    while True:
        camera = await camera_now(stack, camera_id)
        if camera.status == camera_pb2.CAMERA_STATUS_ONLINE and camera.node_id in node_ids:
            return camera
        if time.monotonic() > deadline:
            raise AssertionError(
                f"camera not ONLINE on {sorted(node_ids)} after {within_s:.0f} s: "
                f"{camera_pb2.CameraStatus.Name(camera.status)} on {camera.node_id!r} "
                f"({camera.status_reason})\n{stack.log_text()}"
            )
        await asyncio.sleep(0.2)


async def recorded_on(
    stack: Stack, camera_id: str, node_id: str, within_s: float = 60
) -> list[recording_pb2.Recording]:
    """The camera's recordings by `node_id`, once there is at least one."""
    deadline = time.monotonic() + within_s
    while True:
        request = recording_pb2.ListRecordingsRequest(camera_id=camera_id)
        listed = await all_recordings(recordings(stack), request, stack.admin)
        mine = [r for r in listed if r.node_id == node_id]
        if mine:
            return mine
        assert time.monotonic() < deadline, f"nothing recorded on {node_id}\n{stack.log_text()}"
        await asyncio.sleep(0.5)


async def test_a_push_camera_republishing_through_the_ingest_moves_to_the_live_node() -> None:
    async with running_control_plane("sqlite") as stack:
        addresses = [("127.0.0.1", free_port()), ("127.0.0.1", free_port())]
        killed: dict[int, str] = {}
        # Envoy connects to the nodes from another loopback address than the camera's.
        async with running_ingest(
            addresses, stack.root / "ingest", wait_healthy=0, source=ENVOY_SOURCE
        ) as ingest:
            nodes = [
                await start_node(stack, f"ingest-node-{i}", address, ingest.url)
                for i, address in enumerate(addresses)
            ]
            try:
                for node in nodes:
                    await wait_agent_ready(node.agent)
                    await ingest.wait_health(node.rtmp, healthy=True)
                listed = await stack.nodes.ListNodes(
                    node_pb2.ListNodesRequest(page_size=10), metadata=stack.admin
                )
                by_name = {n.name: n for n in listed.nodes}
                for node in nodes:
                    node.node_id = by_name[node.name].id
                    assert dict(by_name[node.name].labels) == {"name": node.name}
                created = await stack.cameras.CreateCamera(
                    camera_pb2.CreateCameraRequest(
                        camera=camera_pb2.Camera(name="through-the-ingest", recording_enabled=True)
                    ),
                    metadata=stack.admin,
                )
                camera = created.camera
                urls = await stack.cameras.GetStreamUrls(
                    camera_pb2.GetStreamUrlsRequest(id=camera.id), metadata=stack.admin
                )
                # Cameras are told the fleet ingest, never one node's own listener.
                assert urls.rtmp_publish_url == f"{ingest.url}/{camera.stream_key}"

                async with reconnecting_camera(urls.rtmp_publish_url) as publisher:
                    first = await online_on(
                        stack, camera.id, {n.node_id for n in nodes}, within_s=60
                    )
                    (victim,) = [n for n in nodes if n.node_id == first.node_id]
                    (survivor,) = [n for n in nodes if n is not victim]
                    # Nodes see the camera's own address (PROXY protocol), not Envoy's.
                    history = await stack.streams.ListStreamEvents(
                        stream_pb2.ListStreamEventsRequest(camera_id=camera.id),
                        metadata=stack.admin,
                    )
                    publishes = [
                        e.remote_address
                        for e in history.events
                        if e.type == stream_pb2.STREAM_EVENT_TYPE_PUBLISH
                    ]
                    assert publishes and set(publishes) == {"127.0.0.1"}, publishes
                    # Segments carry the placement epoch they were recorded under.
                    before = await recorded_on(stack, camera.id, victim.node_id)
                    assert {r.epoch for r in before} == {first.placement_epoch}
                    killed = process_tree(victim.agent.pid)
                    connects_before = publisher.connects

                    # The agent and everything in its process group die at once; its nginx,
                    # in a group of its own, follows by its parent-death signal.
                    os.killpg(os.getpgid(victim.agent.pid), signal.SIGKILL)
                    victim.agent.proc.wait()
                    assert await survivors_after(killed, within_s=15) == []

                    moved = await online_on(stack, camera.id, {survivor.node_id}, within_s=60)
                    assert publisher.connects > connects_before
                    # Envoy no longer sends cameras to the dead node.
                    await ingest.wait_health(victim.rtmp, healthy=False, within_s=10)
                    after = await recorded_on(stack, camera.id, survivor.node_id)
                    assert {r.epoch for r in after} == {moved.placement_epoch}

                history = await stack.cameras.ListPlacements(
                    camera_pb2.ListPlacementsRequest(camera_id=camera.id), metadata=stack.admin
                )
                latest = history.placements[0]
                assert (latest.from_node_id, latest.to_node_id) == (
                    victim.node_id,
                    survivor.node_id,
                )
                assert latest.reason == camera_pb2.PLACEMENT_REASON_PUBLISHED
                assert latest.epoch == moved.placement_epoch > first.placement_epoch
            finally:
                for node in nodes:
                    node.agent.stop(grace_s=15)
                kill_survivors(killed)


# ----- the same proxy in ./start and compose --------------------------------------------------


def _ingest_parts(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    resources = config["static_resources"]
    (listener,) = [x for x in resources["listeners"] if x["name"] == INGEST_LISTENER]
    (cluster,) = [x for x in resources["clusters"] if x["name"] == INGEST_CLUSTER]
    return listener, cluster


def test_the_ingest_health_checks_every_node_each_second() -> None:
    _, cluster = _ingest_parts(yaml.safe_load(TEMPLATE.read_text()))
    [check] = cluster["health_checks"]
    assert "tcp_health_check" in check
    assert (check["interval"], check["timeout"], cluster["connect_timeout"]) == ("1s",) * 3
    assert (check["unhealthy_threshold"], check["healthy_threshold"]) == (2, 1)
    # Envoy's default 60 s would leave a node that was down at the first check out for a minute.
    assert check["no_traffic_interval"] == "1s"
    # A node cut off (no TCP reset) loses its cameras' connections, so they reconnect elsewhere.
    assert cluster["close_connections_on_host_health_failure"] is True


def test_start_renders_the_api_edge_with_the_ingest_and_tests_without() -> None:
    nodes = [("127.0.0.1", 19351), ("10.213.0.11", 1935)]
    with_ingest = render(
        ("127.0.0.1", 8080), "admin.sock", [("127.0.0.1", 50051)],
        rtmp_listen=("127.0.0.1", 1935), rtmp_nodes=nodes,
    )  # fmt: skip
    listener, cluster = _ingest_parts(with_ingest)
    assert listener["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": 1935}
    endpoints = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
    assert [tuple(e["endpoint"]["address"]["socket_address"].values()) for e in endpoints] == nodes
    api_only = render(("127.0.0.1", 8080), "admin.sock", [("127.0.0.1", 50051)])
    assert [x["name"] for x in api_only["static_resources"]["listeners"]] == ["api"]
    assert INGEST_CLUSTER not in [x["name"] for x in api_only["static_resources"]["clusters"]]


def test_compose_publishes_the_ingest_and_not_the_nodes_rtmp() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert "1935:1935" in services["envoy"]["ports"]
    agent = services["node-agent"]
    assert not [p for p in agent["ports"] if p.endswith(":1935")]
    _, cluster = _ingest_parts(yaml.safe_load(TEMPLATE.read_text()))
    [node] = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
    address = node["endpoint"]["address"]["socket_address"]
    assert address["address"] == "node-agent"
    listen_port = int(agent["environment"]["CAMFLEET_INGEST_LISTEN"].rsplit(":", 1)[1])
    assert address["port_value"] == listen_port
    told = agent["environment"]["CAMFLEET_PUBLIC_RTMP_URL"]
    assert told.endswith(":1935/live")
    for replica in ("control-plane-1", "control-plane-2"):
        assert services[replica]["environment"]["CAMFLEET_INGEST_RTMP_URL"] == told
