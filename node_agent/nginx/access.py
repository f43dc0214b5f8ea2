"""Who may reach what of the node's internals.

- nginx's workers run as an unprivileged account (`www-data`, Debian's nginx user) when the
  agent runs as root; as the agent's own user otherwise (nginx cannot switch users then).
- The internal endpoints are Unix sockets, never TCP ports: nginx's /stat and /control in a
  directory only the agent can enter (nginx itself makes its sockets 0666, so the directory is
  the lock), the agent's callbacks in a directory and socket (0700 / 0600) owned by the worker
  account, so only nginx's workers and root reach them. Both directories sit in one parent
  that the worker group may traverse and nobody else may enter.
- The agent's data directory holds its credential and playback key (0600 files): it stays
  closed to everyone but the agent and, for traversal only (0710), the worker group, which
  must reach the live HLS fragments, the by-camera links and recorded media (X-Accel-Redirect).
"""

from __future__ import annotations

import grp
import logging
import os
import pwd
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# Debian's nginx package creates it; the agent never creates accounts itself.
WORKER_ACCOUNT = "www-data"
# sun_path holds 108 bytes with its NUL; leave room.
_MAX_SOCKET_PATH = 100


@dataclass(frozen=True)
class WorkerAccount:
    """The account nginx's worker processes run as."""

    user: str
    group: str
    uid: int
    gid: int

    @property
    def separate(self) -> bool:
        """True when the workers run as another user than the agent."""
        return self.uid != os.geteuid()

    @property
    def directive(self) -> str:
        """nginx's `user` directive ("" when nginx cannot switch users: not root)."""
        return f"user {self.user} {self.group};\n" if os.geteuid() == 0 else ""


def _traversable(path: Path, uid: int, gid: int) -> bool:
    try:
        st = path.stat()
    except FileNotFoundError:
        return True  # made later, by the agent
    if st.st_uid == uid:
        return bool(st.st_mode & 0o100)
    if st.st_gid == gid:
        return bool(st.st_mode & 0o010)
    return bool(st.st_mode & 0o001)


def blocking_directory(path: Path, uid: int, gid: int) -> Path | None:
    """The first directory above `path` that uid:gid may not pass through, if any (the agent
    opens `path` itself to them)."""
    for parent in reversed(path.resolve().parents):
        if not _traversable(parent, uid, gid):
            return parent
    return None


def worker_account(*reached: Path, name: str = WORKER_ACCOUNT) -> WorkerAccount:
    """`name` when the agent is root, the account exists and may pass through the directories
    above `reached` (the data directory, the warm tier); the agent's own account otherwise,
    which is root only then, with a warning that says what to change."""
    uid, gid = os.geteuid(), os.getegid()
    if uid == 0:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            log.warning(
                "no %r account: nginx's workers run as root (install Debian's nginx package, "
                "which creates it)",
                name,
            )
        else:
            blocked = [
                b for p in reached if (b := blocking_directory(p, entry.pw_uid, entry.pw_gid))
            ]
            if not blocked:
                group = grp.getgrgid(entry.pw_gid).gr_name
                return WorkerAccount(name, group, entry.pw_uid, entry.pw_gid)
            log.warning(
                "nginx's workers run as root: %r may not enter %s (allow it with "
                "chmod o+x, or move --data-dir)",
                name,
                blocked[0],
            )
    return WorkerAccount(pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name, uid, gid)


def set_owner(path: Path, uid: int, gid: int, mode: int) -> None:
    """Create `path` (a directory) if needed and give it exactly this owner and mode."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(path, uid, gid)
    os.chmod(path, mode)


def chown_tree(root: Path, uid: int, gid: int) -> None:
    """Give `root` and everything under it to uid:gid (nginx's HLS directory from a run whose
    workers were root, or another account)."""
    if os.geteuid() != 0:
        return
    for directory, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            os.lchown(os.path.join(directory, name), uid, gid)
    os.chown(root, uid, gid)


def open_data_dir(root: Path, worker: WorkerAccount) -> None:
    """The data directory: owner-only, plus traversal (no listing) for the worker group."""
    agent_gid = worker.gid if worker.separate else os.getegid()
    set_owner(root, os.geteuid(), agent_gid, 0o710 if worker.separate else 0o700)


@dataclass(frozen=True)
class SocketDir:
    """Where the two internal Unix sockets live: `base` (0710, worker group), `internal/`
    (0700, agent: nginx's stat and control) and `callbacks/` (0700, worker: the agent's API)."""

    base: Path
    # A directory of its own in /run or /tmp (the data directory's path was too long for a
    # socket): removed on stop.
    temporary: bool = False

    @classmethod
    def choose(cls, preferred: Path) -> SocketDir:
        """`preferred` when the socket paths under it fit in sun_path, else a new private
        directory under /run (root) or the temporary directory."""
        if len(str(cls(preferred).stat_socket)) <= _MAX_SOCKET_PATH:
            return cls(preferred)
        parent = "/run" if os.geteuid() == 0 and os.access("/run", os.W_OK) else None
        return cls(Path(tempfile.mkdtemp(prefix="camfleet-node-", dir=parent)), temporary=True)

    @property
    def internal(self) -> Path:
        return self.base / "internal"

    @property
    def callbacks(self) -> Path:
        return self.base / "callbacks"

    @property
    def stat_socket(self) -> Path:
        """nginx's /stat and /control (only the agent can enter its directory)."""
        return self.internal / "nginx.sock"

    @property
    def agent_socket(self) -> Path:
        """The agent's callback API (only nginx's workers and root may connect)."""
        return self.callbacks / "agent.sock"

    def create(self, worker: WorkerAccount) -> None:
        """Make the directories with their owners and modes; remove stale sockets."""
        me, my_gid = os.geteuid(), os.getegid()
        set_owner(self.base, me, worker.gid if worker.separate else my_gid, 0o710)
        set_owner(self.internal, me, my_gid, 0o700)
        set_owner(self.callbacks, worker.uid, worker.gid, 0o700)
        for sock in (self.stat_socket, self.agent_socket):
            sock.unlink(missing_ok=True)

    def remove(self) -> None:
        """Remove the sockets (and the directory when it was a temporary one)."""
        if self.temporary:
            shutil.rmtree(self.base, ignore_errors=True)
            return
        for sock in (self.stat_socket, self.agent_socket):
            sock.unlink(missing_ok=True)


def hand_socket_to(sock: Path, worker: WorkerAccount) -> None:
    """Make the agent's freshly bound socket connectable by the workers only (0600)."""
    if os.geteuid() == 0:
        os.chown(sock, worker.uid, worker.gid)
    os.chmod(sock, 0o600)
