"""Start `python -m server` as a real process and always end it (by PID) afterwards."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_line(proc: subprocess.Popen[str], needle: str, timeout: float = 30.0) -> list[str]:
    """Read stdout lines until one contains `needle`; returns the lines read."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"{needle!r} not printed in {timeout}s; got: {''.join(lines)}")


def stop_by_pid(proc: subprocess.Popen[str] | subprocess.Popen[bytes], grace_s: float = 15) -> None:
    """End a process the tests started: SIGTERM, then SIGKILL if it has not gone in `grace_s`."""
    if proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


@contextmanager
def server_process(env: Mapping[str, str], *args: str) -> Iterator[subprocess.Popen[str]]:
    """`python -m server` with `env` added; SIGTERM (then SIGKILL) on exit, by PID."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", *args],
        cwd=ROOT,
        env={**os.environ, "CAMFLEET_LOG_LEVEL": "WARNING", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        stop_by_pid(proc)
