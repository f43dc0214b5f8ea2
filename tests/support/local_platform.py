"""The whole platform as the README's first command runs it (scripts/local_platform.py, which
`./start` execs after setting up): control plane, node agent + nginx, UI server, Envoy and
optional demo cameras, on ephemeral loopback ports with a fresh data directory.

    with run_local_platform(tmp_path, demo=2) as platform:
        page.goto(platform.url)  # Envoy: the UI, grpc-web and gRPC on one port

Teardown is Ctrl-C (SIGINT to the launcher), then every process of its tree that is somehow
still there is killed by PID, and the test fails saying which were left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.agent.node import kill_survivors, process_alive, process_tree
from tests.support.processes import ROOT, free_port, stop_by_pid

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
    hls_base_url: str  # the node's HTTP base for signed HLS ("http://127.0.0.1:PORT")

    @property
    def envoy_target(self) -> str:
        """Envoy as a gRPC target ("127.0.0.1:PORT")."""
        return self.url.removeprefix("http://").rstrip("/")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def _wait_ready(proc: subprocess.Popen[bytes], log_path: Path) -> str:
    """The launcher's ready line; AssertionError (with its output) if it never comes."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        for line in log_path.read_text(errors="replace").splitlines():
            if line.startswith(READY):
                return line
        assert proc.poll() is None, f"./start exited ({proc.returncode}):\n{log_path.read_text()}"
        time.sleep(0.1)
    raise AssertionError(f"./start was not up in {STARTUP_TIMEOUT_S}s:\n{log_path.read_text()}")


@contextmanager
def run_local_platform(tmp_path: Path, demo: int = 0) -> Iterator[LocalPlatform]:
    """`./start [--demo N]` on free loopback ports with `tmp_path/data`; yields once it printed
    its ready line; Ctrl-C on exit, and nothing it started may outlive it."""
    data = tmp_path / "data"
    log_path = tmp_path / "local-platform.log"
    listen, envoy = free_port(), free_port()
    rtmp, http = free_port(), free_port()
    argv = [
        sys.executable,
        "scripts/local_platform.py",
        "--data-dir",
        str(data),
        "--listen",
        f"127.0.0.1:{listen}",
        "--envoy-listen",
        f"127.0.0.1:{envoy}",
        "--rtmp-listen",
        f"127.0.0.1:{rtmp}",
        "--http-listen",
        f"127.0.0.1:{http}",
    ]
    if demo:
        argv += ["--demo", str(demo)]
    # As a newcomer runs it: no password chosen, so the launcher makes and shows one.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CAMFLEET_ADMIN_PASSWORD", "CAMFLEET_DATA_DIR", "CAMFLEET_DATABASE_URL")
    }
    with log_path.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    tree: dict[int, str] = {}
    try:
        ready = _wait_ready(proc, log_path)
        url, _, rest = ready.removeprefix(READY).strip().partition("  user admin  password ")
        yield LocalPlatform(
            url=url,
            grpc_target=f"127.0.0.1:{listen}",
            rtmp_url=f"rtmp://127.0.0.1:{rtmp}/live",
            admin_password=rest.strip(),
            pid=proc.pid,
            data_dir=data,
            log_path=log_path,
            hls_base_url=f"http://127.0.0.1:{http}",
        )
    finally:
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
        left = kill_survivors(tree)
    assert not left, f"./start left processes behind after Ctrl-C: {left}"
