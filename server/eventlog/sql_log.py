"""The embedded event log: the outbox table is the log, so a WatchEvents resume survives a
restart.

Used whenever no Redis is configured, on SQLite and PostgreSQL alike. Events are rows written
in the transaction of their change (server/db/outbox.py); a relay task reads the rows committed
after the newest it has, in revision order, into a ring that watchers fan out from (woken by
this process's commits, polling for anyone else's). Older events are replayed from the table.
A background task deletes all but the newest `retain` rows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncEngine

from server.db.engine import Sessions
from server.eventlog import table
from server.eventlog.fed import TableFedLog
from server.eventlog.log import DEFAULT_RETAIN, StoredEvent, _Ring, compacted

log = logging.getLogger(__name__)


class SqlEventLog(TableFedLog):
    """Event log over the `events` table."""

    def __init__(
        self,
        engine: AsyncEngine,
        sessions: Sessions | None = None,
        *,
        retain: int = DEFAULT_RETAIN,
        ring_size: int = 10_000,
        trim_every_s: float = 5.0,
        poll_s: float = 1.0,
    ) -> None:
        super().__init__(engine, sessions, poll_s)
        self._ring_size = min(retain, ring_size)
        self._retention = table.Retention(
            engine, lambda: self._started().revision, retain, trim_every_s
        )

    async def start(self) -> None:
        """Load the newest events into memory and start relaying and retention."""
        rows = await table.newest_rows(self._engine, self._ring_size)
        # An empty table (new install, or emptied by hand) starts from the counter, which never
        # starts at 0 ("from now"): a stale resume point gets REVISION_COMPACTED, not a gap.
        newest = rows[-1].revision if rows else await table.counter(self._engine)
        ring = _Ring(self._ring_size, newest)
        ring.events.extend(rows)  # no watchers yet
        self._ring = ring
        self._relay.cursor = newest
        self._sessions.relay_to(self)
        self._tasks = [
            asyncio.create_task(self._relay.run_forever(), name="event-relay"),
            asyncio.create_task(self._retention.run_forever(), name="event-log-trim"),
        ]

    async def _deliver(self, events: list[StoredEvent]) -> int:
        ring = self._started()
        for event in events:
            await ring.add(event)
        return ring.revision

    async def current_revision(self) -> int:
        """The newest revision relayed."""
        return self._started().revision

    async def _page(self, cursor: int) -> list[StoredEvent]:
        """The next events after `cursor` from the table; REVISION_COMPACTED if retention
        already deleted the one right after it."""
        events = await table.rows_after(self._engine, cursor)
        # Read the oldest kept after the page, not before: rows retention deleted before the
        # page was read are then below `oldest` too, so the gap cannot go unnoticed.
        oldest = await table.oldest_revision(self._engine)
        if oldest is None or cursor + 1 < oldest or not events:
            raise compacted(cursor, oldest if oldest is not None else self._started().oldest())
        return events

    async def watch(self, after_revision: int) -> AsyncIterator[StoredEvent]:
        """Every event after `after_revision` (0: from now on), then new ones as they come."""
        ring = self._started()
        if after_revision > ring.revision:  # from another history (e.g. another database)
            oldest = await table.oldest_revision(self._engine)
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
        return await self._retention.trim()
