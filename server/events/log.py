"""The event log behind WatchEvents: every change gets a strictly increasing revision.

Two backends with one interface (the tests run both):
- `SqlEventLog` (server/events/sql_log.py; embedded default, one process): events in the
  database, so a watcher resumes across a restart of the control plane.
- `RedisEventLog` (replicas): a Redis Stream. A Lua script takes the next revision and appends
  in one step, so revisions are gap-free and ordered across replicas. Each replica runs one
  reader that tails the stream into a local ring; watchers fan out from that ring, so 500
  watchers cost one Redis connection, not 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

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
        """Store an event; returns its revision."""
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
            if cursor + 1 < self.oldest() and self.events:
                raise compacted(cursor, self.oldest())
            for event in self.after(cursor):
                yield event
                cursor = event.revision
            await self.wait_past(cursor, at_most_s=30.0)


def _time_base() -> int:
    """Milliseconds since the epoch times 1024: above any revision handed out before now (at
    most 1024 events a millisecond on average), well inside int64."""
    return int(time.time() * 1000) << 10


# Lua numbers are doubles: '..' would print a large revision as "1.8e+15", so format it as an
# integer (exact below 2^53; the time-based base stays below that until the year 2248).
_APPEND = """
local rev = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], string.format('0-%d', rev),
           'k', ARGV[1], 's', ARGV[2], 'p', ARGV[3])
return rev
"""


def _revision_of(stream_id: bytes | str) -> int:
    text = stream_id.decode() if isinstance(stream_id, bytes) else stream_id
    return int(text.split("-", 1)[1])


def _event(entry_id: object, fields: object) -> StoredEvent:
    """A stream entry as redis-py returns it (bytes keys and values; its types are loose)."""
    assert isinstance(entry_id, bytes | str) and isinstance(fields, dict)
    return StoredEvent(
        _revision_of(entry_id), fields[b"k"].decode(), fields[b"s"].decode(), fields[b"p"]
    )


def _entries(reply: object) -> list[tuple[object, object]]:
    """(id, fields) pairs of an XRANGE reply ([(id, fields), …]) or an XREAD reply
    ([[stream, [(id, fields), …]], …]); redis-py types both loosely."""
    if not isinstance(reply, list):
        return []
    pairs: list[tuple[object, object]] = []
    for item in reply:
        if isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[1], list):
            pairs.extend((e[0], e[1]) for e in item[1])  # XREAD: one stream's entries
        elif isinstance(item, list | tuple) and len(item) == 2:
            pairs.append((item[0], item[1]))
    return pairs


class RedisEventLog:
    """Redis Streams log shared by every replica."""

    def __init__(self, redis: Redis, prefix: str, retain: int = DEFAULT_RETAIN) -> None:
        self._redis = redis
        self._stream = f"{prefix}events"
        self._counter = f"{prefix}events:revision"
        self._retain = retain
        self._script = redis.register_script(_APPEND)
        self._ring: _Ring | None = None
        self._tail_task: asyncio.Task[None] | None = None
        self._closing = False

    async def start(self) -> None:
        """Begin tailing the stream from its current end."""
        # Seed the counter like the in-process log (never 0, which means "from now"): if Redis
        # loses it, new revisions still start above every old one and stale resume points get
        # REVISION_COMPACTED instead of silently skipping events.
        await self._redis.set(self._counter, _time_base(), nx=True)
        current = await self.current_revision()
        self._ring = _Ring(min(self._retain, 10_000), current)
        self._tail_task = asyncio.create_task(self._tail(current), name="event-log-tail")

    async def _tail(self, cursor: int) -> None:
        assert self._ring is not None
        while not self._closing:
            try:
                # Block under redis-py's default 5 s socket timeout, then loop.
                reply = await self._redis.xread(
                    {self._stream: f"0-{cursor}"}, count=1000, block=2_000
                )
            except RedisError as exc:
                # redis-py can turn a cancellation during a blocking read into a RedisError;
                # when closing, that is the end, not a reason to retry.
                if self._closing:
                    return
                log.warning("event stream read failed (%s); retrying", exc)
                await asyncio.sleep(1.0)
                continue
            for entry_id, fields in _entries(reply):
                event = _event(entry_id, fields)
                cursor = event.revision
                await self._ring.add(event)

    async def append(self, kind: str, subject: str, payload: bytes) -> int:
        rev = await self._script(
            keys=[self._stream, self._counter], args=[kind, subject, payload, self._retain]
        )
        return int(rev)

    async def current_revision(self) -> int:
        return int(await self._redis.get(self._counter) or 0)

    async def _history(self, cursor: int, until: int) -> AsyncIterator[StoredEvent]:
        """Events in (cursor, until] from Redis, for resume points older than the ring."""
        first = _entries(await self._redis.xrange(self._stream, count=1))
        oldest = _event(*first[0]).revision if first else until + 1
        if cursor + 1 < oldest:
            raise compacted(cursor, oldest)
        while cursor < until:
            entries = await self._redis.xrange(
                self._stream, min=f"0-{cursor + 1}", max=f"0-{until}", count=500
            )
            if not entries:
                return
            for entry_id, fields in entries:
                event = _event(entry_id, fields)
                cursor = event.revision
                yield event

    async def watch(self, after_revision: int) -> AsyncIterator[StoredEvent]:
        ring = self._ring
        if ring is None:
            raise RuntimeError("RedisEventLog.start() was not called")
        current = await self.current_revision()
        cursor = after_revision or current
        if cursor > current:
            raise compacted(after_revision, ring.oldest())
        if cursor + 1 < ring.oldest():
            # Older than this replica's ring: replay from Redis up to what the ring holds.
            async for event in self._history(cursor, ring.oldest() - 1):
                yield event
                cursor = event.revision
        async for event in ring.follow(cursor):
            yield event

    async def close(self) -> None:
        self._closing = True
        if self._tail_task is not None:
            self._tail_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tail_task
