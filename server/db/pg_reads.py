"""Hot-path reads on PostgreSQL: a few connections of their own, in autocommit, kept open.

Through the async engine each read paid a pool checkout with its liveness ping, SQLAlchemy's
Core and greenlet layers, and a rollback when the connection went back (three round trips);
with 64 reads in flight the pool also opened and closed its overflow connections all the time
(16 new sessions a second). Here a read is one round trip of a statement psycopg prepares on
the server, on one of `size` connections that stay open (each replica holds these beside the
engine's pool). A connection that fails is closed and the next read opens a new one; the error
is raised as SQLAlchemy raises it, so callers map it the same way (UNAVAILABLE).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import psycopg
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from server.db.prepared import Prepared, Row


class PgReads:
    """Runs prepared statements on a few autocommit connections."""

    def __init__(self, url: URL, size: int = 4) -> None:
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._slots = asyncio.Semaphore(size)
        self._closed = False

    async def rows(self, prepared: Prepared, params: Mapping[str, Any]) -> list[Row]:
        """The rows of `prepared` with `params`, processed as Core would."""
        async with self._slots:
            try:
                conn = self._idle.pop() if self._idle else await self._connect()
            except psycopg.Error as exc:
                raise DBAPIError.instance(prepared.sql, params, exc, psycopg.Error) from exc
            try:
                # One statement in autocommit: it reads one snapshot, and nothing is left open.
                cursor = await conn.execute(
                    prepared.sql, prepared.named_values(params), prepare=True
                )
                fetched: list[Row] = await cursor.fetchall()
            except psycopg.Error as exc:
                await conn.close()  # whatever went wrong, the next read starts clean
                raise DBAPIError.instance(prepared.sql, params, exc, psycopg.Error) from exc
            except BaseException:
                await conn.close()  # cancelled mid-statement: its state is unknown
                raise
            if self._closed:
                await conn.close()
            else:
                self._idle.append(conn)
        return prepared.process(fetched)

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)

    def close(self) -> None:
        """Close the idle connections (a read in progress closes its own when it ends).
        Synchronous like the rest of shutdown's releases: closing is libpq's `finish`, which
        `AsyncConnection.close` calls without awaiting anything."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.pgconn.finish()
