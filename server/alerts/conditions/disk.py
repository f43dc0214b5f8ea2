"""A node disk's growth, from the used-bytes samples the evaluator takes (in memory: a new
leader starts learning again; days-until-full stays silent until it has enough history)."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

# Keep this much history per node, one sample a minute at most.
KEEP = timedelta(hours=6)
EVERY = timedelta(seconds=60)
# Growth is measured over at least this much history.
MIN_SPAN = timedelta(minutes=10)


class DiskHistory:
    """Per node: (time, used bytes) samples."""

    def __init__(self) -> None:
        self._samples: dict[str, deque[tuple[datetime, int]]] = {}

    def add(self, node_id: str, at: datetime, used_bytes: int) -> None:
        """Note a sample (ignored when the last one is less than a minute old)."""
        samples = self._samples.setdefault(node_id, deque())
        if samples and at - samples[-1][0] < EVERY:
            return
        samples.append((at, used_bytes))
        while samples and at - samples[0][0] > KEEP:
            samples.popleft()

    def forget(self, keep: set[str]) -> None:
        """Drop nodes not in `keep`."""
        for node_id in set(self._samples) - keep:
            del self._samples[node_id]

    def growth_per_s(self, node_id: str) -> float | None:
        """Bytes per second over the kept history (least squares), None without enough."""
        samples = self._samples.get(node_id)
        if not samples or samples[-1][0] - samples[0][0] < MIN_SPAN:
            return None
        t0 = samples[0][0]
        xs = [(t - t0).total_seconds() for t, _ in samples]
        ys = [float(u) for _, u in samples]
        n = len(xs)
        mx, my = sum(xs) / n, sum(ys) / n
        var = sum((x - mx) ** 2 for x in xs)
        if var == 0:
            return None
        return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var
