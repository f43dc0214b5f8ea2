"""A real streaming node for tests: nginx-rtmp rendered by node_agent.nginx.config and run under
node_agent.supervisor.Supervisor, the agent's HTTP API (node_agent.http_api) on its Unix
socket, and helpers to publish with ffmpeg and to fetch raw URLs. Every process is ended by
PID. Also the whole agent, in process (running_agent) or as `python -m node_agent`
(agent_argv)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from aiohttp import web
from camfleet.playback import Grant, verify_playback

from harness import agents
from harness.ports import free_port
from harness.processes import process_tree, stop_by_pid, survivors_after
from node_agent.agent import Agent
from node_agent.config import AgentConfig
from node_agent.config_values import HostPort
from node_agent.http_api import PublishDecision, build_app
from node_agent.live_access import HlsLinks, PlayTokens
from node_agent.nginx.access import SocketDir, hand_socket_to, worker_account
from node_agent.nginx.config import NginxLayout, NginxPorts, render
from node_agent.nginx.runner import error_log_tail, prepare_layout
from node_agent.state import DataDir
from node_agent.supervisor import Supervisor
from tests.support.clips import looped_argv, pattern_clip

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"
FFPROBE = shutil.which("ffprobe") or "/usr/bin/ffprobe"


@dataclass
class NodeCallbacks:
    """The agent's side of the HTTP API as the real agent will do it: known keys map to cameras,
    and an HLS URL is served only with a valid, unexpired signature (server.cameras.playback)."""

    secret: bytes
    # stream key -> camera id
    keys: dict[str, str]
    published: list[tuple[str, str]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    done: list[tuple[str, str]] = field(default_factory=list)
    hls_checks: list[tuple[str, str, int, str]] = field(default_factory=list)
    plays: list[tuple[str, str]] = field(default_factory=list)
    tokens: PlayTokens = field(default_factory=PlayTokens)
    # Set by running_node.
    links: HlsLinks | None = None

    async def on_publish(self, stream_key: str, remote_address: str) -> PublishDecision:
        camera = self.keys.get(stream_key)
        if camera is None:
            self.refused.append((stream_key, remote_address))
            return PublishDecision(allowed=False, reason="unknown stream key")
        self.published.append((stream_key, remote_address))
        return PublishDecision(allowed=True, camera_id=camera)

    async def on_publish_done(self, stream_key: str, remote_address: str) -> None:
        self.done.append((stream_key, remote_address))

    def hls_allowed(self, camera_id: str, grant: str, expires: int, signature: str) -> bool:
        self.hls_checks.append((camera_id, grant, expires, signature))
        decoded = Grant.decode(grant)
        if decoded is None or not verify_playback(
            self.secret, camera_id, expires, signature, time.time(), grant=decoded
        ):
            return False
        assert self.links is not None
        key = self.key_of(camera_id)
        return key is not None and self.links.link(camera_id, key)

    def on_play(self, camera_id: str, token: str) -> str | None:
        self.plays.append((camera_id, token))
        return self.key_of(camera_id) if self.tokens.redeem(camera_id, token) else None

    def key_of(self, camera_id: str) -> str | None:
        for key, camera in self.keys.items():
            if camera == camera_id:
                return key
        return None


@dataclass
class Node:
    """A running nginx and agent API."""

    layout: NginxLayout
    ports: NginxPorts
    nginx: Supervisor
    callbacks: NodeCallbacks
    sockets: SocketDir

    @property
    def rtmp_port(self) -> int:
        return int(self.ports.rtmp_listen.rsplit(":", 1)[1])

    def rtmp_url(self, key: str) -> str:
        return f"rtmp://127.0.0.1:{self.rtmp_port}/live/{key}"

    def recorder_url(self, camera_id: str) -> str:
        """What the agent's recorder plays: the camera id with a fresh one-time token."""
        return f"{self.rtmp_url(camera_id)}?rec={self.callbacks.tokens.issue(camera_id)}"

    @property
    def http_base(self) -> str:
        return f"http://{self.ports.http_listen}"


@contextlib.contextmanager
def worker_reachable_dir(prefix: str = "camfleet-node-") -> Iterator[Path]:
    """A new directory straight under the temporary directory, removed on exit. pytest's own
    directories sit below a 0700 one, where nginx's unprivileged workers cannot pass (the agent
    then runs them as root); under this one they run as www-data, as in a deployment."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _loopback_listen() -> str:
    return f"127.0.0.1:{free_port()}"


async def _connect(listen: str | Path) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    if isinstance(listen, Path):
        return await asyncio.open_unix_connection(listen)
    host, _, port = str(listen).rpartition(":")
    return await asyncio.open_connection(host, int(port))


async def wait_for_port(listen: str | Path, within_s: float = 10.0) -> None:
    """Until something accepts connections on `listen` (host:port, or a Unix socket's path)."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            _, writer = await _connect(listen)
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return


@asynccontextmanager
async def running_node(
    root: Path, callbacks: NodeCallbacks, edit_conf: Callable[[str], str] | None = None
) -> AsyncIterator[Node]:
    """nginx (supervised) and the agent's HTTP API, both ended on exit; the directories and
    sockets owned as the agent sets them up (node_agent.nginx.access)."""
    worker = worker_account(root)
    layout = NginxLayout(root)
    sockets = SocketDir.choose(root / "run")
    sockets.create(worker)
    prepare_layout(layout, worker)
    ports = NginxPorts(
        rtmp_listen=_loopback_listen(),
        http_listen=_loopback_listen(),
        stat_socket=sockets.stat_socket,
        agent_socket=sockets.agent_socket,
        user_directive=worker.directive,
    )
    conf = render(layout, ports)
    layout.conf.write_text(edit_conf(conf) if edit_conf else conf)
    callbacks.links = HlsLinks(layout.by_camera)
    runner = web.AppRunner(build_app(callbacks))
    await runner.setup()
    await web.UnixSite(runner, str(sockets.agent_socket)).start()
    hand_socket_to(sockets.agent_socket, worker)
    nginx = Supervisor(
        name="nginx",
        argv=[NGINX, "-p", str(layout.root), "-c", str(layout.conf)],
        log_path=layout.logs / "nginx.out",
        before_spawn=lambda: sockets.stat_socket.unlink(missing_ok=True),
    )
    try:
        await nginx.start()
        try:
            for listen in (ports.rtmp_listen, ports.http_listen, ports.stat_socket):
                await wait_for_port(listen)
        except OSError as failure:
            failure.add_note("\n".join(error_log_tail(layout.logs / "error.log", lines=10)))
            raise
        yield Node(layout, ports, nginx, callbacks, sockets)
    finally:
        await nginx.stop()
        await runner.cleanup()
        sockets.remove()


async def run(argv: Sequence[str], limit_s: float = 20.0) -> tuple[int, str]:
    """Run a command to completion (ended by PID if it overruns); exit code and stderr."""
    proc = subprocess.Popen(
        list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        out, err = await asyncio.to_thread(proc.communicate, timeout=limit_s)
    finally:
        stop_by_pid(proc, grace_s=5)
    return proc.returncode, (out + err).decode(errors="replace")


def ffmpeg_publish_argv(
    url: str, seconds: float, *, size: str = "640x360", preset: str = "veryfast"
) -> list[str]:
    """The brief's test pattern: `size` at 25 fps, H.264, a keyframe every second (encoded
    once per process and looped: tests/support/clips.py)."""
    return [
        FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error",
        *looped_argv(pattern_clip(size, preset), seconds),
        "-f", "flv", url,
    ]  # fmt: skip


@asynccontextmanager
async def publishing(
    url: str, seconds: float = 30.0, *, size: str = "640x360", preset: str = "veryfast"
) -> AsyncIterator[subprocess.Popen[bytes]]:
    """ffmpeg publishing to `url` in the background; ended by PID on exit. Its output is
    discarded: nobody reads it, and an unread pipe could fill and stall the publisher."""
    proc = subprocess.Popen(
        ffmpeg_publish_argv(url, seconds, size=size, preset=preset),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        stop_by_pid(proc, grace_s=5)


async def http_get(listen: str | Path, raw_path: str) -> tuple[int, bytes]:
    """GET `raw_path` exactly as written (no client-side normalisation of `..` or `%2e`), over
    TCP (host:port) or a Unix socket (its path)."""
    reader, writer = await _connect(listen)
    host = listen if isinstance(listen, str) else "localhost"
    try:
        writer.write(
            f"GET {raw_path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body


async def wait_for_file(path: Path, within_s: float = 15.0) -> None:
    """Until `path` exists."""
    deadline = time.monotonic() + within_s
    while not await asyncio.to_thread(path.exists):
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear within {within_s}s")
        await asyncio.sleep(0.1)


def new_camera_id() -> str:
    """A camera id of the control plane's shape."""
    return str(uuid.uuid4())


def assemblies(pid: int) -> int:
    """ffmpeg processes under `pid` assembling a clip (the concat demuxer)."""
    count = 0
    for child in process_tree(pid):
        with contextlib.suppress(OSError):
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            if argv and argv[0].endswith(b"ffmpeg") and b"concat" in argv:
                count += 1
    return count


def loopback_config(root: Path, **overrides: object) -> AgentConfig:
    """An agent with its data in `root` and everything on loopback; the control plane's port has
    nobody listening. `overrides` replace fields."""
    config = AgentConfig(
        control_plane=HostPort("127.0.0.1", free_port()),
        data_dir=root,
        name="test-node",
        rtmp_listen=HostPort("127.0.0.1", free_port()),
        http_listen=HostPort("127.0.0.1", free_port()),
        stat_interval_s=0.25,
    )
    return replace(config, **overrides)  # type: ignore[arg-type]


@asynccontextmanager
async def running_agent(config: AgentConfig) -> AsyncIterator[Agent]:
    """An Agent started on `config`; stopped on exit, and its nginx must be gone then."""
    agent = Agent(config)
    await agent.start()
    assert agent.nginx is not None and agent.nginx.pid is not None, nginx_complaints(config)
    tree = process_tree(agent.nginx.pid)
    try:
        yield agent
    except Exception as failure:
        # nginx's own words on why it exited are in its error.log, not in the test's output.
        failure.add_note(nginx_complaints(config))
        raise
    finally:
        await agent.stop()
        assert await survivors_after(tree, within_s=10) == []


def nginx_complaints(config: AgentConfig) -> str:
    """The last [emerg] lines of the agent's nginx error.log, for a failure's report."""
    path = NginxLayout(DataDir(config.data_dir).nginx).logs / "error.log"
    emerg = [line for line in error_log_tail(path, lines=10) if "[emerg]" in line]
    return f"nginx's {path}: " + ("\n".join(["", *emerg]) if emerg else "no [emerg] line")


def agent_argv(data_dir: Path, *extra: str) -> list[str]:
    """`python -m node_agent` on `data_dir`, its control plane and listeners on free loopback
    ports (nobody serves the control plane's)."""
    return agents.agent_argv(
        f"127.0.0.1:{free_port()}",
        data_dir,
        f"127.0.0.1:{free_port()}",
        f"127.0.0.1:{free_port()}",
        extra=extra,
    )
