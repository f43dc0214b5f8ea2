"""The `events` table (the outbox) as the event logs use it: rows after a revision, appends in
their own transaction, a relay that follows new rows, and retention."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import Row, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.common.tasks import raise_if_cancelling
from server.db.models import EventCounterRow, EventRow
from server.db.outbox import stage_event, written_revision
from server.eventlog.log import StoredEvent, _Ring

log = logging.getLogger(__name__)

PAGE = 1000  # rows per SELECT when replaying or relaying from the table
_TRIM_BATCH = 5000  # rows per DELETE: short transactions, so writers never wait long on SQLite
_SHOWN_WAIT_S = 10.0  # how long a committed change waits for watchers to be able to see it
_COLUMNS = (EventRow.revision, EventRow.kind, EventRow.subject, EventRow.payload)


def _stored(row: Row[int, str, str, bytes]) -> StoredEvent:
    revision, kind, subject, payload = row
    return StoredEvent(revision, kind, subject, payload)


async def rows_after(engine: AsyncEngine, cursor: int, limit: int = PAGE) -> list[StoredEvent]:
    """Up to `limit` committed events after `cursor`, oldest first."""
    async with engine.connect() as conn:
        result = await conn.execute(
            select(*_COLUMNS)
            .where(EventRow.revision > cursor)
            .order_by(EventRow.revision)
            .limit(limit)
        )
        return [_stored(row) for row in result]


async def newest_rows(engine: AsyncEngine, limit: int) -> list[StoredEvent]:
    """The newest `limit` events, oldest first."""
    async with engine.connect() as conn:
        result = await conn.execute(
            select(*_COLUMNS).order_by(EventRow.revision.desc()).limit(limit)
        )
        return [_stored(row) for row in reversed(result.all())]


async def oldest_revision(engine: AsyncEngine) -> int | None:
    """The oldest event the table still keeps."""
    async with engine.connect() as conn:
        oldest: int | None = await conn.scalar(select(func.min(EventRow.revision)))
        return oldest


async def counter(engine: AsyncEngine) -> int:
    """The newest revision handed out (committed)."""
    async with engine.connect() as conn:
        return int(await conn.scalar(select(EventCounterRow.revision)) or 0)


async def raise_counter(engine: AsyncEngine, at_least: int) -> None:
    """Make the next revision come after `at_least` (revisions an older store handed out)."""
    async with engine.begin() as conn:
        await conn.execute(
            update(EventCounterRow)
            .where(EventCounterRow.id == 1, EventCounterRow.revision < at_least)
            .values(revision=at_least)
        )


class Appender:
    """Stores events that belong to no other transaction, one at a time in call order (so
    this process's appends get revisions in the order they were made)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._lock = asyncio.Lock()

    async def append(self, kind: str, subject: str, payload: bytes) -> int:
        """Store an event in its own transaction; returns its revision once watchers see it."""
        # Shielded: a caller cancelled meanwhile (a client hanging up) still gets its event.
        return await asyncio.shield(self._append(kind, subject, payload))

    async def _append(self, kind: str, subject: str, payload: bytes) -> int:
        async with self._lock, self._sessions.begin() as session:
            stage_event(session, kind, subject, payload)
        revision = written_revision(session)
        assert revision is not None  # a committed session that staged an event wrote it
        return revision


async def trim(engine: AsyncEngine, cut: int) -> int:
    """Delete the events up to revision `cut`, in short batches; returns how many went."""
    deleted = 0
    while True:
        oldest = await oldest_revision(engine)
        if oldest is None or oldest > cut:
            return deleted
        async with engine.begin() as conn:
            result = await conn.execute(
                delete(EventRow).where(EventRow.revision <= min(cut, oldest + _TRIM_BATCH - 1))
            )
            deleted += result.rowcount


# Hands a batch of new events, in revision order, onwards; returns the revision now relayed.
Deliver = Callable[[list[StoredEvent]], Awaitable[int]]


class TableRelay:
    """Follows the table from a revision and delivers every new row once, in order. Woken by
    this process's commits; polls for other processes' and to recover from a failed round, so
    a relay that died (with its process) resumes from where its cursor was kept."""

    def __init__(self, engine: AsyncEngine, cursor: int, deliver: Deliver, poll_s: float) -> None:
        self._engine = engine
        self.cursor = cursor
        self._deliver = deliver
        self._poll_s = poll_s
        self._wake = asyncio.Event()
        self.failing = False  # the last round could not read or deliver

    def wake(self) -> None:
        """New rows committed here: look now rather than at the next poll."""
        self._wake.set()

    async def shown(self, ring: _Ring, revision: int) -> None:
        """Return once `ring` holds `revision`. At once while relaying fails: the event is
        committed and reaches watchers when the store is back, so the caller need not wait."""
        deadline = asyncio.get_running_loop().time() + _SHOWN_WAIT_S
        # In slices, so a relay that starts failing meanwhile releases the caller too.
        while not self.failing and not await ring.reached(revision, 0.25):
            if asyncio.get_running_loop().time() > deadline:
                log.warning("event %d is committed, not relayed yet", revision)
                return

    async def run_forever(self) -> None:
        """Relay until cancelled."""
        while True:
            raise_if_cancelling()
            self._wake.clear()
            try:
                batch = await rows_after(self._engine, self.cursor)
                if batch:
                    self.cursor = max(self.cursor, await self._deliver(batch))
                self.failing = False
                if len(batch) == PAGE:
                    continue  # more are waiting
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a store is down: try again at the next poll
                raise_if_cancelling()
                if not self.failing:
                    log.warning("relaying events failed (%s); retrying", exc)
                self.failing = True
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_s):
                    await self._wake.wait()


class Retention:
    """Deletes all but the newest `retain` events, every `every_s` seconds."""

    def __init__(
        self, engine: AsyncEngine, newest: Callable[[], int], retain: int, every_s: float
    ) -> None:
        if retain < 1:
            raise ValueError("retain must keep at least one event")
        self._engine = engine
        self._newest = newest
        self._retain = retain
        self._every_s = every_s
        self._trimmed_up_to = 0  # newest revision the last trim looked at

    async def trim(self) -> int:
        """Trim now; returns how many events were deleted."""
        newest = self._newest()
        if newest == self._trimmed_up_to:
            return 0
        deleted = await trim(self._engine, newest - self._retain)  # revisions are gap-free
        self._trimmed_up_to = newest
        return deleted

    async def run_forever(self) -> None:
        """Trim until cancelled; a failed round is tried again the next."""
        while True:
            raise_if_cancelling()
            try:
                await self.trim()
            except asyncio.CancelledError:
                raise
            except Exception:
                raise_if_cancelling()
                log.exception("event log retention failed; trying again in %.0f s", self._every_s)
            await asyncio.sleep(self._every_s)
