"""The event log behind WatchEvents, on the in-process ring and on Redis Streams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from server.errors import FailedPrecondition
from server.events.log import EventLog, MemoryEventLog, RedisEventLog, StoredEvent
from tests.support.databases import REDIS_URL


async def _redis_log(prefix: str, retain: int = 100_000) -> tuple[RedisEventLog, Redis]:
    client: Redis = Redis.from_url(REDIS_URL)
    log = RedisEventLog(client, prefix, retain=retain)
    await log.start()
    return log, client


@pytest.fixture(params=["memory", "redis"])
async def make_log(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[object]:
    """A factory of logs that share one backend (for Redis: the same stream, like replicas)."""
    made: list[tuple[EventLog, Redis | None]] = []
    prefix = f"{redis_prefix}{request.node.name}:"

    async def make(retain: int = 100_000) -> EventLog:
        if request.param == "memory":
            log: EventLog = MemoryEventLog(retain=retain)
            made.append((log, None))
            return log
        redis_log, client = await _redis_log(prefix, retain)
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


async def test_revisions_increase_and_resume_is_exact(make_log) -> None:  # type: ignore[no-untyped-def]
    log = await make_log()
    revs = [await log.append("camera.updated", f"cameras/{i}", b"x%d" % i) for i in range(10)]
    assert revs == sorted(revs) and len(set(revs)) == 10
    assert revs == list(range(revs[0], revs[0] + 10))  # gap-free
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
    with pytest.raises(FailedPrecondition) as err:
        await _take(log, revs[0], 1)
    assert err.value.reason == "REVISION_COMPACTED"
    assert "list the resources again" in err.value.message
    with pytest.raises(FailedPrecondition):  # a revision from the future is not trusted either
        await _take(log, revs[-1] + 1000, 1)


async def test_redis_replicas_share_one_ordered_log(redis_prefix: str) -> None:
    prefix = f"{redis_prefix}replicas:"
    a, client_a = await _redis_log(prefix)
    b, client_b = await _redis_log(prefix)
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


async def test_a_restarted_embedded_log_refuses_old_resume_points() -> None:
    before = MemoryEventLog()
    old = await before.append("k", "s", b"")
    await asyncio.sleep(0.01)
    after_restart = MemoryEventLog()
    new = await after_restart.append("k", "s", b"")
    assert new > old  # revisions keep increasing across restarts
    with pytest.raises(FailedPrecondition) as err:
        await _take(after_restart, old, 1)
    assert err.value.reason == "REVISION_COMPACTED"
