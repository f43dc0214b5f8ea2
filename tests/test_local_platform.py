"""`./start`'s launcher (scripts/local_platform.py): control plane and node agent come up
together, the node registers itself, and one Ctrl-C stops every process it started."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import grpc
from camfleet.v1 import auth_pb2, auth_pb2_grpc, node_pb2, node_pb2_grpc

from tests.agent.node import process_tree, survivors_after
from tests.support.assertions import eventually
from tests.support.platform import ADMIN_PASSWORD, bearer
from tests.support.processes import ROOT, free_port, stop_by_pid


async def _nodes(target: str) -> list[node_pb2.Node]:
    async with grpc.aio.insecure_channel(target) as channel:
        try:
            login = await auth_pb2_grpc.AuthServiceStub(channel).Login(
                auth_pb2.LoginRequest(username="admin", password=ADMIN_PASSWORD), timeout=2
            )
            resp = await node_pb2_grpc.NodeServiceStub(channel).ListNodes(
                node_pb2.ListNodesRequest(),
                metadata=bearer(login.tokens.access_token),
                timeout=2,
            )
        except grpc.aio.AioRpcError:
            return []
        return list(resp.nodes)


async def _start(data: Path, target: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "scripts/local_platform.py",
            "--data-dir",
            str(data),
            "--listen",
            target,
            "--rtmp-listen",
            f"127.0.0.1:{free_port()}",
            "--http-listen",
            f"127.0.0.1:{free_port()}",
        ],
        cwd=ROOT,
        env={**os.environ, "CAMFLEET_ADMIN_PASSWORD": ADMIN_PASSWORD},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_start_runs_a_ready_node_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    target = f"127.0.0.1:{free_port()}"
    launcher = await _start(tmp_path, target)
    try:
        nodes = await eventually(
            lambda: _nodes(target),
            lambda found: [n.state for n in found] == [node_pb2.NODE_STATE_READY],
            within_seconds=90,
        )
        assert [(n.name, n.state) for n in nodes] == [("local", node_pb2.NODE_STATE_READY)]
        tree = process_tree(launcher.pid)
        assert len(tree) >= 4, tree  # launcher, control plane, agent, nginx (master + worker)
        os.kill(launcher.pid, signal.SIGINT)
        assert await asyncio.to_thread(launcher.wait, 60) == 0
        assert await survivors_after(tree, within_s=10) == []
    finally:
        stop_by_pid(launcher)
    # A second start reuses the node's stored credential: still one node, ready again.
    again = await _start(tmp_path, target)
    try:
        nodes = await eventually(
            lambda: _nodes(target),
            lambda found: [n.state for n in found] == [node_pb2.NODE_STATE_READY],
            within_seconds=90,
        )
        assert len(nodes) == 1
        os.kill(again.pid, signal.SIGINT)
        assert await asyncio.to_thread(again.wait, 60) == 0
    finally:
        stop_by_pid(again)
