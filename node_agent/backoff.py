"""Exponential backoff with full jitter (AWS architecture blog), reset after success."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays of base·2^n capped at `cap`, each drawn uniformly from [0, that] so that many
    agents reconnecting after one outage spread out instead of arriving together."""

    base: float = 0.5
    cap: float = 30.0
    attempts: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self) -> float:
        """Seconds to wait before the next attempt."""
        ceiling = min(self.cap, self.base * (2**self.attempts))
        self.attempts = min(self.attempts + 1, 32)
        return self.rng.uniform(0, ceiling)

    def reset(self) -> None:
        """Call after a success (e.g. a completed handshake)."""
        self.attempts = 0
