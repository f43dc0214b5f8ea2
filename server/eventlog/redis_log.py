"""The event log of replicas: the outbox table relayed into a Redis Stream.

Every replica relays the `events` table (server/db/outbox.py) into one stream. A Lua script
adds each event under its revision and only if the stream does not have it yet, so replicas
relaying the same rows at once, or a relay resuming after a crash, add each revision exactly
once and in order. The stream's counter key is the newest revision relayed: what a list returns
and where a relay resumes. Each replica tails the stream into a local ring that watchers fan
out from, so 500 watchers cost one Redis connection, not 500.

A prefix's stream carries one database's events: control planes that share a prefix must share
the database (replicas), or one's revisions would be taken for the other's already relayed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine

from server.db.engine import Sessions
from server.eventlog import table
from server.eventlog.fed import TableFedLog
from server.eventlog.log import DEFAULT_RETAIN, StoredEvent, _Ring, compacted

log = logging.getLogger(__name__)

# ARGV: maxlen, then (revision, kind, subject, payload) per event, in revision order. Lua
# numbers are doubles: '..' would print a large revision as "1.8e+15", so format it as an
# integer (exact below 2^53; the time-based revisions stay below that until the year 2248).
_RELAY = """
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
for i = 2, #ARGV, 4 do
  local rev = tonumber(ARGV[i])
  if rev > last then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], string.format('0-%d', rev),
               'k', ARGV[i + 1], 's', ARGV[i + 2], 'p', ARGV[i + 3])
    last = rev
  end
end
redis.call('SET', KEYS[2], string.format('%d', last))
return string.format('%d', last)
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


class RedisEventLog(TableFedLog):
    """Redis Streams log shared by every replica, fed from the outbox table."""

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        engine: AsyncEngine,
        sessions: Sessions | None = None,
        *,
        retain: int = DEFAULT_RETAIN,
        trim_every_s: float = 5.0,
        poll_s: float = 1.0,
    ) -> None:
        self._redis = redis
        self._stream = f"{prefix}events"
        self._counter = f"{prefix}events:revision"
        self._retain = retain
        super().__init__(engine, sessions, poll_s)
        self._script = redis.register_script(_RELAY)
        # The table only needs what the stream may not have yet; the stream keeps `retain`.
        self._retention = table.Retention(engine, lambda: self._relay.cursor, retain, trim_every_s)
        self._closing = False

    async def start(self) -> None:
        """Resume relaying where the stream ends, and begin tailing it."""
        relayed = await self._redis.get(self._counter)
        if relayed is not None:
            # Revisions an older version numbered in Redis: the table's continue above them.
            await table.raise_counter(self._engine, int(relayed))
        else:
            # A new (or emptied) Redis: relay what the table still has. Never 0, which means
            # "from now": with an empty table the counter is the database's.
            oldest = await table.oldest_revision(self._engine)
            start = oldest - 1 if oldest is not None else await table.counter(self._engine)
            await self._redis.set(self._counter, start, nx=True)
        current = await self.current_revision()
        self._ring = _Ring(min(self._retain, 10_000), current)
        self._relay.cursor = current
        self._sessions.relay_to(self)
        self._tasks = [
            asyncio.create_task(self._tail(current), name="event-log-tail"),
            asyncio.create_task(self._relay.run_forever(), name="event-relay"),
            asyncio.create_task(self._retention.run_forever(), name="event-log-trim"),
        ]

    async def _deliver(self, events: list[StoredEvent]) -> int:
        args: list[bytes | str | int] = [self._retain]
        for event in events:
            args += [event.revision, event.kind, event.subject, event.payload]
        return int(await self._script(keys=[self._stream, self._counter], args=args))

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

    async def current_revision(self) -> int:
        """The newest revision relayed to the stream."""
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
        ring = self._started()
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
        """Stop relaying, tailing and trimming."""
        self._closing = True
        await super().close()
