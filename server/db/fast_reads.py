"""Fast reads for hot paths (GetCamera and the like).

The async ORM over aiosqlite pays a thread hand-off for every cursor call (about ten for one
object with a relationship), which made a GetCamera cost ~1.5 ms of CPU. Here a short
synchronous Core function reads instead:
- SQLite: inline on the event loop, on one long-lived connection to the same file. A prebuilt
  indexed single-row read takes ~20-50 µs, less than a hand-off to a worker thread costs; in
  WAL mode readers never wait for the writer. Only use it for such small reads.
- PostgreSQL: one `run_sync` on the async engine, a single round trip per statement.
Writes stay on the async ORM.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import SingletonThreadPool

from server.db.engine import sqlite_pragmas

T = TypeVar("T")


class FastReads:
    """Runs `fn(connection)` with the fewest hops the backend allows."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._async = engine
        self._sync: Engine | None = None
        url = engine.url
        if url.get_backend_name() == "sqlite":
            sync_url = url.set(drivername="sqlite+pysqlite")
            # One connection, used only from the event loop's thread.
            self._sync = create_sync_engine(
                sync_url, connect_args={"timeout": 5}, poolclass=SingletonThreadPool
            )
            event.listen(self._sync, "connect", sqlite_pragmas)

    async def run(self, fn: Callable[[Connection], T]) -> T:
        """The result of `fn`, given a connection in a read-only transaction."""
        if self._sync is not None:
            with self._sync.connect() as conn:
                return fn(conn)
        async with self._async.connect() as conn:
            return await conn.run_sync(fn)

    def close(self) -> None:
        """Release pooled SQLite connections."""
        if self._sync is not None:
            self._sync.dispose()
