"""The PostgreSQL side of the election: a session-level advisory lock held on a connection of
its own (never one from the pool, which would hand it to other work and could close it).

PostgreSQL frees the lock the moment that session ends: a leader killed with -9 loses it as its
socket closes, and the next try of another replica wins. A leader that stops cleanly unlocks and
NOTIFYs, so a waiting replica (LISTENing on its own lock connection) tries at once instead of at
its next poll. The lock is per database, so fleets on separate databases never meet.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from typing import TYPE_CHECKING

from sqlalchemy.engine import URL

if TYPE_CHECKING:
    import psycopg

# The advisory lock key: a fixed 64-bit number derived from a name, so it is stable across
# versions and unlikely to collide with another application's keys on a shared database.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"camfleet:leader:fleet").digest()[:8], "big", signed=True)
# Who is woken when a leader lets go (NOTIFY is also per database).
CHANNEL = "camfleet_leader"
# PostgreSQL ends a lock session idle for this long, freeing the lock of a leader that is cut
# off from the database (partitioned, not killed: no socket close tells the server). Live
# sessions of ours speak every POLL interval (server/leader/leadership.py).
IDLE_SESSION_TIMEOUT = "10s"
# How long a round trip on the lock connection may take before the session counts as gone.
CHECK_TIMEOUT_S = 3.0


def libpq_url(url: URL) -> str:
    """The SQLAlchemy URL as a libpq connection string (psycopg's own, without the driver)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class AdvisoryLock:
    """One connection dedicated to the leadership lock. Any error means the session (and with it
    the lock, if held) may be gone: the caller closes this and opens a new one."""

    def __init__(self, conn: psycopg.AsyncConnection) -> None:
        self._conn = conn

    @classmethod
    async def connect(cls, conninfo: str, application_name: str) -> AdvisoryLock:
        """Open the dedicated connection (autocommit, keepalives) and LISTEN for releases."""
        # Here, not at import: a control plane on SQLite never loads psycopg (~0.15 s of CPU).
        import psycopg

        async with asyncio.timeout(CHECK_TIMEOUT_S * 2):
            conn = await psycopg.AsyncConnection.connect(
                conninfo,
                autocommit=True,
                connect_timeout=5,
                application_name=application_name[:63],
                keepalives=1,
                keepalives_idle=5,
                keepalives_interval=1,
                keepalives_count=3,
            )
        lock = cls(conn)
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                await conn.execute(f"SET idle_session_timeout = '{IDLE_SESSION_TIMEOUT}'")
                await conn.execute(f"LISTEN {CHANNEL}")
        except BaseException:
            await lock.close()
            raise
        return lock

    async def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; never waits for a holder."""
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            cur = await self._conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))
            row = await cur.fetchone()
        return bool(row and row[0])

    async def check(self) -> None:
        """A round trip on the session that holds the lock; raises when it is gone or stuck."""
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            await self._conn.execute("SELECT 1")

    async def wait_release(self, at_most_s: float) -> None:
        """Return when a leader announces it let go, or after `at_most_s`."""
        async with asyncio.timeout(at_most_s + CHECK_TIMEOUT_S):
            async for _ in self._conn.notifies(timeout=at_most_s, stop_after=1):
                pass

    async def release(self) -> None:
        """Unlock and tell waiting replicas, so one takes over now rather than at its next try."""
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            await self._conn.execute("SELECT pg_advisory_unlock_all()")
            await self._conn.execute(f"NOTIFY {CHANNEL}")

    async def close(self) -> None:
        """End the session (PostgreSQL frees any lock it still held)."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                await self._conn.close()
