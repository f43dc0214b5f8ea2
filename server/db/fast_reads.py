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
- PostgreSQL: one `run_sync` on the async engine, a single round trip per statement.
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
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine, Select, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection, SingletonThreadPool

from server.db.engine import sqlite_pragmas

Row = tuple[Any, ...]
_NO_PARAMS: Mapping[str, Any] = MappingProxyType({})
A = TypeVar("A")
R = TypeVar("R")
# Worker threads for `run` on SQLite (each with its connection: SingletonThreadPool is per
# thread). Readers do not block each other in WAL mode; more threads would only contend for
# the GIL.
_SQLITE_THREADS = 2


# Prepared statements kept; past this the oldest are compiled again when next used.
_MAX_PREPARED = 1024


class Reader(Protocol):
    """Runs statements for a `FastReads.run` function."""

    def rows(self, statement: Select[Any], params: Mapping[str, Any] = ...) -> list[Row]:
        """The rows of `statement` with `params` (beside the values bound in it)."""
        ...


@dataclass(frozen=True)
class _Prepared:
    """A statement compiled for the SQLite dialect: its parameters in order (each with the value
    bound in the statement and the type's bind processor) and its result processors."""

    sql: str
    params: tuple[tuple[str, Any, Callable[[Any], Any] | None], ...]
    processors: tuple[Callable[[Any], Any] | None, ...]

    def values(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        """The DB-API parameters: the caller's values, else the bound ones, as the types send
        them (e.g. a UTC timestamp as its text form)."""
        return tuple(
            value if process is None else process(value)
            for value, process in (
                (params.get(name, bound), process) for name, bound, process in self.params
            )
        )

    def process(self, fetched: Sequence[Row]) -> list[Row]:
        """The fetched rows with the result processors applied (as Core would)."""
        processors = self.processors
        if not any(processors):
            return [tuple(row) for row in fetched]
        return [
            tuple(v if p is None else p(v) for p, v in zip(processors, row, strict=True))
            for row in fetched
        ]


def _prepare(statement: Select[Any], dialect: Dialect) -> _Prepared | None:
    """The prepared form, or None for a statement whose SQL depends on its values (an
    expanding IN): Core runs those."""
    compiled = statement.compile(dialect=dialect)
    sql = str(compiled)
    if "POSTCOMPILE" in sql:
        return None
    bound = compiled.params
    binds: dict[str, Callable[[Any], Any] | None] = {}
    for name, process in compiled._bind_processors.items():
        if not callable(process):
            return None  # a tuple type's per-element processors
        binds[name] = process
    return _Prepared(
        sql,
        tuple((name, bound.get(name), binds.get(name)) for name in compiled.positiontup or ()),
        tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        ),
    )


class _CoreReader:
    """A Reader over a Core connection (PostgreSQL: in `run_sync`; SQLite: the fallback)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def rows(self, statement: Select[Any], params: Mapping[str, Any] = _NO_PARAMS) -> list[Row]:
        return _core_rows(self._conn, statement, params)


class FastReads:
    """Reads prepared statements with the fewest hops the backend allows."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._async = engine
        self._sync: Engine | None = None
        self._raw: PoolProxiedConnection | None = None
        self._prepared: dict[Select[Any], _Prepared | None] = {}
        self._threads: ThreadPoolExecutor | None = None
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

    async def rows(self, statement: Select[Any], params: Mapping[str, Any]) -> list[Row]:
        """The rows of `statement` (built once, module level: it is also the cache key) with
        `params`, each a tuple of the selected columns' values."""
        if self._sync is not None:
            return self._sqlite_rows(self._sync, statement, params)
        async with self._async.connect() as conn:
            return await conn.run_sync(_core_rows, statement, params)

    async def run(self, read: Callable[[Reader, A], R], arg: A) -> R:
        """`read(reader, arg)`: only reads (nothing is committed), in one hop off the event
        loop, each statement prepared once on SQLite."""
        if self._sync is None:
            async with self._async.connect() as conn:
                return await conn.run_sync(lambda sync: read(_CoreReader(sync), arg))
        if self._threads is None:
            self._threads = ThreadPoolExecutor(_SQLITE_THREADS, thread_name_prefix="fast-reads")
        engine = self._sync

        def in_thread() -> R:
            raw = engine.raw_connection()  # this thread's own
            try:
                return read(_SqliteReader(self, engine, raw), arg)
            finally:
                raw.close()

        return await asyncio.get_running_loop().run_in_executor(self._threads, in_thread)

    def _prepared_for(self, statement: Select[Any], dialect: Dialect) -> _Prepared | None:
        try:
            return self._prepared[statement]
        except KeyError:
            pass
        if len(self._prepared) >= _MAX_PREPARED:
            self._prepared.pop(next(iter(self._prepared)), None)  # the oldest
        prepared = self._prepared[statement] = _prepare(statement, dialect)
        return prepared

    def _sqlite_rows(
        self, engine: Engine, statement: Select[Any], params: Mapping[str, Any]
    ) -> list[Row]:
        if self._raw is None:
            self._raw = engine.raw_connection()
        return _sqlite_read(self, engine, self._raw, statement, params)

    def close(self) -> None:
        """Release the SQLite connections and threads."""
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

    def rows(self, statement: Select[Any], params: Mapping[str, Any] = _NO_PARAMS) -> list[Row]:
        return _sqlite_read(self._reads, self._engine, self._raw, statement, params)
