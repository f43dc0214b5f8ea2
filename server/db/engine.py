"""The async engine and session factory for SQLite (embedded default) or PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import weakref
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from server.db.outbox import RELAY_SLOT, OutboxSession, Relay, RelaySlot, written_revision


def create_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    """Engine for `url`; SQLite gets WAL, foreign keys and a busy timeout on every connection.
    PostgreSQL keeps `pool_size` connections and opens as many again for a burst: every replica
    can hold 2 x `pool_size`, and PostgreSQL refuses clients past its max_connections (100 by
    default), which would also keep a replica from taking part in the leader election."""
    if url.startswith("sqlite"):
        engine = create_async_engine(
            url, connect_args={"timeout": 30, "factory": ClosingSqliteConnection}
        )
        event.listen(engine.sync_engine, "connect", sqlite_pragmas)
        return engine
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args={"options": _pg_options(url)},
    )


def _pg_options(url: str) -> str:
    """libpq's `options` for our sessions: the URL's own (an operator's search_path, say) and
    the idle-in-transaction timeout below (connect_args would replace the URL's, not add)."""
    given = make_url(url).query.get("options", "")
    own = " ".join(given) if isinstance(given, tuple) else given
    return f"{own} -c {_IDLE_IN_TRANSACTION}={IDLE_IN_TRANSACTION_MS}".strip()


# PostgreSQL ends a session that sits in an open transaction this long without a statement. Ours
# run a few statements and commit; one sitting idle belongs to a stalled process (a hung host,
# SIGSTOP, a partition without a reset), and its locks would hold everyone else forever: a
# stalled leader's fenced write holds the leader row FOR SHARE, so the next leader's claim
# waited for it and the fleet had no leader (CI, test_replicas' stalled leader). 15 s: after the
# leader lock's own idle timeout (10 s, server/leader/advisory.py), far beyond any real pause.
IDLE_IN_TRANSACTION_MS = 15_000
_IDLE_IN_TRANSACTION = "idle_in_transaction_session_timeout"


# Companions SQLite keeps beside a database file. It creates them with the database file's own
# mode, so a database made 0600 gets 0600 companions; ones left by older versions are tightened.
_SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


# Files of ours directly in the data directory that hold secrets: the database and its
# companions (signing keys, the playback secret, every stream key) and ./start's kept admin
# password. Only these: the directory may be one the operator also keeps other files in.
_SECRET_FILES = ("camfleet.db", "admin-password")


def secure_data_dir(data_dir: Path) -> None:
    """Make the data directory owner-only (0700) and the secret files in it 0600, also when an
    older version left them 0755/0644.

    One exception: traversal (0710, no listing) for a group the directory was deliberately
    given to, another than ours: ./start gives it to nginx's worker group, whose unprivileged
    workers must pass through to the node agent's media in DATA_DIR/node. They still cannot
    list the directory or read a secret file (0600)."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = data_dir.stat()
    shared = st.st_gid != os.getegid() and st.st_mode & 0o010
    os.chmod(data_dir, 0o710 if shared else 0o700)
    for entry in data_dir.iterdir():
        if (
            entry.name.startswith(_SECRET_FILES)
            and entry.is_file()
            and not entry.is_symlink()
            and entry.stat().st_mode & 0o077
        ):
            os.chmod(entry, 0o600)


def secure_sqlite_file(url: str) -> None:
    """For a SQLite `url`: create its file 0600 if it does not exist yet (before SQLite does,
    with the umask's mode) and tighten it and its companions (-wal, -shm) to 0600."""
    if not url.startswith("sqlite"):
        return
    database = make_url(url).database
    if not database or database == ":memory:":
        return
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # an empty file is a new database
    for suffix in _SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        if companion.exists() and companion.stat().st_mode & 0o077:
            os.chmod(companion, 0o600)


def sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    """Settings every SQLite connection needs (attached to the engine's connect event)."""
    # WAL lets readers run while one writer commits; NORMAL sync is durable across process
    # crashes in WAL mode; foreign keys are off by default in SQLite.
    cursor: Any = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class ClosingSqliteConnection(sqlite3.Connection):
    """A SQLite connection whose close() really closes it, ending its transaction.

    When a task is cancelled mid-statement (a leader job stopped at step-down), SQLAlchemy
    invalidates the connection without closing the statement's cursor or rolling back, and
    closes the connection (on aiosqlite's thread, once the statement there has finished). But
    Python's sqlite3 close() leaves a connection whose cursor still has an unfinished statement
    open as a "zombie" (sqlite3_close_v2) that keeps its transaction, and with it the write
    lock, until that cursor is freed. The cursor is reachable from the cancellation's traceback,
    so that lasts as long as anyone holds the cancelled task (or until the garbage collector
    runs): every other writer waited out busy_timeout and failed with "database is locked".
    Rolling back and closing the cursors first lets close() really close."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cursors: weakref.WeakSet[sqlite3.Cursor] = weakref.WeakSet()

    def cursor(self, *args: Any, **kwargs: Any) -> sqlite3.Cursor:  # type: ignore[override]
        made: sqlite3.Cursor = super().cursor(*args, **kwargs)
        self._cursors.add(made)
        return made

    # The C shortcuts make their cursor without calling cursor(): route them through it.
    def execute(self, *args: Any) -> sqlite3.Cursor:
        return self.cursor().execute(*args)

    def executemany(self, *args: Any) -> sqlite3.Cursor:
        return self.cursor().executemany(*args)

    def close(self) -> None:
        # Closed already (a second close is a no-op) or failing: close() must still close.
        with contextlib.suppress(sqlite3.Error):
            if self.in_transaction:
                self.rollback()  # first: the lock is free even if a cursor will not close
        for cursor in list(self._cursors):
            with contextlib.suppress(sqlite3.Error):
                cursor.close()
        super().close()


class _WriteTurns:
    """One write transaction at a time in this process. SQLite has a single writer, and a
    connection that finds the lock taken waits in SQLite's busy handler, which sleeps in steps
    of up to 100 ms: under a burst of writes (a fleet of nodes reconnecting) every transaction
    cost ~90 ms of waiting. Queueing on an asyncio lock instead hands the lock over at once.
    Reentrant per task, so a transaction that opens another in the same task cannot deadlock."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is not None and self._owner is task:
            yield
            return
        async with self._lock:
            self._owner = task
            try:
                yield
            finally:
                self._owner = None


class Sessions(async_sessionmaker[AsyncSession]):
    """Sessions that keep loaded objects usable after commit (we map them to protos afterwards)
    and write the events staged in them in their own transaction (server/db/outbox.py).
    `begin()` returns once watchers can see those events, so a caller that watches after a
    change returned never sees it as news."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._slot = RelaySlot()
        super().__init__(
            engine,
            expire_on_commit=False,
            sync_session_class=OutboxSession,
            info={RELAY_SLOT: self._slot},
        )

    def relay_to(self, relay: Relay) -> None:
        """Tell `relay` about every commit that wrote events."""
        self._slot.relay = relay

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:  # type: ignore[override]
        async with self._transaction() as session:
            yield session
        revision = written_revision(session)
        if revision is not None and self._slot.relay is not None:
            await self._slot.relay.relayed(revision)

    def _transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        return super().begin()


class _SqliteSessions(Sessions):
    """`begin()` waits for its turn to write (see _WriteTurns); plain sessions do not."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self._turns = _WriteTurns()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        async with self._turns.turn(), super()._transaction() as session:
            yield session


def session_factory(engine: AsyncEngine) -> Sessions:
    """Sessions for `engine` (SQLite's take turns to write: see _WriteTurns)."""
    if engine.dialect.name == "sqlite":
        return _SqliteSessions(engine)
    return Sessions(engine)
