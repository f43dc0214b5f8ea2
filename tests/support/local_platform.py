"""The whole platform as the README's first command runs it (scripts/local_platform.py, which
`./start` execs after setting up): control plane, node agent + nginx, UI server, Envoy and
optional demo cameras, on ephemeral loopback ports with a fresh data directory.

    with run_local_platform(tmp_path, demo=2) as platform:
        page.goto(platform.url)  # Envoy over TLS: the UI, grpc-web and gRPC on one port

Envoy speaks TLS with the local CA's certificate, made in DATA_DIR/tls on the first start, or in
`tls_dir` when given (the browser tests share one per worker, whose certificate Chromium pins);
`edge_credentials()` trusts that CA for a gRPC client. `plaintext=True` runs `--plaintext`.

Teardown is Ctrl-C (SIGINT to the launcher), then every process of its tree that is somehow
still there is killed by PID, and the test fails saying which were left behind.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from harness.ports import free_port
from harness.processes import ROOT, kill_survivors, process_alive, process_tree, stop_by_pid

READY = "camfleet is up:"
STARTUP_TIMEOUT_S = 150.0
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class LocalPlatform:
    """A running `./start`."""

    url: str  # Envoy's base URL, ends with '/': the UI, grpc-web and plain gRPC
    grpc_target: str  # "127.0.0.1:PORT" of the control plane itself
    rtmp_url: str  # "rtmp://127.0.0.1:PORT/live": append "/<stream key>" to publish
    admin_password: str
    pid: int  # the launcher's
    data_dir: Path
    log_path: Path  # everything the launcher and its children printed
    hls_base_url: str  # the node's base for signed HLS ("https://127.0.0.1:PORT")
    ca_path: Path | None  # the CA that signed Envoy's certificate; None with --plaintext
    # Where nodes join (TLS) and then connect (mutual TLS), as ./start's own agent does.
    agent_target: str = ""
    agent_mtls_target: str = ""

    @property
    def envoy_target(self) -> str:
        """Envoy as a gRPC target ("127.0.0.1:PORT")."""
        return re.sub(r"^https?://", "", self.url).rstrip("/")

    def edge_credentials(self) -> grpc.ChannelCredentials:
        """TLS to Envoy verifying its certificate against the platform's CA."""
        assert self.ca_path is not None, "this platform runs --plaintext"
        return grpc.ssl_channel_credentials(self.ca_path.read_bytes())

    def edge_channel(self) -> grpc.aio.Channel:
        """An asyncio gRPC channel to Envoy as clients reach it (TLS unless --plaintext)."""
        if self.ca_path is None:
            return grpc.aio.insecure_channel(self.envoy_target)
        return grpc.aio.secure_channel(self.envoy_target, self.edge_credentials())

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass(frozen=True)
class Ports:
    """Free loopback ports for one launcher."""

    listen: int = field(default_factory=free_port)
    envoy: int = field(default_factory=free_port)
    rtmp: int = field(default_factory=free_port)
    http: int = field(default_factory=free_port)
    agent: int = field(default_factory=free_port)
    agent_mtls: int = field(default_factory=free_port)

    def flags(self, data: Path, demo: int) -> list[str]:
        """The launcher's flags for these ports, `data` and `demo` cameras."""
        flags = ["--data-dir", str(data), "--listen", f"127.0.0.1:{self.listen}"]
        flags += ["--agent-listen", f"127.0.0.1:{self.agent}"]
        flags += ["--agent-mtls-listen", f"127.0.0.1:{self.agent_mtls}"]
        flags += ["--envoy-listen", f"127.0.0.1:{self.envoy}"]
        flags += ["--rtmp-listen", f"127.0.0.1:{self.rtmp}"]
        flags += ["--http-listen", f"127.0.0.1:{self.http}"]
        return [*flags, "--demo", str(demo)] if demo else flags


def newcomer_env() -> dict[str, str]:
    """This environment as a newcomer's: no password or data directory chosen, so the
    launcher makes and shows a password."""
    chosen = (
        "CAMFLEET_ADMIN_PASSWORD",
        "CAMFLEET_DATA_DIR",
        "CAMFLEET_DATABASE_URL",
        "CAMFLEET_TLS_DIR",
        "CAMFLEET_PLAINTEXT",
    )
    return {k: v for k, v in os.environ.items() if k not in chosen}


def wait_ready(
    proc: subprocess.Popen[bytes], log_path: Path, within_s: float = STARTUP_TIMEOUT_S
) -> tuple[str, str]:
    """(URL, admin password) from the launcher's ready line; AssertionError (with its output)
    if it exits or never prints it."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        for line in log_path.read_text(errors="replace").splitlines():
            if line.startswith(READY):
                url, _, rest = line.removeprefix(READY).strip().partition("  user admin  password ")
                return url, rest.strip()
        assert proc.poll() is None, f"./start exited ({proc.returncode}):\n{log_path.read_text()}"
        time.sleep(0.05)
    raise AssertionError(f"./start was not up in {within_s}s:\n{log_path.read_text()}")


def stop_launcher(proc: subprocess.Popen[bytes]) -> list[int]:
    """Ctrl-C the launcher and wait; then SIGKILL whatever of its process tree is still there
    (by PID). The PIDs that had to be killed: none, when the launcher did its job."""
    tree = process_tree(proc.pid)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGINT)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            stop_by_pid(proc, grace_s=5)
    deadline = time.monotonic() + 10
    while any(process_alive(p, s) for p, s in tree.items()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return kill_survivors(tree)


@contextmanager
def run_local_platform(
    tmp_path: Path,
    demo: int = 0,
    *,
    tls_dir: Path | None = None,
    plaintext: bool = False,
    media_origins: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Iterator[LocalPlatform]:
    """`./start [--demo N]` on free loopback ports with `tmp_path/data`; yields once it printed
    its ready line; Ctrl-C on exit, and nothing it started may outlive it. `media_origins`: more
    origins than the node's that the UI's CSP lets video come from (an object store, as an
    operator sets CAMFLEET_UI_MEDIA_ORIGINS); `env`: more of the launcher's environment."""
    data = tmp_path / "data"
    log_path = tmp_path / "local-platform.log"
    ports = Ports()
    argv = [sys.executable, "scripts/local_platform.py", *ports.flags(data, demo)]
    if plaintext:
        argv.append("--plaintext")
    elif tls_dir is not None:
        argv += ["--tls-dir", str(tls_dir)]
    node_origin = f"{'http' if plaintext else 'https'}://127.0.0.1:{ports.http}"
    launcher_env = {**newcomer_env(), **(env or {})}
    if media_origins:
        launcher_env["CAMFLEET_UI_MEDIA_ORIGINS"] = " ".join([node_origin, *media_origins])
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=launcher_env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        url, password = wait_ready(proc, log_path)
        yield LocalPlatform(
            url=url,
            grpc_target=f"127.0.0.1:{ports.listen}",
            rtmp_url=f"rtmp://127.0.0.1:{ports.rtmp}/live",
            admin_password=password,
            pid=proc.pid,
            data_dir=data,
            log_path=log_path,
            # The node serves HTTPS with the local CA's certificate, plain only with --plaintext.
            hls_base_url=node_origin,
            ca_path=None if plaintext else (tls_dir or data / "tls") / "ca.pem",
            agent_target=f"127.0.0.1:{ports.agent}",
            agent_mtls_target=f"127.0.0.1:{ports.agent_mtls}",
        )
    finally:
        left = stop_launcher(proc)
    assert not left, f"./start left processes behind after Ctrl-C: {left}"
