"""A camera's timeline from its segments and gaps: pure interval arithmetic, no I/O.

- Spans: segments merged where the hole between them is at most MERGE_S (a recorder's
  consecutive segments touch; rounding of start times leaves a few milliseconds).
- Gaps: the stored gaps (what a node or the control plane said was lost, e.g. a recorder crash
  or a lost node) minus what was recorded after all, plus every other hole longer than MERGE_S
  between two spans, reason "unknown", unless the camera stopped on purpose inside it (an
  unpublish, a stream error or a recorder going idle: not publishing with recording on).
- Expected: recorded time plus gap time (the union of spans and gaps). The control plane has
  no history of when recording was switched on, so it counts what the segments and the gaps
  say; time before the first and after the last segment of the range counts only where a gap
  says something was lost there.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

# Holes up to this long inside a stretch of segments are rounding, not lost media.
MERGE_S = 1.5
UNKNOWN = "unknown"
# A stop event this long before a hole still explains it (the recorder closes its last
# segment a moment after the publisher left).
_STOP_SLACK = timedelta(seconds=2)

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class Gap:
    """A stretch of lost media and why."""

    start: datetime
    end: datetime
    reason: str


@dataclass(frozen=True)
class StoredGap:
    """A gap as stored: open (end None) while its cause lasts."""

    start: datetime
    end: datetime | None
    reason: str


@dataclass(frozen=True)
class Timeline:
    """What GetTimeline answers."""

    spans: list[Interval]
    gaps: list[Gap]
    recorded_s: float
    expected_s: float

    @property
    def coverage(self) -> float:
        """recorded ÷ expected, 1 when nothing was expected."""
        if self.expected_s <= 0:
            return 1.0
        return min(1.0, self.recorded_s / self.expected_s)


def clip(interval: Interval, lo: datetime, hi: datetime) -> Interval | None:
    """`interval` within [lo, hi), or None when nothing of it is left."""
    start, end = max(interval[0], lo), min(interval[1], hi)
    return (start, end) if start < end else None


def merge(intervals: Iterable[Interval], tolerance_s: float = 0.0) -> list[Interval]:
    """Sorted union of `intervals`; holes up to `tolerance_s` are closed."""
    out: list[Interval] = []
    slack = timedelta(seconds=tolerance_s)
    for start, end in sorted(intervals):
        if out and start - out[-1][1] <= slack:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def subtract(interval: Interval, cuts: Sequence[Interval]) -> list[Interval]:
    """The parts of `interval` not covered by the sorted, disjoint `cuts`."""
    pieces: list[Interval] = []
    start, end = interval
    for cut_start, cut_end in cuts:
        if cut_end <= start:
            continue
        if cut_start >= end:
            break
        if cut_start > start:
            pieces.append((start, cut_start))
        start = max(start, cut_end)
        if start >= end:
            return pieces
    if start < end:
        pieces.append((start, end))
    return pieces


def seconds(intervals: Iterable[Interval]) -> float:
    """Total length of disjoint intervals."""
    return sum((end - start).total_seconds() for start, end in intervals)


def holes(spans: Sequence[Interval]) -> list[Interval]:
    """The holes between consecutive spans."""
    return [(a[1], b[0]) for a, b in itertools.pairwise(spans) if b[0] > a[1]]


def build(
    lo: datetime,
    hi: datetime,
    *,
    segments: Iterable[Interval],
    stored_gaps: Iterable[StoredGap],
    stops: Sequence[datetime],
    now: datetime,
) -> Timeline:
    """The timeline of [lo, hi) from segments, stored gaps and the times the camera stopped
    on purpose (sorted)."""
    clipped = [c for c in (clip(s, lo, hi) for s in segments) if c is not None]
    spans = merge(clipped, MERGE_S)
    known: list[Gap] = []
    for gap in stored_gaps:
        window = clip((gap.start, gap.end or now), lo, min(hi, now) if gap.end is None else hi)
        if window is not None:
            known += [Gap(a, b, gap.reason) for a, b in subtract(window, spans)]
    explained = merge((g.start, g.end) for g in known)
    unknown: list[Gap] = []
    for start, end in holes(spans):
        if (end - start).total_seconds() <= MERGE_S:
            continue
        if any(start - _STOP_SLACK <= t <= end for t in stops):
            continue  # the camera stopped publishing or recording: nothing was expected
        unknown += [Gap(a, b, UNKNOWN) for a, b in subtract((start, end), explained)]
    gaps = sorted(known + unknown, key=lambda g: (g.start, g.end))
    recorded = seconds(spans)
    expected = seconds(merge([*spans, *((g.start, g.end) for g in gaps)]))
    return Timeline(spans, gaps, recorded, expected)
