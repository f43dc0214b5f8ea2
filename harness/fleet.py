"""A test fleet on one machine: node agents (`python -m node_agent`), each in its own network
namespace (harness.netns), and one or more control-plane replicas (`python -m server`) on the
namespaces' bridge address, on SQLite (one replica) or on a fresh PostgreSQL database + Redis
prefix (harness.databases), optionally behind Envoy (the compose routes, scripts.envoy_config)
through which the agents and the test's clients connect. Used by tests/e2e and bench/.

Every process is ended by PID (agents by their process group too, since nginx, recorders and
pulls run under them), every namespace, veth and the bridge are removed, and the database is
dropped: on leaving `running_fleet`, also when the block fails."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from camfleet.v1 import (
    auth_pb2,
    auth_pb2_grpc,
    camera_pb2_grpc,
    node_pb2,
    node_pb2_grpc,
    recording_pb2_grpc,
)

from harness.agents import agent_argv, start_agent, wait_agent_ready
from harness.control_plane import start_control_plane, wait_serving
from harness.databases import REDIS_URL, TEST_POOL_SIZE, throwaway_postgres, throwaway_redis_prefix
from harness.edge import envoy_admin, spawn_edge
from harness.held_segments import DiskSegment, held_segments
from harness.ingest import running_ingest
from harness.netns import NetNode, TestNetwork, kill_group, temporary_network
from harness.processes import Child, clean_env, kill_survivors, process_tree
from server.tls.ca import CertificateFiles

ADMIN_PASSWORD = "fleet-admin-password"  # a throwaway test fleet's admin
Metadata = tuple[tuple[str, str], ...]
# Ports inside each node's namespace: every node has its own stack, so all use the same ones.
NODE_RTMP_PORT = 1935
# Each node's fleet-ingest listener (PROXY protocol from Envoy: --ingest-listen).
NODE_INGEST_PORT = 1936
NODE_HTTP_PORT = 8088


@dataclass(frozen=True)
class FleetTiming:
    """Liveness and recording settings of the fleet (the control plane's defaults: lost after
    3 s of silence at 1 Hz)."""

    heartbeat_s: float = 1.0
    lost_after_s: float = 3.0
    startup_grace_s: float = 10.0
    segment_s: int = 2


@dataclass
class FleetNode:
    """One node agent in its namespace."""

    net: NetNode
    name: str
    data_dir: Path
    log: Path
    # Agent flags beyond the addresses (segment length, capacity, labels).
    extra: list[str] = field(default_factory=list)
    child: Child | None = None

    @property
    def address(self) -> str:
        return self.net.address

    @property
    def rtmp_listen(self) -> str:
        return f"{self.net.address}:{NODE_RTMP_PORT}"

    @property
    def pid(self) -> int:
        assert self.child is not None, f"{self.name} is not running"
        return self.child.pid

    @property
    def running(self) -> bool:
        return self.child is not None and self.child.returncode is None

    def segments(self) -> list[DiskSegment]:
        """Every segment in the agent's own index (read beside the running agent)."""
        return held_segments(self.data_dir, self.name)


@dataclass
class Replica:
    """One control-plane process and its port on the bridge address."""

    index: int
    port: int
    log: Path
    child: Child | None = None

    @property
    def running(self) -> bool:
        return self.child is not None and self.child.returncode is None


@dataclass
class Fleet:
    """The running fleet: `target` is where agents and clients connect (Envoy, or the only
    replica), `channel` a client channel there with `admin` credentials."""

    root: Path
    net: TestNetwork
    env: dict[str, str]
    timing: FleetTiming
    replicas: list[Replica] = field(default_factory=list)
    nodes: list[FleetNode] = field(default_factory=list)
    edge_port: int | None = None
    edge_pid: int | None = None
    # The CA of Envoy's certificate when it speaks TLS (start_edge with a certificate).
    edge_ca: Path | None = None
    channel: grpc.aio.Channel | None = None
    admin: Metadata = ()
    # The fleet ingest (harness.fleet_cameras): chosen up front, started by start_ingest.
    ingest_port: int = 0
    stack: AsyncExitStack = field(default_factory=AsyncExitStack)
    _edge: Child | None = None

    @property
    def host(self) -> str:
        """The bridge address: everything of the root namespace binds here."""
        return self.net.bridge_address

    @property
    def target(self) -> str:
        port = self.edge_port if self.edge_port is not None else self.replicas[0].port
        return f"{self.host}:{port}"

    def free_port(self) -> int:
        """A TCP port free on the bridge address right now."""
        with socket.socket() as sock:
            sock.bind((self.host, 0))
            return int(sock.getsockname()[1])

    # Control-plane replicas.

    async def start_replica(self, replica: Replica) -> None:
        """Start (or restart) `replica` and wait until it says SERVING."""
        env = {**self.env, "CAMFLEET_LISTEN": f"{self.host}:{replica.port}"}
        env["CAMFLEET_DATA_DIR"] = str(self.root / f"control-plane-{replica.index}")
        # Parent death: a harness killed outright (no finally, no atexit) leaves nothing running.
        replica.child = start_control_plane(env, replica.log, parent_death=True)
        await wait_serving(f"{self.host}:{replica.port}", replica.child)

    def kill_replica(self, replica: Replica) -> None:
        """SIGKILL the replica (a crash: its sockets close, nothing is cleaned up)."""
        assert replica.child is not None
        replica.child.kill()

    # Node agents.

    async def add_node(
        self, name: str, *, labels: dict[str, str] | None = None, capacity: int | None = None
    ) -> FleetNode:
        """A new namespace and an agent in it, registered with a fresh join token; returns once
        the agent logged ready."""
        net_node = self.net.add_node()
        data_dir = self.root / f"node-{name}"
        extra = ["--segment-seconds", str(self.timing.segment_s)]
        if capacity is not None:
            extra += ["--capacity", str(capacity)]
        for key, value in (labels or {}).items():
            extra += ["--label", f"{key}={value}"]
        node = FleetNode(net_node, name, data_dir, self.root / f"agent-{name}.log", extra)
        self.nodes.append(node)
        await self.start_node(node)
        return node

    async def start_node(self, node: FleetNode) -> None:
        """Start (or restart) the node's agent inside its namespace; until its ready line."""
        env = {**clean_env(), "CAMFLEET_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"}
        if not (node.data_dir / "credential.json").exists():
            env["CAMFLEET_JOIN_TOKEN"] = await self.join_token()
        argv = agent_argv(
            self.target,
            node.data_dir,
            node.rtmp_listen,
            f"{node.address}:{NODE_HTTP_PORT}",
            name=node.name,
            extra=[*node.extra, "--ingest-listen", f"{node.address}:{NODE_INGEST_PORT}"],
        )
        node.child = start_agent(node.net.exec_argv(argv), env, node.log, parent_death=True)
        await wait_agent_ready(node.child)

    def cut(self, node: FleetNode) -> None:
        """Take the node's link down (no reset: as a host that vanished)."""
        self.net.cut(node.net)

    def restore(self, node: FleetNode) -> None:
        self.net.restore(node.net)

    def kill_node(self, node: FleetNode) -> None:
        """SIGKILL the agent's whole process group (the agent, and whatever of its children
        share its group; the others follow by their parent-death signal)."""
        assert node.child is not None
        tree = process_tree(node.child.pid)
        kill_group(node.child.pid)
        kill_survivors(tree)
        node.child.proc.wait()

    def stop_node(self, node: FleetNode, grace_s: float = 15.0) -> None:
        """SIGTERM (a clean shutdown: the node goes OFFLINE), then whatever is left by PID."""
        if node.child is None:
            return
        tree = process_tree(node.child.pid)
        node.child.stop(grace_s)
        kill_survivors(tree)

    # Clients.

    async def join_token(self) -> str:
        resp = await self.nodes_stub.CreateJoinToken(
            node_pb2.CreateJoinTokenRequest(), metadata=self.admin
        )
        return str(resp.secret)

    async def login(self) -> None:
        """A channel to `target` and admin credentials (retried while Envoy finds a replica)."""
        if self.channel is None and self.edge_ca is not None and self.edge_port is not None:
            roots = grpc.ssl_channel_credentials(self.edge_ca.read_bytes())
            self.channel = grpc.aio.secure_channel(self.target, roots)
        elif self.channel is None:
            self.channel = grpc.aio.insecure_channel(self.target)
        stub = auth_pb2_grpc.AuthServiceStub(self.channel)
        deadline = time.monotonic() + 30
        while True:
            try:
                resp = await stub.Login(
                    auth_pb2.LoginRequest(username="admin", password=ADMIN_PASSWORD), timeout=10
                )
                break
            except grpc.aio.AioRpcError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.3)
        self.admin = (("authorization", f"Bearer {resp.tokens.access_token}"),)

    @property
    def cameras(self) -> Any:  # camera_pb2_grpc.CameraServiceStub
        assert self.channel is not None
        return camera_pb2_grpc.CameraServiceStub(self.channel)

    @property
    def nodes_stub(self) -> Any:  # node_pb2_grpc.NodeServiceStub
        assert self.channel is not None
        return node_pb2_grpc.NodeServiceStub(self.channel)

    @property
    def recordings(self) -> Any:  # recording_pb2_grpc.RecordingServiceStub
        assert self.channel is not None
        return recording_pb2_grpc.RecordingServiceStub(self.channel)

    async def node_states(self) -> dict[str, node_pb2.Node]:
        """Every node by name, as ListNodes reports it."""
        resp = await self.nodes_stub.ListNodes(
            node_pb2.ListNodesRequest(page_size=100), metadata=self.admin, timeout=10
        )
        return {n.name: n for n in resp.nodes}

    def logs(self, tail_chars: int = 3000) -> str:
        """The tail of every process log, for failure messages."""
        paths = sorted(self.root.glob("*.log"))
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-tail_chars:]}" for p in paths
        )

    # Envoy in front of the replicas.

    async def start_edge(self, tls: CertificateFiles | None = None) -> None:
        """Envoy on the bridge address routing gRPC to every replica (the compose routes), with
        its health checks: ready once a replica passed them. Over TLS with `tls` (a
        certificate for the bridge address), as compose's Envoy is."""
        self.edge_port = self.free_port()
        self.edge_ca = tls.ca if tls else None
        workdir = self.root / "edge"
        self._edge = spawn_edge(
            workdir,
            (self.host, self.edge_port),
            [(self.host, r.port) for r in self.replicas],
            self.root / "envoy-edge.log",
            tls=(tls.cert, tls.key) if tls else None,
        )
        self.edge_pid = self._edge.pid
        admin = workdir / envoy_admin.ADMIN_SOCKET
        deadline = time.monotonic() + 30
        while not await asyncio.to_thread(envoy_admin.routes_to_control_plane, admin):
            if self._edge.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Envoy did not route to a replica:\n{self.logs()}")
            await asyncio.sleep(0.2)

    async def start_ingest(self) -> None:
        """The fleet ingest over every node added so far (Envoy's config is static: add the
        nodes first)."""
        nodes = [(n.address, NODE_INGEST_PORT) for n in self.nodes]
        await self.stack.enter_async_context(
            running_ingest(
                nodes,
                self.root / "ingest",
                host=self.host,
                port=self.ingest_port,
                wait_healthy=len(nodes),
            )
        )

    def ingest_url(self, stream_key: str) -> str:
        """Where a push camera publishes: the fleet ingest, never a node directly."""
        return f"rtmp://{self.host}:{self.ingest_port}/live/{stream_key}"

    def stop_everything(self) -> None:
        """Agents (with their trees), Envoy and the replicas, by PID."""
        for node in self.nodes:
            self.stop_node(node, grace_s=10)
        if self._edge is not None:
            self._edge.stop(grace_s=10)
        for replica in self.replicas:
            if replica.child is not None:
                replica.child.stop(grace_s=15)


def _control_plane_env(timing: FleetTiming) -> dict[str, str]:
    env = clean_env()
    env.update(
        CAMFLEET_ADMIN_PASSWORD=ADMIN_PASSWORD,
        CAMFLEET_LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
        CAMFLEET_HEARTBEAT_INTERVAL=str(timing.heartbeat_s),
        CAMFLEET_NODE_LOST_AFTER=str(timing.lost_after_s),
        CAMFLEET_NODE_STARTUP_GRACE=str(timing.startup_grace_s),
        CAMFLEET_LOGIN_LIMIT_PER_ADDRESS="10000",
        CAMFLEET_UNKNOWN_KEY_LIMIT="10000",
    )
    return env


@asynccontextmanager
async def running_fleet(
    *,
    backend: str = "postgres",
    replicas: int = 1,
    edge: bool | None = None,
    timing: FleetTiming | None = None,
    database_url: str | None = None,
    redis_url: str = REDIS_URL,
) -> AsyncIterator[Fleet]:
    """A bridge, `replicas` control planes on `backend` ("sqlite": one replica only;
    "postgres": a fresh database, or `database_url`, and a Redis prefix on `redis_url`) and,
    with `edge` (default: when there is more than one replica), Envoy in front of them; logged
    in as admin. Add nodes with `fleet.add_node`. Everything is removed on exit."""
    if backend == "sqlite" and replicas != 1:
        raise ValueError("an embedded (SQLite) control plane runs as one replica")
    timing = timing or FleetTiming()
    with_edge = replicas > 1 if edge is None else edge
    # Straight under the temporary directory: nginx's unprivileged workers must reach it.
    root = Path(tempfile.mkdtemp(prefix="camfleet-fleet-"))
    with ExitStack() as sync_stack:
        net = sync_stack.enter_context(temporary_network())
        env = _control_plane_env(timing)
        if backend == "postgres":
            url = database_url or sync_stack.enter_context(throwaway_postgres("fleet"))
            env["CAMFLEET_DATABASE_URL"] = url
            env["CAMFLEET_DATABASE_POOL_SIZE"] = str(TEST_POOL_SIZE)
            env["CAMFLEET_REDIS_URL"] = redis_url
            prefix = sync_stack.enter_context(throwaway_redis_prefix("fleet", redis_url))
            env["CAMFLEET_REDIS_PREFIX"] = prefix
        fleet = Fleet(root, net, env, timing)
        fleet.ingest_port = fleet.free_port()
        env["CAMFLEET_INGEST_RTMP_URL"] = f"rtmp://{fleet.host}:{fleet.ingest_port}/live"
        sync_stack.callback(shutil.rmtree, root, True)
        if keep := os.environ.get("CAMFLEET_FLEET_LOGS"):
            # Every process's log, kept for reading after the fleet is gone (bench_chaos).
            sync_stack.callback(_keep_logs, root, Path(keep))
        sync_stack.callback(fleet.stop_everything)
        async with fleet.stack as async_stack:
            for i in range(replicas):
                replica = Replica(i, fleet.free_port(), root / f"control-plane-{i}.log")
                fleet.replicas.append(replica)
                await fleet.start_replica(replica)
            if with_edge:
                await fleet.start_edge()
            await fleet.login()
            assert fleet.channel is not None
            async_stack.push_async_callback(fleet.channel.close, None)
            yield fleet


def _keep_logs(root: Path, into: Path) -> None:
    """Copy the fleet's *.log files (not its recordings or databases) into `into`."""
    for log in root.rglob("*.log"):
        target = into / log.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            shutil.copy2(log, target)
