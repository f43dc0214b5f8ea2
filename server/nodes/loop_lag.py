"""How far behind this process's event loop has fallen lately.

While the loop is stalled (a connect storm, a slow query, a starved CPU), heartbeats that did
reach the machine wait unread in gRPC's buffers. Liveness adds the recent lag to its timeout so a
node is never declared lost for silence this process caused (Lifeguard's "local health
awareness", as in Consul/Serf).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from server.common.tasks import raise_if_cancelling


class LoopLag:
    """Samples the event loop's lag every `tick_s` and remembers the worst of the last
    `window_s` seconds."""

    def __init__(
        self,
        window_s: float,
        tick_s: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window = window_s
        self._tick = tick_s
        self._clock = clock
        self._samples: deque[tuple[float, float]] = deque()

    def note(self, lag_s: float) -> None:
        """Record a lag seen now (by the sampler, or by any loop that overslept)."""
        now = self._clock()
        if lag_s > 0:
            # A sample no larger than this one expires first and can never be the window's
            # largest again: dropping it keeps the samples in decreasing order (the largest
            # first) and few. Every heartbeat notes one, 1,000 a second on a big fleet.
            while self._samples and self._samples[-1][1] <= lag_s:
                self._samples.pop()
            self._samples.append((now, lag_s))
        self._expire(now)

    def recent_max(self) -> float:
        """The largest lag within the window, 0 when the loop kept up."""
        self._expire(self._clock())
        return self._samples[0][1] if self._samples else 0.0

    def _expire(self, now: float) -> None:
        while self._samples and now - self._samples[0][0] > self._window:
            self._samples.popleft()

    async def run_forever(self) -> None:
        """Sample until cancelled."""
        while True:
            raise_if_cancelling()
            started = self._clock()
            await asyncio.sleep(self._tick)
            self.note(self._clock() - started - self._tick)
