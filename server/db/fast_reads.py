"""Fast reads for hot paths (GetCamera and the like).

The async ORM over aiosqlite pays a thread hand-off for every cursor call (about ten for one
object with a relationship), which made a GetCamera cost ~1.5 ms of CPU. Here a prepared Core
statement is read into plain tuples instead:
- SQLite: inline on the event loop, on one long-lived DB-API connection to the same file, with
  the statement compiled once and SQLAlchemy's own result processors applied to the values. A
  Core `Connection.execute` of the same statement cost ~65 µs of CPU (connection checkout,
  cache key, execution context, result metadata) where the query itself takes ~15 µs; an
  indexed single-row read is less than a hand-off to a worker thread costs, and in WAL mode
  readers never wait for the writer. Only use it for such small reads.
- PostgreSQL (psycopg): one round trip on a few connections of its own (server.db.pg_reads);
  other drivers: one `run_sync` on the async engine.
Both give the same values (types as SQLAlchemy's result processors make them). Writes stay on
the async ORM.

`run` is for reads of a few statements that may take longer (a page of a list, its count and
labels): a function given a `Reader`, in one hop to a worker thread on SQLite (aiosqlite hops
once per cursor call, about ten times for such a page), in one `run_sync` on PostgreSQL. The
statements may carry their own bound values (a filter's, LIMIT and OFFSET): reuse the same
statement object for the same query (it is the cache key) and keep their number bounded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from sqlalchemy import Connection, Engine, Select, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection, SingletonThreadPool

from server.db.engine import sqlite_pragmas
from server.db.prepared import Prepared, Row, prepare

if TYPE_CHECKING:
    from server.db.pg_reads import PgReads

_NO_PARAMS: Mapping[str, Any] = MappingProxyType({})
A = TypeVar("A")
R = TypeVar("R")
# Worker threads for `run` on SQLite (each with its connection: SingletonThreadPool is per
# thread). Readers do not block each other in WAL mode; more threads would only contend for
# the GIL.
_SQLITE_THREADS = 2


# Prepared statements kept; past this the oldest are compiled again when next used.
_MAX_PREPARED = 1024
# Results kept with `reuse`: of `rows` (a camera's rows) and of `run` (a page of cameras, which
# may hold up to 1,000 of them).
_MAX_RESULTS = 4096
_MAX_RUN_RESULTS = 64


class Reader(Protocol):
    """Runs statements for a `FastReads.run` function."""

    async def rows(self, statement: Select[Any], params: Mapping[str, Any] = ...) -> list[Row]:
        """The rows of `statement` with `params` (beside the values bound in it)."""
        ...


def _complete(coro: Coroutine[Any, Any, R]) -> R:
    """Run a `read` whose Reader never suspends (its statements are blocking calls: SQLite on a
    worker thread, Core inside `run_sync`) to its end, synchronously."""
    try:
        coro.send(None)
    except StopIteration as done:
        return cast(R, done.value)
    coro.close()
    raise RuntimeError("a blocking read suspended")


class _CoreReader:
    """A Reader over a Core connection (inside `run_sync`: drivers other than psycopg)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def rows(
        self, statement: Select[Any], params: Mapping[str, Any] = _NO_PARAMS
    ) -> list[Row]:
        return _core_rows(self._conn, statement, params)


class _PgReader:
    """A Reader on the PostgreSQL read connections (each statement one round trip)."""

    def __init__(self, reads: FastReads) -> None:
        self._reads = reads

    async def rows(
        self, statement: Select[Any], params: Mapping[str, Any] = _NO_PARAMS
    ) -> list[Row]:
        return await self._reads.rows(statement, params)


class FastReads:
    """Reads prepared statements with the fewest hops the backend allows."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._async = engine
        self._sync: Engine | None = None
        self._raw: PoolProxiedConnection | None = None
        self._prepared: dict[Select[Any], Prepared | None] = {}
        self._threads: ThreadPoolExecutor | None = None
        self._pg: PgReads | None = None
        # On SQLite, with `reuse`: (statement, params) -> (data_version, rows) of `rows`, and
        # (read, arg) -> (data_version, result) of `run`.
        self._results: dict[tuple[object, object], tuple[int | None, object]] = {}
        self._run_results: dict[tuple[object, object], tuple[int | None, object]] = {}
        url = engine.url
        if url.get_backend_name() == "sqlite":
            sync_url = url.set(drivername="sqlite+pysqlite")
            # One connection per thread: the event loop's (`rows`) and each worker's (`run`).
            self._sync = create_sync_engine(
                sync_url,
                connect_args={"timeout": 5},
                poolclass=SingletonThreadPool,
                pool_size=_SQLITE_THREADS + 1,
            )
            event.listen(self._sync, "connect", sqlite_pragmas)
        elif url.get_backend_name() == "postgresql" and url.get_driver_name() == "psycopg":
            # Imported only here: psycopg is not loaded on SQLite (start-up time).
            from server.db.pg_reads import PgReads

            self._pg = PgReads(url)

    async def rows(
        self, statement: Select[Any], params: Mapping[str, Any], *, reuse: bool = False
    ) -> list[Row]:
        """The rows of `statement` (built once, module level: it is also the cache key) with
        `params`, each a tuple of the selected columns' values. `reuse` as for `run` (the
        caller never changes the list)."""
        if self._sync is not None:
            if not reuse:
                return self._sqlite_rows(self._sync, statement, params)
            version = self._data_version(self._sync)
            key = (statement, tuple(params.items()))
            kept = self._results.get(key)
            if kept is not None and kept[0] == version:
                return cast(list[Row], kept[1])
            rows = self._sqlite_rows(self._sync, statement, params)
            _keep(self._results, _MAX_RESULTS, key, (version, rows))
            return rows
        if self._pg is not None:
            prepared = self._prepared_for(statement, self._async.dialect)
            if prepared is not None:
                return await self._pg.rows(prepared, params)
        async with self._async.connect() as conn:
            return await conn.run_sync(_core_rows, statement, params)

    async def run(
        self, read: Callable[[Reader, A], Coroutine[Any, Any, R]], arg: A, *, reuse: bool = False
    ) -> R:
        """`read(reader, arg)`: only reads (nothing is committed), in one hop off the event
        loop, each statement prepared once on SQLite.

        With `reuse` (`arg` hashable, the result never changed by the caller), SQLite answers
        again with the result of the same read while no commit has happened since it was
        read (SQLite's own `PRAGMA data_version` on the loop's connection, which never writes:
        it moves with every other connection's commit). PostgreSQL has no such counter and
        always reads."""
        if self._pg is not None:
            return await read(_PgReader(self), arg)
        if self._sync is None:
            async with self._async.connect() as conn:
                return await conn.run_sync(lambda sync: _complete(read(_CoreReader(sync), arg)))
        engine = self._sync
        key = (read, arg)
        version = None
        if reuse:
            version = self._data_version(engine)
            kept = self._run_results.get(key)
            if kept is not None and kept[0] == version:
                return cast(R, kept[1])
        if self._threads is None:
            self._threads = ThreadPoolExecutor(_SQLITE_THREADS, thread_name_prefix="fast-reads")

        def in_thread() -> R:
            raw = engine.raw_connection()  # this thread's own
            try:
                return _complete(read(_SqliteReader(self, engine, raw), arg))
            finally:
                raw.close()

        result = await asyncio.get_running_loop().run_in_executor(self._threads, in_thread)
        if reuse:
            # Kept under the version seen before the read: a commit racing it only makes the
            # next call read again.
            _keep(self._run_results, _MAX_RUN_RESULTS, key, (version, result))
        return result

    def _data_version(self, engine: Engine) -> int:
        if self._raw is None:
            self._raw = engine.raw_connection()
        cursor = self._raw.cursor()
        try:
            cursor.execute("PRAGMA data_version")
            row = cursor.fetchone()
            return int(row[0]) if row is not None else 0
        finally:
            cursor.close()

    def _prepared_for(self, statement: Select[Any], dialect: Dialect) -> Prepared | None:
        try:
            return self._prepared[statement]
        except KeyError:
            pass
        if len(self._prepared) >= _MAX_PREPARED:
            self._prepared.pop(next(iter(self._prepared)), None)  # the oldest
        prepared = self._prepared[statement] = prepare(statement, dialect)
        return prepared

    def _sqlite_rows(
        self, engine: Engine, statement: Select[Any], params: Mapping[str, Any]
    ) -> list[Row]:
        if self._raw is None:
            self._raw = engine.raw_connection()
        return _sqlite_read(self, engine, self._raw, statement, params)

    def close(self) -> None:
        """Release the connections and threads."""
        if self._pg is not None:
            self._pg.close()
        if self._threads is not None:
            self._threads.shutdown(wait=True)
            self._threads = None
        if self._raw is not None:
            self._raw.close()
            self._raw = None
        if self._sync is not None:
            self._sync.dispose()


def _core_rows(conn: Connection, statement: Select[Any], params: Mapping[str, Any]) -> list[Row]:
    return [tuple(row) for row in conn.execute(statement, dict(params))]


def _sqlite_read(
    reads: FastReads,
    engine: Engine,
    raw: PoolProxiedConnection,
    statement: Select[Any],
    params: Mapping[str, Any],
) -> list[Row]:
    """`statement` on a raw SQLite connection, prepared once (Core when it cannot be)."""
    prepared = reads._prepared_for(statement, engine.dialect)
    if prepared is None:
        with engine.connect() as conn:
            return _core_rows(conn, statement, params)
    cursor = raw.cursor()
    try:
        # No transaction is opened (pysqlite begins one only for writes): each SELECT reads one
        # snapshot.
        cursor.execute(prepared.sql, prepared.values(params))
        fetched: Sequence[Row] = cursor.fetchall()
    except engine.dialect.loaded_dbapi.Error as exc:
        # Raised as SQLAlchemy would (OperationalError etc.), so callers map it the same way.
        raise DBAPIError.instance(
            prepared.sql, params, exc, engine.dialect.loaded_dbapi.Error
        ) from exc
    finally:
        cursor.close()
    return prepared.process(fetched)


class _SqliteReader:
    """A Reader on one worker thread's own SQLite connection."""

    def __init__(self, reads: FastReads, engine: Engine, raw: PoolProxiedConnection) -> None:
        self._reads = reads
        self._engine = engine
        self._raw = raw

    async def rows(
        self, statement: Select[Any], params: Mapping[str, Any] = _NO_PARAMS
    ) -> list[Row]:
        return _sqlite_read(self._reads, self._engine, self._raw, statement, params)


def _keep(kept: dict[Any, Any], limit: int, key: object, value: object) -> None:
    """Remember `value` under `key`, the newest; past `limit` the oldest goes."""
    kept.pop(key, None)
    if len(kept) >= limit:
        kept.pop(next(iter(kept)), None)
    kept[key] = value
