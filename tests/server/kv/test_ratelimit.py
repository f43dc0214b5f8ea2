"""Both RateLimiter implementations (server/kv/ratelimit.py), driven directly: the in-process
one and the one on the real Redis at 127.0.0.1:6379. They must behave identically."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from harness.databases import REDIS_URL
from server.kv.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter, Verdict

# Long enough that no test runs into the end of a window (they are fixed, aligned to the clock).
WINDOW = 3600.0


async def redis_limiter() -> tuple[RedisRateLimiter, Redis, str]:
    client: Redis = Redis.from_url(REDIS_URL)
    prefix = f"camfleet-test-rl-{secrets.token_hex(6)}:"
    return RedisRateLimiter(client, prefix), client, prefix


async def drop_keys(client: Redis, prefix: str) -> None:
    keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    """Each implementation in turn; the Redis one under a unique prefix, cleaned up after."""
    if request.param == "memory":
        yield MemoryRateLimiter()
        return
    redis_impl, client, prefix = await redis_limiter()
    try:
        yield redis_impl
    finally:
        await drop_keys(client, prefix)
        await client.aclose()


def key() -> str:
    return f"login:user:{secrets.token_hex(4)}"


async def start_of_window(window: float) -> None:
    """Sleep into the beginning of a fresh window, so a short test stays inside one."""
    await asyncio.sleep(window - time.time() % window + 0.02)


async def test_a_new_key_is_allowed(limiter: RateLimiter) -> None:
    verdict = await limiter.check(key(), 3, WINDOW)
    assert (verdict.allowed, verdict.count, verdict.retry_after_seconds) == (True, 0, 0.0)


async def test_hits_up_to_the_limit_pass_then_are_refused(limiter: RateLimiter) -> None:
    k = key()
    for n in (1, 2, 3):
        verdict = await limiter.hit(k, 3, WINDOW)
        assert (verdict.allowed, verdict.count, verdict.retry_after_seconds) == (True, n, 0.0)
        # After the third hit the key is at its limit: check says no more.
        assert (await limiter.check(k, 3, WINDOW)).allowed is (n < 3)

    over = await limiter.hit(k, 3, WINDOW)
    assert (over.allowed, over.count) == (False, 4)
    assert 0 < over.retry_after_seconds <= WINDOW
    checked = await limiter.check(k, 3, WINDOW)
    assert (checked.allowed, checked.count) == (False, 4)
    assert 0 < checked.retry_after_seconds <= WINDOW


async def test_check_counts_nothing(limiter: RateLimiter) -> None:
    k = key()
    for _ in range(5):
        await limiter.check(k, 1, WINDOW)
    assert (await limiter.hit(k, 1, WINDOW)).allowed
    assert (await limiter.check(k, 1, WINDOW)).count == 1


async def test_keys_are_counted_separately(limiter: RateLimiter) -> None:
    busy, quiet = key(), key()
    for _ in range(3):
        await limiter.hit(busy, 2, WINDOW)
    assert not (await limiter.check(busy, 2, WINDOW)).allowed
    assert (await limiter.check(quiet, 2, WINDOW)).count == 0
    assert (await limiter.hit(quiet, 2, WINDOW)).allowed


async def test_reset_forgets_the_count(limiter: RateLimiter) -> None:
    k = key()
    for _ in range(4):
        await limiter.hit(k, 3, WINDOW)
    await limiter.reset(k, WINDOW)
    assert (await limiter.check(k, 3, WINDOW)).count == 0
    assert (await limiter.hit(k, 3, WINDOW)).count == 1
    await limiter.reset(key(), WINDOW)  # resetting an unknown key is fine


async def test_release_takes_back_one_hit_and_never_goes_below_zero(limiter: RateLimiter) -> None:
    k = key()
    first = await limiter.hit(k, 3, WINDOW)
    second = await limiter.hit(k, 3, WINDOW)
    await limiter.release(k, second)
    assert (await limiter.check(k, 3, WINDOW)).count == 1
    await limiter.release(k, first)
    await limiter.release(k, first)
    assert (await limiter.check(k, 3, WINDOW)).count == 0
    assert (await limiter.hit(k, 3, WINDOW)).count == 1


async def test_counts_start_over_in_the_next_window(limiter: RateLimiter) -> None:
    k, window = key(), 1.0
    await start_of_window(window)
    for _ in range(2):
        await limiter.hit(k, 2, window)
    over = await limiter.hit(k, 2, window)
    assert not over.allowed
    assert 0 < over.retry_after_seconds <= window

    await asyncio.sleep(over.retry_after_seconds + 0.05)
    fresh = await limiter.check(k, 2, window)
    assert (fresh.allowed, fresh.count, fresh.retry_after_seconds) == (True, 0, 0.0)
    # A release of a hit from the window that ended does not eat into the new one.
    await limiter.hit(k, 2, window)
    await limiter.release(k, over)
    assert (await limiter.check(k, 2, window)).count == 1


async def test_redis_keys_live_under_the_prefix_and_expire() -> None:
    impl, client, prefix = await redis_limiter()
    try:
        k = key()
        await impl.hit(k, 3, 10.0)
        names = [n.decode() async for n in client.scan_iter(match=f"{prefix}*")]
        assert len(names) == 1 and names[0].startswith(f"{prefix}{k}:")
        # Old windows must not pile up in Redis.
        assert 0 < await client.ttl(names[0]) <= 11
    finally:
        await drop_keys(client, prefix)
        await client.aclose()


async def test_both_backends_give_the_same_verdicts() -> None:
    impl, client, prefix = await redis_limiter()
    memory = MemoryRateLimiter()
    try:
        k = key()

        async def script(lim: RateLimiter) -> list[tuple[bool, int, bool]]:
            seen: list[Verdict] = []
            seen.append(await lim.check(k, 2, WINDOW))
            seen += [await lim.hit(k, 2, WINDOW) for _ in range(3)]
            seen.append(await lim.check(k, 2, WINDOW))
            await lim.release(k, seen[-2])
            seen.append(await lim.check(k, 2, WINDOW))
            await lim.reset(k, WINDOW)
            seen.append(await lim.hit(k, 2, WINDOW))
            return [(v.allowed, v.count, v.retry_after_seconds > 0) for v in seen]

        expected = [
            (True, 0, False),  # fresh
            (True, 1, False),
            (True, 2, False),
            (False, 3, True),  # hits
            (False, 3, True),  # check at the limit
            (False, 2, True),  # released one, still at the limit of 2
            (True, 1, False),  # after reset
        ]
        assert await script(memory) == expected
        assert await script(impl) == expected
    finally:
        await drop_keys(client, prefix)
        await client.aclose()


async def test_turns_are_spaced_out(limiter: RateLimiter) -> None:
    name = key()
    assert await limiter.take_turn(name, 0.5) == 0.0
    wait = await limiter.take_turn(name, 0.5)
    assert 0 < wait <= 0.5
    assert await limiter.take_turn(f"{name}-other", 0.5) == 0.0  # keys are independent
    await asyncio.sleep(wait + 0.05)
    assert await limiter.take_turn(name, 0.5) == 0.0
