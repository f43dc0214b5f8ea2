"""A PostgreSQL and a Redis of the caller's own, so it can restart them (a chaos bench does)
without hurting anything else on the machine: PostgreSQL from Debian's server binaries
(/usr/lib/postgresql/<version>/bin), `initdb` in a temporary directory, trust auth, its own
port on 127.0.0.1; redis-server on its own port with the append-only file compose.yaml uses.
Both are ended by PID and their directories removed on leaving the block, also on failure."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis

from harness.ports import free_port
from harness.processes import Child

# PostgreSQL refuses to run as root: as root, its processes run as this account (Debian's).
PG_ACCOUNT = "postgres"
START_WITHIN_S = 60.0


def postgres_bin() -> Path:
    """The newest server binaries Debian installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=_version)
    if not found:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    return Path(found[-1]).parent


def _version(path: str) -> int:
    return int(Path(path).parent.parent.name.split(".")[0])


def _as_account(argv: list[str]) -> list[str]:
    """`argv` run as PG_ACCOUNT when this process is root (setpriv execs: the PID is its own)."""
    if os.geteuid() != 0:
        return argv
    return ["setpriv", f"--reuid={PG_ACCOUNT}", f"--regid={PG_ACCOUNT}", "--init-groups", *argv]


@dataclass
class PrivatePostgres:
    """A running postmaster of our own; `url` is SQLAlchemy's, `dsn` psycopg's."""

    data: Path
    port: int
    child: Child | None = None

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/camfleet"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/camfleet"

    def start(self) -> None:
        argv = [
            str(postgres_bin() / "postgres"), "-D", str(self.data / "db"), "-p", str(self.port),
            "-k", str(self.data), "-c", "listen_addresses=127.0.0.1",
            # A crash of the server, not of the machine, loses nothing without fsync.
            "-c", "fsync=off", "-c", "max_connections=100",
        ]  # fmt: skip
        self.child = Child("postgres", _as_account(argv), None, self.data / "postgres.log")
        _wait(lambda: _pg_ready(self.port), self.child, "PostgreSQL")

    def restart(self, *, crash: bool = True) -> None:
        """Stop the postmaster (`crash`: SIGQUIT, an immediate shutdown that drops every
        session and recovers from the WAL on start; else SIGINT, a fast clean shutdown), then
        start it again on the same port."""
        assert self.child is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.child.pid, signal.SIGQUIT if crash else signal.SIGINT)
        try:
            self.child.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.child.kill()
        self.start()

    def stop(self) -> None:
        if self.child is not None:
            # SIGINT: fast shutdown (SIGTERM would wait for every client to leave).
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.child.pid, signal.SIGINT)
            try:
                self.child.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.child.kill()


def _pg_ready(port: int) -> bool:
    try:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def _wait(ready: object, child: Child, what: str) -> None:
    deadline = time.monotonic() + START_WITHIN_S
    while not ready():  # type: ignore[operator]
        child.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within {START_WITHIN_S:.0f} s")
        time.sleep(0.1)


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """initdb in a fresh temporary directory, a postmaster on a free port of 127.0.0.1 with a
    database `camfleet`; stopped by PID and the directory removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="camfleet-pg-"))
    server = PrivatePostgres(root, free_port())
    try:
        if os.geteuid() == 0:
            account = pwd.getpwnam(PG_ACCOUNT)
            os.chown(root, account.pw_uid, account.pw_gid)
        subprocess.run(  # noqa: S603 - our own argv
            _as_account([str(postgres_bin() / "initdb"), "-D", str(root / "db"), "-U",
                         "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]),
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        server.start()
        admin = f"postgresql://postgres@127.0.0.1:{server.port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE camfleet")
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class PrivateRedis:
    """A redis-server of our own on 127.0.0.1:`port`, its append-only file in `data`."""

    data: Path
    port: int
    child: Child | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        argv = [
            binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.data),
            "--appendonly", "yes", "--save", "", "--protected-mode", "no",
        ]  # fmt: skip
        self.child = Child("redis-server", argv, None, self.data / "redis.log", parent_death=True)
        _wait(self._ready, self.child, "redis-server")

    def _ready(self) -> bool:
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def restart(self, *, crash: bool = True) -> None:
        """SIGKILL (`crash`: what the append-only file has not written in the last second is
        gone) or SIGTERM (a clean shutdown), then start again on the same port and file."""
        assert self.child is not None
        if crash:
            self.child.kill()
        else:
            self.child.stop(grace_s=10)
        self.start()

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop(grace_s=10)


@contextlib.contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    """redis-server on a free port of 127.0.0.1; stopped by PID and its files removed."""
    root = Path(tempfile.mkdtemp(prefix="camfleet-redis-"))
    server = PrivateRedis(root, free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
