"""What the fleet browser tests set up or check behind the browser's back, over plain gRPC to
`./start`'s control plane as admin: nodes and cameras by name, pull cameras, segment counts, and
a second node agent joining the platform (stopped by PID at the end)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
from camfleet.v1 import (
    camera_pb2,
    camera_pb2_grpc,
    node_pb2,
    node_pb2_grpc,
    recording_pb2,
    recording_pb2_grpc,
)

from harness.agents import READY as AGENT_READY
from harness.agents import agent_argv, start_agent
from harness.ports import free_port
from tests.browser.helpers import admin_rpc, wait_for
from tests.support.local_platform import LocalPlatform

NODE = "local"  # the agent ./start runs


def node_named(platform: LocalPlatform, name: str = NODE) -> node_pb2.Node:
    with admin_rpc(platform) as (channel, auth):
        nodes = node_pb2_grpc.NodeServiceStub(channel).ListNodes(
            node_pb2.ListNodesRequest(page_size=100), metadata=auth, timeout=30
        )
    [node] = [n for n in nodes.nodes if n.name == name]
    return node


def camera_named(platform: LocalPlatform, name: str) -> camera_pb2.Camera | None:
    with admin_rpc(platform) as (channel, auth):
        found = camera_pb2_grpc.CameraServiceStub(channel).ListCameras(
            camera_pb2.ListCamerasRequest(filter=f'name = "{name}"'), metadata=auth, timeout=30
        )
    return found.cameras[0] if found.cameras else None


def create_pull_camera(platform: LocalPlatform, name: str, url: str) -> camera_pb2.Camera:
    with admin_rpc(platform) as (channel, auth):
        return (
            camera_pb2_grpc.CameraServiceStub(channel)
            .CreateCamera(
                camera_pb2.CreateCameraRequest(
                    camera=camera_pb2.Camera(
                        name=name, ingest_mode=camera_pb2.INGEST_MODE_PULL, source_url=url
                    )
                ),
                metadata=auth,
                timeout=30,
            )
            .camera
        )


def publish_url(platform: LocalPlatform, camera_id: str) -> str:
    with admin_rpc(platform) as (channel, auth):
        return (
            camera_pb2_grpc.CameraServiceStub(channel)
            .GetStreamUrls(camera_pb2.GetStreamUrlsRequest(id=camera_id), metadata=auth, timeout=30)
            .rtmp_publish_url
        )


def segment_count(platform: LocalPlatform, camera_id: str) -> int:
    with admin_rpc(platform) as (channel, auth):
        try:
            listed = recording_pb2_grpc.RecordingServiceStub(channel).ListRecordings(
                recording_pb2.ListRecordingsRequest(camera_id=camera_id, page_size=1000),
                metadata=auth,
                timeout=30,
            )
        except grpc.RpcError:
            return 0
    return len(listed.recordings)


def delete_every_camera(platform: LocalPlatform) -> None:
    with admin_rpc(platform) as (channel, auth):
        stub = camera_pb2_grpc.CameraServiceStub(channel)
        for c in stub.ListCameras(
            camera_pb2.ListCamerasRequest(page_size=1000), metadata=auth, timeout=30
        ).cameras:
            stub.DeleteCamera(camera_pb2.DeleteCameraRequest(id=c.id), metadata=auth, timeout=30)


def camera_by_id(platform: LocalPlatform, camera_id: str) -> camera_pb2.Camera:
    with admin_rpc(platform) as (channel, auth):
        return (
            camera_pb2_grpc.CameraServiceStub(channel)
            .GetCamera(camera_pb2.GetCameraRequest(id=camera_id), metadata=auth, timeout=30)
            .camera
        )


@contextmanager
def second_node(platform: LocalPlatform, root: Path, name: str) -> Iterator[node_pb2.Node]:
    """A second node agent (`python -m node_agent`, its own nginx on free loopback ports)
    joining ./start's control plane; stopped by PID at the end."""
    with admin_rpc(platform) as (channel, auth):
        secret = (
            node_pb2_grpc.NodeServiceStub(channel)
            .CreateJoinToken(node_pb2.CreateJoinTokenRequest(), metadata=auth, timeout=30)
            .secret
        )
    # As ./start's own agent: joins on the TLS listener, connects with its node certificate
    # (./start's control plane requires one), both verified with the local CA.
    tls = platform.ca_path is not None
    argv = agent_argv(
        platform.agent_target if tls else platform.grpc_target,
        root / name,
        f"127.0.0.1:{free_port()}",
        f"127.0.0.1:{free_port()}",
        name=name,
    )
    if tls:
        argv += ["--control-plane-ca", str(platform.ca_path)]
        argv += ["--control-plane-mtls", platform.agent_mtls_target]
    agent = start_agent(argv, {**os.environ, "CAMFLEET_JOIN_TOKEN": secret}, root / f"{name}.log")
    try:
        # Its ready line (Playwright's sync API owns this thread's event loop: polled here).
        log = root / f"{name}.log"

        def ready() -> bool:
            agent.check_alive()
            return AGENT_READY in log.read_text(errors="replace")

        wait_for(
            ready,
            bool,
            f"{name}'s ready line",
            60,
        )
        yield wait_for(
            lambda: node_named(platform, name),
            lambda n: n.state == node_pb2.NODE_STATE_READY,
            f"{name} READY",
            60,
        )
    finally:
        agent.stop()
