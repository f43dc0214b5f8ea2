"""The liveness timeout's allowance for the control plane's own stalls."""

from __future__ import annotations

import asyncio
import random
import time

from server.nodes.loop_lag import LoopLag


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_worst_recent_lag_counts_until_it_leaves_the_window() -> None:
    clock = Clock()
    lag = LoopLag(window_s=3.0, clock=clock)
    assert lag.recent_max() == 0.0
    lag.note(0.2)
    clock.now += 1
    lag.note(1.5)
    clock.now += 1
    lag.note(0.1)
    assert lag.recent_max() == 1.5
    clock.now += 2.5  # the 1.5 s stall is now 3.5 s old
    assert lag.recent_max() == 0.1
    clock.now += 1
    assert lag.recent_max() == 0.0


def test_negative_oversleep_is_not_a_lag() -> None:
    lag = LoopLag(window_s=3.0, clock=Clock())
    lag.note(-0.01)
    assert lag.recent_max() == 0.0


async def test_the_sampler_sees_a_blocked_loop() -> None:
    lag = LoopLag(window_s=10.0, tick_s=0.05)
    sampler = asyncio.create_task(lag.run_forever())
    try:
        await asyncio.sleep(0.1)
        time.sleep(0.6)  # noqa: ASYNC251 -- the point: a handler that blocks the loop
        await asyncio.sleep(0.1)
        assert lag.recent_max() >= 0.5
    finally:
        sampler.cancel()


def test_the_worst_lag_is_the_largest_sample_in_the_window_whatever_the_order() -> None:
    rng = random.Random(7)
    clock = Clock()
    lag = LoopLag(window_s=3.0, clock=clock)
    noted: list[tuple[float, float]] = []
    for _ in range(2000):  # a heartbeat's worth of samples, most tiny, a few stalls
        clock.now += rng.uniform(0.0, 0.05)
        sample = rng.choice([rng.uniform(0, 0.01), rng.uniform(0, 2.0)])
        lag.note(sample)
        noted.append((clock.now, sample))
        window = [s for at, s in noted if clock.now - at <= 3.0]
        assert lag.recent_max() == max(window)
