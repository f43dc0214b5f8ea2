"""Files the agent keeps in its data directory, so the data plane works while the control plane
is away and after the agent restarts.

Secrets (credential, stream keys in the assignment, playback key) are written owner-only, via a
temporary file and a rename: a crash mid-write leaves the old file, never half of a new one.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from camfleet.v1 import agent_pb2
from google.protobuf.message import DecodeError

from node_agent.convert import assignment_from_proto, assignment_to_proto
from node_agent.desired import Assignment

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataDir:
    """Paths inside the agent's data directory."""

    root: Path

    @property
    def credential(self) -> Path:
        return self.root / "credential.json"

    @property
    def assignment(self) -> Path:
        return self.root / "assignment.bin"

    @property
    def playback_key(self) -> Path:
        return self.root / "playback.key"

    @property
    def spool(self) -> Path:
        return self.root / "spool.db"

    @property
    def nginx(self) -> Path:
        return self.root / "nginx"

    def create(self) -> None:
        """Make the directory (owner-only when new: it holds secrets)."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` atomically with `data`, readable by the owner only (0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # O_CREAT's mode is filtered by the umask and ignored for an existing file: be explicit.
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    # The rename itself is durable only once the directory is synced.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_private(path: Path) -> bytes | None:
    """Contents of `path`, or None if it does not exist. Tightens a too-open mode to 0600."""
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    if mode & 0o077:
        log.warning("%s was readable by others; setting it to owner-only (0600)", path)
        os.chmod(path, 0o600)
    return data


def save_assignment(data_dir: DataDir, assignment: Assignment) -> None:
    """Persist the last good assignment, in its wire form (it holds stream keys: owner-only)."""
    message = assignment_to_proto(assignment)
    write_private(data_dir.assignment, message.SerializeToString(deterministic=True))


def load_assignment(data_dir: DataDir) -> Assignment | None:
    """The persisted assignment, or None if there is none or it cannot be read."""
    try:
        data = read_private(data_dir.assignment)
    except OSError as exc:
        log.warning("cannot read %s (%s); starting without an assignment", data_dir.assignment, exc)
        return None
    if data is None:
        return None
    try:
        return assignment_from_proto(agent_pb2.Assignment.FromString(data))
    except DecodeError:
        # The control plane sends the full assignment on connect; until then, no keys.
        log.warning("%s is damaged; starting without an assignment", data_dir.assignment)
        return None


def save_playback_secret(data_dir: DataDir, secret: bytes) -> None:
    """Persist the key that verifies signed playback URLs (hex, owner-only)."""
    write_private(data_dir.playback_key, secret.hex().encode() + b"\n")


def load_playback_secret(data_dir: DataDir) -> bytes | None:
    """The persisted playback key, or None if there is none or it is damaged."""
    try:
        data = read_private(data_dir.playback_key)
    except OSError as exc:
        log.warning("cannot read %s (%s)", data_dir.playback_key, exc)
        return None
    if data is None:
        return None
    try:
        secret = bytes.fromhex(data.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        secret = b""
    if not secret:
        log.warning("%s is damaged; playback waits for the control plane", data_dir.playback_key)
        return None
    return secret
