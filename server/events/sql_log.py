"""The embedded event log: events in the database, so a WatchEvents resume survives a restart.

Used whenever no Redis is configured, on SQLite and PostgreSQL alike, by one control-plane
process. That process numbers events itself (one INSERT each, under a lock, so watchers see
revisions in order and gap-free), keeps the newest in a ring that watchers fan out from, and
replays older ones from the table. A background task deletes all but the newest `retain` rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, nullcontext

import aiosqlite
from sqlalchemy import Row, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.db.models import EventRow
from server.events.log import DEFAULT_RETAIN, StoredEvent, _Ring, _time_base, compacted

log = logging.getLogger(__name__)

_PAGE = 1000  # rows per SELECT when replaying from the table
_TRIM_BATCH = 5000  # rows per DELETE: short transactions, so appends never wait long on SQLite
_ATTEMPTS = 3
_COLUMNS = (EventRow.revision, EventRow.kind, EventRow.subject, EventRow.payload)
# The same INSERT as the SQLAlchemy path, for the driver directly (create_time is the server's
# default): one thread hop per statement instead of ~8 through SQLAlchemy's aiosqlite adapter,
# which measured ~80 µs of CPU per append instead of ~1.4 ms.
_SQLITE_INSERT = "INSERT INTO events (revision, kind, subject, payload) VALUES (?, ?, ?, ?)"


def _stored(row: Row[int, str, str, bytes]) -> StoredEvent:
    revision, kind, subject, payload = row
    return StoredEvent(revision, kind, subject, payload)


class SqlEventLog:
    """Event log over the `events` table, written by one process."""

    def __init__(
        self,
        engine: AsyncEngine,
        retain: int = DEFAULT_RETAIN,
        ring_size: int = 10_000,
        trim_every_s: float = 5.0,
        write_turn: Callable[[], AbstractAsyncContextManager[None]] = nullcontext,
    ) -> None:
        if retain < 1:
            raise ValueError("retain must keep at least one event")
        self._engine = engine
        # Shared with the session factory on SQLite, so event inserts queue behind other
        # writes in process instead of sleeping in SQLite's busy handler.
        self._write_turn = write_turn
        self._retain = retain
        self._ring_size = min(retain, ring_size)
        self._trim_every = trim_every_s
        self._ring: _Ring | None = None
        self._lock = asyncio.Lock()  # one append at a time: revisions reach the ring in order
        self._writer: AsyncConnection | None = None  # SQLite: held for the fast INSERT path
        self._sqlite: aiosqlite.Connection | None = None
        self._stopping = asyncio.Event()
        self._trim_task: asyncio.Task[None] | None = None
        self._trimmed_up_to = 0  # newest revision the last trim looked at

    async def start(self) -> None:
        """Load the newest events into memory and start the retention task."""
        async with self._engine.connect() as conn:
            result = await conn.execute(
                select(*_COLUMNS).order_by(EventRow.revision.desc()).limit(self._ring_size)
            )
            rows = result.all()
        # An empty table (new install, or emptied by hand) starts from the time-based base the
        # other logs use, never 0 ("from now"): revisions stay above any handed out before, so a
        # stale resume point gets REVISION_COMPACTED instead of a silent gap.
        newest = rows[0].revision if rows else _time_base()
        ring = _Ring(self._ring_size, newest)
        ring.events.extend(_stored(row) for row in reversed(rows))  # no watchers yet
        if self._engine.dialect.name == "sqlite":
            # A pooled connection (so it has the engine's pragmas), kept for appends only.
            self._writer = await self._engine.connect()
            raw = await self._writer.get_raw_connection()
            self._sqlite = raw.driver_connection
        self._ring = ring
        self._trim_task = asyncio.create_task(self._trim_forever(), name="event-log-trim")

    def _started(self) -> _Ring:
        if self._ring is None:
            raise RuntimeError("SqlEventLog.start() was not called")
        return self._ring

    async def append(self, kind: str, subject: str, payload: bytes) -> int:
        """Store an event in its own short transaction; returns its revision."""
        self._started()
        # Shielded: the change behind the event is committed, so the event is stored even if
        # the caller is cancelled meanwhile, and the ring never misses a committed revision.
        return await asyncio.shield(self._append(kind, subject, payload))

    async def _append(self, kind: str, subject: str, payload: bytes) -> int:
        ring = self._started()
        async with self._lock:
            for _ in range(_ATTEMPTS):
                revision = ring.revision + 1
                try:
                    await self._insert(revision, kind, subject, payload)
                except (IntegrityError, sqlite3.IntegrityError):
                    log.warning(
                        "event revision %d was taken by another writer (a second control plane "
                        "on this database needs CAMFLEET_REDIS_URL); catching up",
                        revision,
                    )
                    await self._catch_up(ring)
                    continue
                await ring.add(StoredEvent(revision, kind, subject, payload))
                return revision
        raise RuntimeError(
            "another process keeps writing the event log of this database; control planes "
            "sharing a database need CAMFLEET_REDIS_URL"
        )

    async def _insert(self, revision: int, kind: str, subject: str, payload: bytes) -> None:
        if self._sqlite is not None:
            async with self._write_turn():
                try:
                    await self._sqlite.execute(_SQLITE_INSERT, (revision, kind, subject, payload))
                    await self._sqlite.commit()
                except BaseException:  # never leave the writer inside a transaction
                    await self._sqlite.rollback()
                    raise
            return
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(EventRow).values(
                    revision=revision, kind=kind, subject=subject, payload=payload
                )
            )

    async def _catch_up(self, ring: _Ring) -> None:
        """Add to the ring what the table holds beyond it (written by someone else)."""
        async with self._engine.connect() as conn:
            result = await conn.execute(
                select(*_COLUMNS)
                .where(EventRow.revision > ring.revision)
                .order_by(EventRow.revision)
            )
            rows = result.all()
        for row in rows:
            await ring.add(_stored(row))

    async def current_revision(self) -> int:
        """The newest revision."""
        return self._started().revision

    async def _oldest(self) -> int | None:
        async with self._engine.connect() as conn:
            oldest: int | None = await conn.scalar(select(func.min(EventRow.revision)))
            return oldest

    async def _page(self, cursor: int) -> list[StoredEvent]:
        """The next events after `cursor` from the table; REVISION_COMPACTED if retention
        already deleted the one right after it."""
        async with self._engine.connect() as conn:
            result = await conn.execute(
                select(*_COLUMNS)
                .where(EventRow.revision > cursor)
                .order_by(EventRow.revision)
                .limit(_PAGE)
            )
            events = [_stored(row) for row in result]
            # Read the oldest kept after the page, not before: rows retention deleted before the
            # page was read are then below `oldest` too, so the gap cannot go unnoticed.
            oldest: int | None = await conn.scalar(select(func.min(EventRow.revision)))
        if oldest is None or cursor + 1 < oldest or not events:
            raise compacted(cursor, oldest if oldest is not None else self._started().oldest())
        return events

    async def watch(self, after_revision: int) -> AsyncIterator[StoredEvent]:
        """Every event after `after_revision` (0: from now on), then new ones as they come."""
        ring = self._started()
        if after_revision > ring.revision:  # from another history (e.g. another database)
            oldest = await self._oldest()
            raise compacted(after_revision, oldest if oldest is not None else ring.oldest())
        cursor = after_revision or ring.revision
        while True:
            if cursor + 1 < ring.oldest():
                # Older than the ring, or a slow watcher the ring moved past: from the table.
                for event in await self._page(cursor):
                    yield event
                    cursor = event.revision
                continue
            for event in ring.after(cursor):
                yield event
                cursor = event.revision
            await ring.wait_past(cursor, at_most_s=30.0)

    async def trim(self) -> int:
        """Delete all but the newest `retain` events now; returns how many were deleted."""
        newest = self._started().revision
        if newest == self._trimmed_up_to:
            return 0
        cut = newest - self._retain  # revisions are gap-free: delete those <= cut
        deleted = 0
        while True:
            oldest = await self._oldest()
            if oldest is None or oldest > cut:
                break
            async with self._engine.begin() as conn:
                result = await conn.execute(
                    delete(EventRow).where(EventRow.revision <= min(cut, oldest + _TRIM_BATCH - 1))
                )
                deleted += result.rowcount
        self._trimmed_up_to = newest
        return deleted

    async def _trim_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.trim()
            except Exception:  # the log keeps working; retention tries again next round
                log.exception(
                    "event log retention failed; trying again in %.0f s", self._trim_every
                )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._trim_every):
                    await self._stopping.wait()

    async def close(self) -> None:
        """Stop the retention task (it finishes a running batch first) and release the writer."""
        self._stopping.set()
        if self._trim_task is not None:
            # Awaiting the task under a timeout cancels it if a batch hangs.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    await self._trim_task
        async with self._lock:  # after a running append
            if self._writer is not None:
                self._sqlite = None
                await self._writer.close()
                self._writer = None
