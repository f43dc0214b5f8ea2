"""Fixed-window counters for rate limits: in Redis when configured, in process otherwise.

Both backends implement `RateLimiter` with the same semantics, and the tests run both.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from redis.asyncio import Redis


@dataclass(frozen=True)
class Verdict:
    """Whether the action may proceed, and when a refused one can be tried again."""

    allowed: bool
    count: int
    retry_after_seconds: float
    # The fixed window the verdict was given in, so `release` takes back from the same one.
    window_index: int = 0


class RateLimiter(Protocol):
    """Counts events per key in fixed windows."""

    async def check(self, key: str, limit: int, window_seconds: float) -> Verdict:
        """Is `key` under `limit` in the current window? Does not count anything."""
        ...

    async def hit(self, key: str, limit: int, window_seconds: float) -> Verdict:
        """Count one event for `key` and say whether it was within `limit`."""
        ...

    async def reset(self, key: str, window_seconds: float) -> None:
        """Forget `key`'s count in the current window (e.g. after a successful login)."""
        ...

    async def release(self, key: str, verdict: Verdict) -> None:
        """Take back the event counted by the `hit` that returned `verdict` (it turned out not
        to count, e.g. the login succeeded). Never goes below zero; a no-op once that window
        has passed."""
        ...

    async def take_turn(self, key: str, spacing_seconds: float) -> float:
        """Take `key`'s turn, which then stays taken for `spacing_seconds` (events spaced out,
        one per spacing): 0.0 when taken now, else the seconds until the turn is free."""
        ...


def _window(window_seconds: float) -> tuple[int, float]:
    now = time.time()
    index = math.floor(now / window_seconds)
    return index, (index + 1) * window_seconds - now


class MemoryRateLimiter:
    """In-process limiter for the embedded default (one control-plane process)."""

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, int]] = {}  # key -> (window index, count)
        self._turns: dict[str, float] = {}  # key -> monotonic time its turn is free again

    def _current(self, key: str, index: int) -> int:
        stored = self._counts.get(key)
        return stored[1] if stored and stored[0] == index else 0

    async def check(self, key: str, limit: int, window_seconds: float) -> Verdict:
        index, remaining = _window(window_seconds)
        count = self._current(key, index)
        return Verdict(count < limit, count, remaining if count >= limit else 0.0, index)

    async def hit(self, key: str, limit: int, window_seconds: float) -> Verdict:
        index, remaining = _window(window_seconds)
        count = self._current(key, index) + 1
        self._counts[key] = (index, count)
        if len(self._counts) > 100_000:  # bound memory under a flood of distinct keys
            self._counts = {k: v for k, v in self._counts.items() if v[0] == index}
        return Verdict(count <= limit, count, remaining if count > limit else 0.0, index)

    async def reset(self, key: str, window_seconds: float) -> None:
        self._counts.pop(key, None)

    async def release(self, key: str, verdict: Verdict) -> None:
        stored = self._counts.get(key)
        if stored and stored[0] == verdict.window_index and stored[1] > 0:
            self._counts[key] = (stored[0], stored[1] - 1)

    async def take_turn(self, key: str, spacing_seconds: float) -> float:
        now = time.monotonic()
        free_at = self._turns.get(key, 0.0)
        if free_at > now:
            return free_at - now
        self._turns[key] = now + spacing_seconds
        if len(self._turns) > 100_000:  # bound memory under a flood of distinct keys
            self._turns = {k: v for k, v in self._turns.items() if v > now}
        return 0.0


# DECR only an existing counter: a missing one (expired, reset) must not come back as -1.
_RELEASE_SCRIPT = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""


class RedisRateLimiter:
    """Limiter shared by every replica through Redis (INCR + EXPIRE per window)."""

    def __init__(self, redis: Redis, prefix: str = "camfleet:rl:") -> None:
        self._redis = redis
        self._prefix = prefix

    def _key(self, key: str, index: int) -> str:
        return f"{self._prefix}{key}:{index}"

    async def check(self, key: str, limit: int, window_seconds: float) -> Verdict:
        index, remaining = _window(window_seconds)
        raw = await self._redis.get(self._key(key, index))
        count = int(raw or 0)
        return Verdict(count < limit, count, remaining if count >= limit else 0.0, index)

    async def hit(self, key: str, limit: int, window_seconds: float) -> Verdict:
        index, remaining = _window(window_seconds)
        name = self._key(key, index)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, math.ceil(window_seconds) + 1)
            count, _ = await pipe.execute()
        count = int(count)
        return Verdict(count <= limit, count, remaining if count > limit else 0.0, index)

    async def reset(self, key: str, window_seconds: float) -> None:
        index, _ = _window(window_seconds)
        await self._redis.delete(self._key(key, index))

    async def release(self, key: str, verdict: Verdict) -> None:
        await self._redis.eval(_RELEASE_SCRIPT, 1, self._key(key, verdict.window_index))

    async def take_turn(self, key: str, spacing_seconds: float) -> float:
        name = f"{self._prefix}turn:{key}"
        spacing_ms = max(1, math.ceil(spacing_seconds * 1000))
        if await self._redis.set(name, 1, nx=True, px=spacing_ms):
            return 0.0
        left_ms = int(await self._redis.pttl(name))
        # -2: it expired between the two commands; the turn is (nearly) free.
        return max(left_ms, 1) / 1000
