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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Select, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection, SingletonThreadPool

from server.db.engine import sqlite_pragmas

Row = tuple[Any, ...]


@dataclass(frozen=True)
class _Prepared:
    """A statement compiled for the SQLite dialect, with its parameter order and processors."""

    sql: str
    params: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]


def _prepare(statement: Select[Any], dialect: Dialect) -> _Prepared:
    compiled = statement.compile(dialect=dialect)
    return _Prepared(
        str(compiled),
        tuple(compiled.positiontup or ()),
        tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        ),
    )


class FastReads:
    """Reads prepared statements with the fewest hops the backend allows."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._async = engine
        self._sync: Engine | None = None
        self._raw: PoolProxiedConnection | None = None
        self._prepared: dict[Select[Any], _Prepared] = {}
        url = engine.url
        if url.get_backend_name() == "sqlite":
            sync_url = url.set(drivername="sqlite+pysqlite")
            # One connection, used only from the event loop's thread.
            self._sync = create_sync_engine(
                sync_url, connect_args={"timeout": 5}, poolclass=SingletonThreadPool
            )
            event.listen(self._sync, "connect", sqlite_pragmas)

    async def rows(self, statement: Select[Any], params: Mapping[str, Any]) -> list[Row]:
        """The rows of `statement` (built once, module level: it is also the cache key) with
        `params`, each a tuple of the selected columns' values."""
        if self._sync is not None:
            return self._sqlite_rows(self._sync, statement, params)
        async with self._async.connect() as conn:
            return await conn.run_sync(_core_rows, statement, params)

    def _sqlite_rows(
        self, engine: Engine, statement: Select[Any], params: Mapping[str, Any]
    ) -> list[Row]:
        prepared = self._prepared.get(statement)
        if prepared is None:
            prepared = self._prepared[statement] = _prepare(statement, engine.dialect)
        if self._raw is None:
            self._raw = engine.raw_connection()
        cursor = self._raw.cursor()
        try:
            # No transaction is opened (pysqlite begins one only for writes): the one SELECT
            # reads one snapshot.
            cursor.execute(prepared.sql, tuple(params[name] for name in prepared.params))
            fetched: Sequence[Row] = cursor.fetchall()
        except engine.dialect.loaded_dbapi.Error as exc:
            # Raised as SQLAlchemy would (OperationalError etc.), so callers map it the same way.
            raise DBAPIError.instance(
                prepared.sql, params, exc, engine.dialect.loaded_dbapi.Error
            ) from exc
        finally:
            cursor.close()
        processors = prepared.processors
        return [
            tuple(v if p is None else p(v) for p, v in zip(processors, row, strict=True))
            for row in fetched
        ]

    def close(self) -> None:
        """Release the SQLite connection."""
        if self._raw is not None:
            self._raw.close()
            self._raw = None
        if self._sync is not None:
            self._sync.dispose()


def _core_rows(conn: Connection, statement: Select[Any], params: Mapping[str, Any]) -> list[Row]:
    return [tuple(row) for row in conn.execute(statement, dict(params))]
