"""The event log behind WatchEvents: in the database (SQLite and PostgreSQL, the embedded default)
and relayed from it to Redis Streams (replicas)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from harness.databases import REDIS_URL, throwaway_postgres
from server.config import sqlite_url
from server.db.engine import create_engine
from server.db.migrate import upgrade_to_head
from server.errors import FailedPrecondition
from server.eventlog.log import EventLog, StoredEvent
from server.eventlog.redis_log import RedisEventLog
from server.eventlog.sql_log import SqlEventLog

SQL_BACKENDS = ["sqlite", "postgres"]


async def _redis_log(
    prefix: str, engine: AsyncEngine, retain: int = 100_000
) -> tuple[RedisEventLog, Redis]:
    """A replica's log: the events table of `engine` relayed to the stream under `prefix`."""
    client: Redis = Redis.from_url(REDIS_URL)
    log = RedisEventLog(client, prefix, engine, retain=retain)
    await log.start()
    return log, client


@contextlib.asynccontextmanager
async def _migrated_database(backend: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on a fresh, migrated database of `backend` ("sqlite" or "postgres")."""
    with contextlib.ExitStack() as stack:
        if backend == "sqlite":
            url = sqlite_url(tmp_path)
        else:  # creating and dropping the database blocks: keep it off the event loop
            url = await asyncio.to_thread(stack.enter_context, throwaway_postgres())
        engine = create_engine(url)
        try:
            await upgrade_to_head(engine)
            yield engine
        finally:
            await engine.dispose()
            await asyncio.to_thread(stack.close)


@pytest.fixture(params=SQL_BACKENDS)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A fresh, migrated database on each SQL backend."""
    async with _migrated_database(str(request.param), tmp_path) as engine:
        yield engine


SqlLogFactory = Callable[..., Awaitable[SqlEventLog]]


@pytest.fixture
async def make_sql_log(engine: AsyncEngine) -> AsyncIterator[SqlLogFactory]:
    """Started SqlEventLogs over `engine` (one at a time, like restarts); closed at the end."""
    made: list[SqlEventLog] = []

    async def make(**options: object) -> SqlEventLog:
        log = SqlEventLog(engine, **options)  # type: ignore[arg-type]
        await log.start()
        made.append(log)
        return log

    yield make
    for log in made:
        await log.close()


@pytest.fixture(params=[*SQL_BACKENDS, "redis"])
async def make_log(
    request: pytest.FixtureRequest, redis_prefix: str, tmp_path: Path
) -> AsyncIterator[object]:
    """A factory of logs that share one backend (for Redis: the same stream, like replicas)."""
    backend = str(request.param)
    made: list[tuple[EventLog, Redis | None]] = []
    prefix = f"{redis_prefix}{request.node.name}:"
    async with contextlib.AsyncExitStack() as stack:
        # Redis replicas relay one PostgreSQL database's events table (the outbox).
        database = "postgres" if backend == "redis" else backend
        engine = await stack.enter_async_context(_migrated_database(database, tmp_path))

        async def make(retain: int = 100_000) -> EventLog:
            if backend != "redis":
                # Retention runs in the background: every 50 ms here instead of every 5 s.
                sql_log = SqlEventLog(engine, retain=retain, trim_every_s=0.05)
                await sql_log.start()
                made.append((sql_log, None))
                return sql_log
            redis_log, client = await _redis_log(prefix, engine, retain)
            made.append((redis_log, client))
            return redis_log

        yield make
        for log, client in made:
            await log.close()
            if client is not None:
                await client.aclose()


async def _take(log: EventLog, after: int, count: int) -> list[StoredEvent]:
    out: list[StoredEvent] = []
    async with asyncio.timeout(10):
        async for event in log.watch(after):
            out.append(event)
            if len(out) == count:
                return out
    return out


async def _compacted(log: EventLog, after: int) -> FailedPrecondition:
    """The error watching from `after` gives (fails the test if it yields an event instead)."""
    with pytest.raises(FailedPrecondition) as err:
        await _take(log, after, 1)
    assert err.value.reason == "REVISION_COMPACTED"
    return err.value


async def test_revisions_increase_and_resume_is_exact(make_log) -> None:  # type: ignore[no-untyped-def]
    log = await make_log()
    revs = [await log.append("camera.updated", f"cameras/{i}", b"x%d" % i) for i in range(10)]
    assert revs == sorted(revs) and len(set(revs)) == 10
    assert revs == list(range(revs[0], revs[0] + 10))  # gap-free
    assert revs[0] > 0  # 0 would mean "from now" to a watcher
    got = await _take(log, revs[3], 6)
    assert [e.revision for e in got] == revs[4:]
    assert [e.payload for e in got] == [b"x%d" % i for i in range(4, 10)]
    assert got[0].subject == "cameras/4" and got[0].kind == "camera.updated"


async def test_watch_from_zero_sees_only_new_events(make_log) -> None:  # type: ignore[no-untyped-def]
    log = await make_log()
    await log.append("old", "s", b"old")
    watcher = asyncio.create_task(_take(log, 0, 1))
    await asyncio.sleep(0.2)
    await log.append("new", "s", b"new")
    assert [e.kind for e in await watcher] == ["new"]


async def test_many_watchers_each_get_every_event(make_log) -> None:  # type: ignore[no-untyped-def]
    log = await make_log()
    start = await log.append("seed", "s", b"")  # a real revision: 0 would mean "from now"
    watchers = [asyncio.create_task(_take(log, start, 20)) for _ in range(50)]
    for i in range(20):
        await log.append("k", "s", b"%d" % i)
    results = await asyncio.gather(*watchers)
    assert all([e.payload for e in r] == [b"%d" % i for i in range(20)] for r in results)


async def test_compacted_revision_is_a_clear_error(make_log) -> None:  # type: ignore[no-untyped-def]
    log = await make_log(retain=5)
    revs = [await log.append("k", "s", b"") for _ in range(200)]
    # Retention may run in the background (the database log): poll until it has.
    async with asyncio.timeout(10):
        while True:
            try:
                await _take(log, revs[0], 1)
            except FailedPrecondition as err:
                assert err.reason == "REVISION_COMPACTED"
                assert "list the resources again" in err.message
                break
            await asyncio.sleep(0.05)
    await _compacted(log, revs[-1] + 1000)  # a revision from the future is not trusted either


async def test_redis_replicas_share_one_ordered_log(redis_prefix: str, tmp_path: Path) -> None:
    prefix = f"{redis_prefix}replicas:"
    async with _migrated_database("postgres", tmp_path) as engine:
        await _replicas_share_one_ordered_log(prefix, engine)


async def _replicas_share_one_ordered_log(prefix: str, engine: AsyncEngine) -> None:
    a, client_a = await _redis_log(prefix, engine)
    b, client_b = await _redis_log(prefix, engine)
    try:
        async with asyncio.timeout(30):
            start = await a.append("seed", "s", b"")  # 0 would mean "from now"
            watcher = asyncio.create_task(_take(b, start, 40))
            writes = [a.append("k", "s", b"a") for _ in range(20)] + [
                b.append("k", "s", b"b") for _ in range(20)
            ]
            revs = await asyncio.gather(*writes)
            assert sorted(revs) == list(range(start + 1, start + 41))
            seen = await watcher
            assert [e.revision for e in seen] == list(range(start + 1, start + 41))
    finally:
        for log, client in ((a, client_a), (b, client_b)):
            await log.close()
            await client.aclose()


async def test_a_restarted_database_log_resumes_exactly(make_sql_log: SqlLogFactory) -> None:
    before = await make_sql_log()
    revs = [await before.append("k", f"cameras/{i}", b"old%d" % i) for i in range(10)]
    await before.close()

    after = await make_sql_log()
    assert await after.current_revision() == revs[-1]
    got = await _take(after, revs[3], 6)
    assert [(e.revision, e.payload) for e in got] == [
        (r, b"old%d" % i) for i, r in zip(range(4, 10), revs[4:], strict=True)
    ]
    # New events continue the same sequence, and a resumed watcher gets old then new, once each.
    watcher = asyncio.create_task(_take(after, revs[7], 4))
    new = [await after.append("k", "s", b"new%d" % i) for i in range(2)]
    assert new == [revs[-1] + 1, revs[-1] + 2]
    assert [e.payload for e in await watcher] == [b"old8", b"old9", b"new0", b"new1"]


async def test_replay_pages_through_the_table_then_follows(make_sql_log: SqlLogFactory) -> None:
    """A resume point far older than the in-memory ring is replayed from the table in pages,
    then the watcher follows new events without a gap or a duplicate."""
    log = await make_sql_log(ring_size=10)
    first = await log.append("k", "s", b"0")
    for i in range(1, 1500):
        await log.append("k", "s", b"%d" % i)
    watcher = asyncio.create_task(_take(log, first, 1501))
    await log.append("k", "s", b"1500")
    await log.append("k", "s", b"1501")
    got = await watcher
    assert [e.payload for e in got] == [b"%d" % i for i in range(1, 1502)]
    assert [e.revision for e in got] == list(range(first + 1, first + 1502))


async def test_retention_keeps_the_newest_and_refuses_deleted_points(
    make_sql_log: SqlLogFactory,
) -> None:
    # A long interval: the test trims by hand to see exactly what goes.
    log = await make_sql_log(retain=50, ring_size=10, trim_every_s=3600)
    revs = [await log.append("k", "s", b"%d" % i) for i in range(120)]
    assert await log.trim() == 70
    await _compacted(log, revs[0])
    err = await _compacted(log, revs[68])  # revs[69] is gone, so resuming after 68 would skip it
    assert err.metadata["oldest_revision"] == str(revs[70])
    kept = await _take(log, revs[69], 50)  # the oldest kept comes next: nothing was skipped
    assert [e.payload for e in kept] == [b"%d" % i for i in range(70, 120)]
    assert await log.trim() == 0  # nothing new: nothing to do
    await log.close()

    restarted = await make_sql_log(retain=50)
    await _compacted(restarted, revs[10])
    assert len(await _take(restarted, revs[69], 50)) == 50


async def test_an_empty_log_starts_above_zero(make_sql_log: SqlLogFactory) -> None:
    log = await make_sql_log()
    empty = await log.current_revision()
    assert empty > 0  # what a list returns on a new install: 0 would mean "from now"
    watcher = asyncio.create_task(_take(log, empty, 1))
    first = await log.append("k", "s", b"first")
    assert first == empty + 1
    assert [e.payload for e in await watcher] == [b"first"]
    await _compacted(log, empty - 1)  # older than anything this log has had


async def test_a_log_whose_revision_was_taken_catches_up(make_sql_log: SqlLogFactory) -> None:
    """Two writers on one database (a second control plane without Redis): a taken revision
    makes the log catch up and append after it, instead of failing every later append."""
    one = await make_sql_log()
    start = await one.append("k", "s", b"start")
    two = await make_sql_log()
    watcher = asyncio.create_task(_take(two, start, 2))
    await one.append("k", "s", b"one")
    assert await two.append("k", "s", b"two") == start + 2
    assert [e.payload for e in await watcher] == [b"one", b"two"]


async def test_an_append_whose_caller_is_cancelled_still_lands(
    make_sql_log: SqlLogFactory,
) -> None:
    """The change behind an event is already committed when it is appended: a caller cancelled
    meanwhile (a client hanging up) must not lose the event or break the next append."""
    log = await make_sql_log()
    start = await log.append("k", "s", b"start")
    cancelled = asyncio.create_task(log.append("k", "s", b"cancelled"))
    await asyncio.sleep(0)  # let it start writing
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert await log.append("k", "s", b"next") == start + 2
    assert [e.payload for e in await _take(log, start, 2)] == [b"cancelled", b"next"]
