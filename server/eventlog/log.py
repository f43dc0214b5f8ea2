"""The event log behind WatchEvents: every change gets a strictly increasing revision.

Every event is first a row of the `events` table, written in the transaction of its change
(the outbox, server/db/outbox.py, which also says how revisions stay in commit order). Two
backends relay those rows to watchers, with one interface (the tests run both):
- `SqlEventLog` (server/eventlog/sql_log.py; embedded default): the table is the log, so a
  watcher resumes across a restart of the control plane.
- `RedisEventLog` (server/eventlog/redis_log.py; replicas): each replica relays the table into a
  Redis Stream, idempotently by revision, and tails the stream into a local ring; watchers fan
  out from that ring, so 500 watchers cost one Redis connection, not 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from server.common.tasks import raise_if_cancelling
from server.errors import FailedPrecondition

log = logging.getLogger(__name__)

DEFAULT_RETAIN = 100_000


@dataclass(frozen=True)
class StoredEvent:
    """One event: its revision, kind, subject ("cameras/<id>") and serialized body."""

    revision: int
    kind: str
    subject: str
    payload: bytes


def compacted(after: int, oldest: int) -> FailedPrecondition:
    """The error for a resume point the log no longer holds."""
    return FailedPrecondition(
        f"revision {after} is no longer available (oldest kept is {oldest}); list the "
        "resources again and watch from the revision that list returned",
        reason="REVISION_COMPACTED",
        metadata={"oldest_revision": str(oldest)},
    )


class EventLog(Protocol):
    """Append events and follow them from a revision."""

    async def append(self, kind: str, subject: str, payload: bytes) -> int:
        """Store an event that belongs to no transaction of its own (a live metric); returns
        its revision. Changes stage theirs in their transaction instead (stage_event)."""
        ...

    async def current_revision(self) -> int:
        """The newest revision."""
        ...

    def watch(self, after_revision: int) -> AsyncIterator[StoredEvent]:
        """Every event after `after_revision` (0: from now on), then new ones as they come.
        Raises FailedPrecondition(REVISION_COMPACTED) when that point was dropped."""
        ...

    async def close(self) -> None:
        """Stop background work."""
        ...


class _Ring:
    """Recent events in memory, and a way to wait for the next one."""

    def __init__(self, retain: int, revision: int) -> None:
        self.events: deque[StoredEvent] = deque(maxlen=retain)
        self.revision = revision  # newest revision known here
        self.changed = asyncio.Condition()

    async def add(self, event: StoredEvent) -> None:
        async with self.changed:
            self.events.append(event)
            self.revision = event.revision
            self.changed.notify_all()

    def oldest(self) -> int:
        return self.events[0].revision if self.events else self.revision + 1

    def after(self, cursor: int) -> list[StoredEvent]:
        if not self.events or self.events[-1].revision <= cursor:
            return []
        # Revisions in the ring are consecutive, so the position is arithmetic: scanning the
        # whole ring on every wake-up of every watcher cost 5-12x per delivery once it was full.
        start = cursor + 1 - self.events[0].revision
        if 0 <= start < len(self.events) and self.events[start].revision == cursor + 1:
            return list(itertools.islice(self.events, start, None))
        return [e for e in self.events if e.revision > cursor]  # a gap: the slow, sure way

    async def reached(self, revision: int, at_most_s: float) -> bool:
        """Wait until the ring holds `revision`; False if it did not within `at_most_s`."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(at_most_s), self.changed:
                await self.changed.wait_for(lambda: self.revision >= revision)
        return self.revision >= revision

    async def wait_past(self, cursor: int, at_most_s: float) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that
        # races with the wake-up (CPython gh-86296), and a watcher that loses its cancellation
        # loops here forever.
        async with self.changed:
            if self.revision <= cursor:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(at_most_s):
                        await self.changed.wait()

    async def follow(self, cursor: int) -> AsyncIterator[StoredEvent]:
        """Events after `cursor` from the ring, forever; REVISION_COMPACTED if the reader falls
        behind the ring's oldest event."""
        while True:
            raise_if_cancelling()
            if cursor + 1 < self.oldest() and self.events:
                raise compacted(cursor, self.oldest())
            for event in self.after(cursor):
                yield event
                cursor = event.revision
            await self.wait_past(cursor, at_most_s=30.0)
