"""./start's processes (scripts/local_platform.py parses the options and runs them): the control
plane, the browser UI's static server, Envoy (its config rendered from the options), the node
agent (with a join token on its first start) and the demo publishers, each started as soon as
what it needs is up, each ended by PID on stop()."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from demo_cameras import DemoPublishers, ensure_cameras
from envoy_admin import ADMIN_SOCKET, routes_to_control_plane
from envoy_config import render
from local_data import AdminPassword
from platform_api import (
    Metadata,
    WrongPassword,
    create_join_token,
    login,
    wait_node_ready,
)

from harness.agents import agent_argv, start_agent
from harness.control_plane import NotServing, run_server, start_control_plane, wait_serving
from harness.ingest import node_health
from harness.processes import Child, first_exit, stop_all

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
ENVOY = str(Path(sys.executable).with_name("envoy"))
STARTUP_TIMEOUT_S = 90.0
STOP_GRACE_S = 10.0
# The control plane's proxy socket, in DATA_DIR/run beside Envoy's admin socket: the control
# plane believes x-forwarded-for only from peers on it, and only Envoy connects there (0600).
CONTROL_PLANE_SOCKET = "control-plane.sock"

log = logging.getLogger("camfleet")


class LaunchError(Exception):
    """A part of the platform did not come up; the message says which and where to look."""


def host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def _http_scheme(args: argparse.Namespace) -> str:
    """The node serves HTTPS with the local CA's certificate unless --plaintext."""
    return "http" if args.hop_tls is None else "https"


def _media_origin(args: argparse.Namespace) -> str:
    """The one node's HTTP origin, which the UI's CSP lets it fetch and play video from; for a
    wildcard bind the node advertises the host's name instead, so allow any (the UI default)."""
    host = host_port(args.http_listen)[0]
    if host in {"0.0.0.0", "::", ""}:  # noqa: S104
        return ""
    return f"{_http_scheme(args)}://{args.http_listen}"


@dataclass
class Platform:
    """The processes one launcher started, each ended by PID on stop()."""

    args: argparse.Namespace
    data: Path
    children: dict[str, Child] = field(default_factory=dict)
    demo: DemoPublishers | None = None
    url: str = ""

    @property
    def logs(self) -> Path:
        return self.data / "logs"

    def spawn(
        self,
        name: str,
        argv: Sequence[str],
        env: dict[str, str] | None = None,
        *,
        log: Path | None = None,
        stdout: int | None = None,
        cwd: Path = ROOT,
    ) -> Child:
        """Start a child: its own session (the launcher decides when it stops, not the
        terminal's Ctrl-C), and a parent-death signal so that even a launcher killed with -9
        leaves nothing behind. Its output is the launcher's unless `log` or `stdout` says."""
        return self.adopt(
            name, Child(name, argv, env, log, cwd=cwd, stdout=stdout, parent_death=True)
        )

    def adopt(self, name: str, child: Child) -> Child:
        """`child` (started with a parent-death signal) is this launcher's to watch and stop.
        Called on the event loop's thread: the kernel sends the parent-death signal when the
        thread that started the child ends, not only the process."""
        self.children[name] = child
        return child

    def check_alive(self) -> None:
        for name, child in self.children.items():
            if child.returncode is not None:
                raise LaunchError(f"the {name} exited (code {child.returncode}){self._hint(name)}")

    def _hint(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        if not path.exists():
            return " (see above)"
        tail = path.read_text(errors="replace").strip().splitlines()[-5:]
        return f"; last lines of {path}:\n    " + "\n    ".join(tail)

    async def start(self, password: AdminPassword) -> None:
        """Every part, each as soon as what it needs is up; returns once Envoy routes to a
        healthy control plane and the demo publishers run."""
        args = self.args
        # Owner-only: nginx's workers may pass through DATA_DIR, and logs are nobody else's.
        self.logs.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.logs.chmod(0o700)
        env = {
            **os.environ,
            "CAMFLEET_DATA_DIR": str(self.data),
            "CAMFLEET_LISTEN": args.listen,
            # Cameras publish to the fleet ingest (the node says so too: --public-rtmp-url).
            "CAMFLEET_INGEST_RTMP_URL": f"rtmp://{args.rtmp_listen}/live",
            "CAMFLEET_HLS_BASE_URL": f"{_http_scheme(args)}://{args.http_listen}",
            # Envoy appends the browser's address to x-forwarded-for and reaches the control
            # plane on this socket alone: one trusted hop, and no other local process can claim
            # an address (a direct TCP client is just 127.0.0.1).
            "CAMFLEET_PROXY_SOCKET": str(self.data / "run" / CONTROL_PLANE_SOCKET),
            "CAMFLEET_TRUSTED_PROXY_HOPS": "1",
            "CAMFLEET_METRICS_LISTEN": args.metrics_listen,
        }
        if password.value:
            env["CAMFLEET_ADMIN_PASSWORD"] = password.value
        hops = args.hop_tls
        # Mutual TLS once the node can have a certificate: a node that joined before ./start
        # spoke TLS has none, and keeps one-way TLS until it joins again.
        mutual = hops is not None and (
            (self.data / "node" / "node-cert.pem").exists()
            or not (self.data / "node" / "credential.json").exists()
        )
        if hops is not None:
            env.update(hops.control_plane_env(args.agent_listen, args.agent_mtls_listen, mutual))
        control_plane = self.adopt(
            "control plane", start_control_plane(env, None, parent_death=True)
        )
        ui = self.spawn(
            "ui server",
            [PYTHON, "-m", "server.ui", "--listen", "127.0.0.1:0", "--dist", args.ui_dist],
            # A CAMFLEET_UI_MEDIA_ORIGINS of the caller wins (more nodes than this one).
            {"CAMFLEET_UI_MEDIA_ORIGINS": _media_origin(args), **os.environ},
            stdout=subprocess.PIPE,
        )
        envoy_admin = self._spawn_envoy(await self._ui_address(ui))
        try:
            await wait_serving(args.listen, control_plane, STARTUP_TIMEOUT_S, self.check_alive)
        except NotServing:
            raise LaunchError(
                f"the control plane did not answer on {args.listen} in time"
            ) from None
        async with grpc.aio.insecure_channel(args.listen) as channel:
            auth = await self._login(channel, password)
            agent_env = {**env, **await self._join_token(channel, auth, env)}
            argv = agent_argv(
                args.listen if hops is None else args.agent_listen,
                self.data / "node",
                args.node_rtmp_listen,
                args.http_listen,
                name=args.node_name,
                extra=[
                    "--public-rtmp-url",
                    f"rtmp://{args.rtmp_listen}/live",
                    "--ingest-listen",
                    args.node_ingest_listen,
                    "--metrics-listen",
                    args.node_metrics_listen,
                    *(hops.agent_flags(args.agent_mtls_listen, mutual) if hops else []),
                ],
            )
            self.adopt("node agent", start_agent(argv, agent_env, None, parent_death=True))
            if auth is None:
                if args.demo > 0:
                    raise LaunchError(f"--demo needs admin's password: {password.where}")
                await self._wait_envoy(envoy_admin)
                return
            # While the agent boots: the demo cameras need no node to exist.
            cameras = await ensure_cameras(channel, auth, args.demo) if args.demo > 0 else []
            await self._wait_envoy(envoy_admin)
            # "Up" means a node takes publishes: the UI shows it READY from the first load, and
            # the fleet ingest sends cameras to it.
            await wait_node_ready(
                channel, auth, args.node_name, STARTUP_TIMEOUT_S, self.check_alive
            )
            await self._wait_ingest(envoy_admin)
        if not cameras:
            return
        assert password.value is not None  # logged in with it
        self.demo = DemoPublishers(args.listen, password.value, self.logs)
        await self.demo.start(cameras)

    async def _login(self, channel: grpc.aio.Channel, password: AdminPassword) -> Metadata | None:
        """admin's credentials, or None when the password is unknown or no longer admin's
        (then `password` says so; the platform still starts, without demo cameras)."""
        if password.value is None:
            return None
        try:
            return await login(channel, password.value)
        except WrongPassword:
            log.warning("admin's password (%s) is refused: changed since?", password.where)
            password.value = None
            password.where = "changed: set CAMFLEET_ADMIN_PASSWORD to the current one"
            return None

    async def _join_token(
        self, channel: grpc.aio.Channel, auth: Metadata | None, env: dict[str, str]
    ) -> dict[str, str]:
        """CAMFLEET_JOIN_TOKEN for an agent without a credential yet (first start): made
        through the API when logged in (no second Python process to wait for), else with
        `python -m server create-join-token`."""
        if (self.data / "node" / "credential.json").exists():
            return {}
        if auth is None:
            return await asyncio.to_thread(_join_token_env, env)
        return {"CAMFLEET_JOIN_TOKEN": await create_join_token(channel, auth)}

    async def _ui_address(self, ui: Child) -> tuple[str, int]:
        stdout = ui.proc.stdout
        assert stdout is not None
        # In a thread: a pipe of a Popen child. Should it time out, the thread's read ends
        # with the ui server, which stop() ends.
        async with asyncio.timeout(STARTUP_TIMEOUT_S):
            line = (await asyncio.to_thread(stdout.readline)).decode()
        if "ready on http://" not in line:
            raise LaunchError(f"the ui server did not start: {line.strip() or 'no output'}")
        address = line.split("http://", 1)[1].split()[0]
        return host_port(address)

    def _spawn_envoy(self, ui: tuple[str, int]) -> Path:
        """Start Envoy; the Unix socket of its admin interface (DATA_DIR/run/envoy-admin.sock,
        mode 0600: never a TCP port, where anyone on the host could stop Envoy)."""
        run = self.data / "run"
        run.mkdir(mode=0o700, parents=True, exist_ok=True)
        run.chmod(0o700)
        config = run / "envoy.yaml"
        admin_socket = run / ADMIN_SOCKET
        admin_socket.unlink(missing_ok=True)  # a previous Envoy's, killed before removing it
        rendered = render(
            host_port(self.args.envoy_listen),
            ADMIN_SOCKET,  # relative to Envoy's working directory `run`: short, however deep
            [host_port(self.args.listen)],
            ui,
            CONTROL_PLANE_SOCKET,  # relative to `run`, like the admin socket
            cors_origins=self.args.cors_origins,
            rtmp_listen=host_port(self.args.rtmp_listen),
            rtmp_nodes=[host_port(self.args.node_ingest_listen)],
            tls=(edge.cert, edge.key) if (edge := self.args.edge_tls) else None,
        )
        config.write_text(json.dumps(rendered, indent=1))  # JSON is YAML
        self.spawn(
            "envoy",
            [
                ENVOY,
                "-c",
                str(config),
                # Another Envoy (a test, a second platform) may run on this machine.
                "--disable-hot-restart",
                "--log-level",
                "warning",
            ],
            log=self.logs / "envoy.log",
            cwd=run,
        )
        return admin_socket

    async def _wait_envoy(self, admin_socket: Path) -> None:
        """Until Envoy routes to a control plane that passed its gRPC health check."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            self.check_alive()
            if await asyncio.to_thread(routes_to_control_plane, admin_socket):
                scheme = "https" if self.args.edge_tls else "http"
                self.url = f"{scheme}://{self.args.envoy_listen}/"
                return
            await asyncio.sleep(0.1)
        raise LaunchError(f"envoy did not become ready{self._hint('envoy')}")

    async def _wait_ingest(self, admin_socket: Path) -> None:
        """Until Envoy's health check passes the node's RTMP listener (checked every second)."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            self.check_alive()
            if any((await asyncio.to_thread(node_health, admin_socket) or {}).values()):
                return
            await asyncio.sleep(0.1)
        raise LaunchError(f"the fleet ingest never reached the node{self._hint('envoy')}")

    async def stop(self) -> None:
        """Publishers first (their streams end cleanly), then every other child, by PID:
        SIGTERM, and SIGKILL for any still there after STOP_GRACE_S."""
        if self.demo is not None:
            await self.demo.stop()
        procs = [child.proc for child in self.children.values()]
        await asyncio.to_thread(stop_all, procs, STOP_GRACE_S)

    async def wait_for_exit(self) -> str:
        """The name of the first child to exit (none should while the platform runs)."""
        return await first_exit(self.children)


def _join_token_env(env: dict[str, str]) -> dict[str, str]:
    """CAMFLEET_JOIN_TOKEN made on the command line (works without admin's password)."""
    made = run_server("create-join-token", env=env, timeout=None)
    if made.returncode != 0:
        raise LaunchError(f"cannot create a join token for the node agent:\n{made.stderr}")
    return {"CAMFLEET_JOIN_TOKEN": made.stdout.strip()}
