"""./start's data directory: admin's password kept in it (mode 0600) and its own permissions
(owner-only, or passable by nginx's workers when run as root)."""

from __future__ import annotations

import os
import pwd
import secrets
from dataclasses import dataclass
from pathlib import Path

from node_agent.nginx.access import WORKER_ACCOUNT

PASSWORD_FILE = "admin-password"


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


def secure_data_dir(data: Path) -> None:
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
