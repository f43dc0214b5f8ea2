"""The streaming stack as operators run it, for end-to-end tests: `python -m server` and
`python -m node_agent` (with its nginx) as real processes on loopback ports, on either backend.
Every process is ended by PID, also when a test fails halfway."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import grpc
from camfleet.v1 import (
    auth_pb2,
    auth_pb2_grpc,
    camera_pb2,
    camera_pb2_grpc,
    event_pb2,
    event_pb2_grpc,
    node_pb2,
    node_pb2_grpc,
    recording_pb2_grpc,
    stream_pb2_grpc,
)
from google.protobuf import timestamp_pb2

from harness.agents import START_TIMEOUT_S as AGENT_START_S
from harness.agents import agent_argv, first_start_env, start_agent, wait_agent_ready
from harness.control_plane import START_TIMEOUT_S, start_control_plane, wait_serving
from harness.databases import REDIS_URL, TEST_POOL_SIZE, throwaway_postgres, throwaway_redis_prefix
from harness.ports import free_port
from harness.processes import ROOT, Child
from tests.support.platform import ADMIN_PASSWORD, Metadata, bearer

# Fast enough for tests to see a lost node quickly, slow enough for a loaded 2-core machine.
HEARTBEAT_S = 0.5
LOST_AFTER_S = 2.0
STARTUP_GRACE_S = 12.0


@dataclass
class Stack:
    """A control plane and one node agent, restartable and killable one by one."""

    backend: str
    root: Path
    env: dict[str, str]
    grpc_port: int
    rtmp_port: int
    http_port: int
    node_name: str = "e2e-node"
    # Extra command-line flags for the agent (e.g. ["--segment-seconds", "2"]).
    agent_args: list[str] = field(default_factory=list)
    server: Child | None = None
    agent: Child | None = None
    channel: grpc.aio.Channel | None = None
    admin: Metadata = ()
    logs: list[Path] = field(default_factory=list)
    # The checkout both processes run from (a bench compares another commit's tree).
    tree: Path = ROOT

    @property
    def node_dir(self) -> Path:
        return self.root / "node"

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def rtmp_url(self, key: str) -> str:
        return f"rtmp://127.0.0.1:{self.rtmp_port}/live/{key}"

    @property
    def http_listen(self) -> str:
        return f"127.0.0.1:{self.http_port}"

    def _new_log(self, name: str) -> Path:
        log = self.root / f"{name}-{len(self.logs)}.log"
        self.logs.append(log)
        return log

    def log_text(self) -> str:
        """Every process log so far, for assertion messages."""
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.logs
        )

    async def start_server(self, within_s: float = START_TIMEOUT_S) -> None:
        """Start the control plane and wait until it is SERVING; log in as admin."""
        self.server = start_control_plane(
            {**os.environ, **self.env}, self._new_log("server"), cwd=self.tree
        )
        await wait_serving(self.target, self.server, within_s, self._server_alive)
        if self.channel is None:
            self.channel = grpc.aio.insecure_channel(self.target)
        resp = await auth_pb2_grpc.AuthServiceStub(self.channel).Login(
            auth_pb2.LoginRequest(username="admin", password=ADMIN_PASSWORD)
        )
        self.admin = bearer(resp.tokens.access_token)

    def _server_alive(self) -> None:
        assert self.server is not None and self.server.returncode is None, self.log_text()

    def _agent_alive(self) -> None:
        assert self.agent is not None and self.agent.returncode is None, self.log_text()

    def kill_server(self) -> None:
        """SIGKILL the control plane (a crash, not a shutdown)."""
        assert self.server is not None
        self.server.kill()

    async def join_token(self) -> str:
        resp = await self.nodes.CreateJoinToken(
            node_pb2.CreateJoinTokenRequest(), metadata=self.admin
        )
        return resp.secret

    async def start_agent(self, within_s: float = AGENT_START_S) -> None:
        """Start the node agent (registering on first start) and wait for its ready line."""
        env = await first_start_env(self.node_dir, self.join_token)
        argv = agent_argv(
            self.target,
            self.node_dir,
            f"127.0.0.1:{self.rtmp_port}",
            self.http_listen,
            name=self.node_name,
            extra=self.agent_args,
        )
        self.agent = start_agent(argv, env, self._new_log("agent"), cwd=self.tree)
        await wait_agent_ready(self.agent, within_s, check_alive=self._agent_alive)

    def kill_agent(self) -> None:
        """SIGKILL the agent (its nginx follows by the parent-death signal)."""
        assert self.agent is not None
        self.agent.kill()

    def nginx_pid(self) -> int:
        return int((self.node_dir / "nginx" / "nginx.pid").read_text().strip())

    @property
    def cameras(self) -> camera_pb2_grpc.CameraServiceStub:
        assert self.channel is not None
        return camera_pb2_grpc.CameraServiceStub(self.channel)

    @property
    def nodes(self) -> node_pb2_grpc.NodeServiceStub:
        assert self.channel is not None
        return node_pb2_grpc.NodeServiceStub(self.channel)

    @property
    def streams(self) -> stream_pb2_grpc.StreamServiceStub:
        assert self.channel is not None
        return stream_pb2_grpc.StreamServiceStub(self.channel)

    def watch(self, after_revision: int, filter_text: str = "") -> grpc.aio.UnaryStreamCall:  # type: ignore[type-arg]
        assert self.channel is not None
        return event_pb2_grpc.EventServiceStub(self.channel).WatchEvents(
            event_pb2.WatchEventsRequest(after_revision=after_revision, filter=filter_text),
            metadata=self.admin,
        )

    async def revision(self) -> int:
        resp = await self.cameras.ListCameras(
            camera_pb2.ListCamerasRequest(page_size=1), metadata=self.admin
        )
        return resp.revision

    async def new_camera(self, name: str) -> camera_pb2.Camera:
        resp = await self.cameras.CreateCamera(
            camera_pb2.CreateCameraRequest(camera=camera_pb2.Camera(name=name)),
            metadata=self.admin,
        )
        return resp.camera

    def stop(self) -> None:
        for child in (self.agent, self.server):
            if child is not None:
                child.stop(grace_s=15)


@contextmanager
def _backend_env(backend: str, root: Path) -> Iterator[dict[str, str]]:
    env = {
        "CAMFLEET_DATA_DIR": str(root / "control-plane"),
        "CAMFLEET_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "CAMFLEET_LOG_LEVEL": "INFO",
        "CAMFLEET_HEARTBEAT_INTERVAL": str(HEARTBEAT_S),
        "CAMFLEET_NODE_LOST_AFTER": str(LOST_AFTER_S),
        "CAMFLEET_NODE_STARTUP_GRACE": str(STARTUP_GRACE_S),
        "CAMFLEET_LOGIN_LIMIT_PER_ADDRESS": "10000",
        "CAMFLEET_UNKNOWN_KEY_LIMIT": "10000",
    }
    with ExitStack() as stack:
        if backend == "postgres":
            env["CAMFLEET_DATABASE_URL"] = stack.enter_context(throwaway_postgres())
            env["CAMFLEET_DATABASE_POOL_SIZE"] = str(TEST_POOL_SIZE)
            env["CAMFLEET_REDIS_URL"] = REDIS_URL
            env["CAMFLEET_REDIS_PREFIX"] = stack.enter_context(throwaway_redis_prefix())
        yield env


@asynccontextmanager
async def running_control_plane(
    backend: str, adjust: Callable[[dict[str, str]], None] | None = None
) -> AsyncIterator[Stack]:
    """Only the control plane (no agent) on `backend`, stopped on exit. `adjust` may change its
    environment first (e.g. reach PostgreSQL or Redis through a proxy the test controls)."""
    with (
        tempfile.TemporaryDirectory(prefix="camfleet-e2e-") as tmp,
        _backend_env(backend, Path(tmp)) as env,
    ):
        grpc_port = free_port()
        env["CAMFLEET_LISTEN"] = f"127.0.0.1:{grpc_port}"
        if adjust is not None:
            adjust(env)
        stack = Stack(backend, Path(tmp), env, grpc_port, free_port(), free_port())
        try:
            await stack.start_server()
            yield stack
        finally:
            stack.stop()
            if stack.channel is not None:
                await stack.channel.close()


@asynccontextmanager
async def running_stack(backend: str, agent_args: list[str] | None = None) -> AsyncIterator[Stack]:
    """Control plane + node agent on `backend` ("sqlite" or "postgres"), stopped on exit."""
    async with running_control_plane(backend) as stack:
        stack.agent_args = list(agent_args or [])
        await stack.start_agent()
        yield stack


def ts(at: datetime) -> timestamp_pb2.Timestamp:
    """`at` as a protobuf Timestamp."""
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(at)
    return out


def recordings(stack: Stack) -> recording_pb2_grpc.RecordingServiceStub:
    """The RecordingService of a running stack."""
    assert stack.channel is not None
    return recording_pb2_grpc.RecordingServiceStub(stack.channel)
