"""node_agent.backoff.Backoff: capped, growing, jittered, resettable."""

from __future__ import annotations

import random
import statistics

from node_agent.backoff import Backoff


def delays(backoff: Backoff, n: int) -> list[float]:
    return [backoff.next_delay() for _ in range(n)]


def test_delays_never_exceed_the_cap() -> None:
    backoff = Backoff(base=0.5, cap=30.0, rng=random.Random(1))
    # Far past the point where base·2^n would overflow the cap (and past the exponent's bound).
    assert all(0 <= d <= 30.0 for d in delays(backoff, 1000))


def test_delays_grow_with_attempts_in_expectation() -> None:
    # Mean of many fresh sequences, attempt by attempt: full jitter halves the ceiling.
    rng = random.Random(2)
    per_attempt: list[list[float]] = [[] for _ in range(8)]
    for _ in range(2000):
        for attempt, delay in enumerate(delays(Backoff(base=0.1, cap=10.0, rng=rng), 8)):
            per_attempt[attempt].append(delay)
    means = [statistics.fmean(d) for d in per_attempt]
    assert means == sorted(means)
    for attempt, mean in enumerate(means):
        expected = min(10.0, 0.1 * 2**attempt) / 2
        assert abs(mean - expected) < 0.1 * expected, (attempt, mean, expected)
    # Once capped, it stays put around cap/2.
    capped = delays(Backoff(base=0.1, cap=10.0, attempts=20, rng=rng), 2000)
    assert abs(statistics.fmean(capped) - 5.0) < 0.5


def test_delays_are_jittered() -> None:
    backoff = Backoff(base=1.0, cap=1.0, rng=random.Random(3))
    sample = delays(backoff, 50)
    # Same ceiling every time, yet spread over it: agents reconnecting together drift apart.
    assert len(set(sample)) == 50
    assert min(sample) < 0.2
    assert max(sample) > 0.8


def test_reset_starts_over() -> None:
    backoff = Backoff(base=0.01, cap=100.0, rng=random.Random(4))
    delays(backoff, 10)
    assert backoff.attempts == 10
    backoff.reset()
    assert backoff.attempts == 0
    # The first delay after a reset is within the first ceiling again.
    assert backoff.next_delay() <= 0.01


def test_same_seed_same_delays() -> None:
    a = delays(Backoff(rng=random.Random(5)), 20)
    b = delays(Backoff(rng=random.Random(5)), 20)
    assert a == b
