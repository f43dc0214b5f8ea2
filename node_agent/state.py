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

from node_agent.convert import stored_wire_assignment
from node_agent.desired import Assignment, assignment_from_json, assignment_to_json

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
        return self.root / "assignment.json"

    @property
    def wire_assignment(self) -> Path:
        """Where agents before the JSON file kept the assignment (an agent_pb2.Assignment): read
        when there is no JSON one yet, removed once there is."""
        return self.root / "assignment.bin"

    @property
    def epochs(self) -> Path:
        """The highest placement epoch seen per camera (node_agent.fencing)."""
        return self.root / "epochs.json"

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
    """Persist the last good assignment, as JSON (it holds stream keys: owner-only)."""
    write_private(data_dir.assignment, assignment_to_json(assignment))
    # Written before the old file goes, so a crash in between leaves one of them to read.
    with contextlib.suppress(FileNotFoundError):
        data_dir.wire_assignment.unlink()


def load_assignment(data_dir: DataDir) -> Assignment | None:
    """The persisted assignment (the JSON file, else the wire-form file of an agent upgraded in
    place), or None if there is none or it cannot be read."""
    for path, decode in (
        (data_dir.assignment, assignment_from_json),
        (data_dir.wire_assignment, stored_wire_assignment),
    ):
        try:
            data = read_private(path)
        except OSError as exc:
            log.warning("cannot read %s (%s); starting without an assignment", path, exc)
            return None
        if data is None:
            continue
        try:
            return decode(data)
        except ValueError:
            # The control plane sends the full assignment on connect; until then, no keys.
            log.warning("%s is damaged; starting without an assignment", path)
            return None
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
