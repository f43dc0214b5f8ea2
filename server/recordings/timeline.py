"""A camera's timeline from its segments and gaps: pure interval arithmetic, no I/O.

- Spans: segments merged where the hole between them is at most MERGE_S (a recorder's
  consecutive segments touch; rounding of start times leaves a few milliseconds). Segments of
  different nodes merge too: time two nodes recorded (a returning partitioned node's spool, a
  make-before-break handover) is one span, so each recorded second counts once.
- Gaps: the stored gaps (server.recordings.gaps: each with its cause and nodes) minus what was
  recorded after all; where stored gaps overlap, the shared time is shown once, under the most
  specific cause (causes.PRECEDENCE). Plus every other hole longer than MERGE_S between two
  spans, cause UNKNOWN, with the nodes on either side, unless the camera stopped on purpose
  inside it (an unpublish, a stream error or a recorder going idle that no stored gap explains).
  Only a stop of the node that recorded up to the hole explains it: that node had the camera
  then. Another node's stop is a copy it no longer needed ending (a node back from a partition
  stopping its stale copy, the old node after a handover) while the camera was recorded
  elsewhere, not the camera stopping.
- Expected: recorded time plus gap time (the union of spans and gaps). The operator expects
  recording of a camera that is active with recording on. The control plane keeps no history
  of that setting, so the gaps carry it: a gap is stored only while recording is expected
  (a push camera that stops publishing then is CAMERA_STOPPED, a pull camera whose source fails
  SOURCE_ERROR, a lost node's cameras NODE_LOST; with recording off, a stop is no gap and its
  time is not expected), and an open gap ends when the camera is deactivated or its recording
  switched off (server.recordings.gaps.expectation_ended). Time before the first and after the
  last segment of the range counts only where a gap says something was lost there.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from server.recordings.causes import RANK, GapCause

# Holes up to this long inside a stretch of segments are rounding, not lost media.
MERGE_S = 1.5
UNKNOWN = GapCause.UNKNOWN.value
# A stop event this long before a hole still explains it (the recorder closes its last
# segment a moment after the publisher left).
_STOP_SLACK = timedelta(seconds=2)

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class Gap:
    """A stretch of lost media, why, and the nodes involved: the one that stopped recording,
    then the one that resumed, when known and different."""

    start: datetime
    end: datetime
    cause: GapCause
    reason: str
    node_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoredGap:
    """A gap as stored: open (end None) while its cause lasts."""

    start: datetime
    end: datetime | None
    cause: GapCause
    reason: str
    node_id: str = ""
    to_node_id: str = ""

    @property
    def node_ids(self) -> tuple[str, ...]:
        return _nodes(self.node_id, self.to_node_id)


@dataclass(frozen=True)
class Stop:
    """The camera stopped on purpose on a node: it stopped publishing, its source failed or its
    recorder went idle (as that node said)."""

    at: datetime
    node_id: str = ""


@dataclass(frozen=True)
class Recorded:
    """Recorded time without a hole (segments of any nodes merged), with the node of its first
    segment and the node of the segment just before it (the end of the previous stretch)."""

    start: datetime
    end: datetime
    node_id: str = ""
    previous_node_id: str = ""


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


def subtract(interval: Interval, cuts: Iterable[Interval]) -> list[Interval]:
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


def _nodes(*node_ids: str) -> tuple[str, ...]:
    """The distinct, non-empty node ids, in order."""
    return tuple(dict.fromkeys(n for n in node_ids if n))


def _stretches(recorded: Iterable[Recorded], lo: datetime, hi: datetime) -> list[Recorded]:
    """`recorded` within [lo, hi), sorted, holes up to MERGE_S closed."""
    out: list[Recorded] = []
    slack = timedelta(seconds=MERGE_S)
    for r in sorted(recorded, key=lambda r: (r.start, r.end)):
        start, end = max(r.start, lo), min(r.end, hi)
        if start >= end:
            continue
        if out and start - out[-1].end <= slack:
            if end > out[-1].end:
                last = out[-1]
                out[-1] = Recorded(last.start, end, last.node_id, last.previous_node_id)
        else:
            out.append(Recorded(start, end, r.node_id, r.previous_node_id))
    return out


class _Cuts:
    """Sorted, disjoint intervals to subtract from many others, each in O(log n + its cuts)
    (a camera that flaps for a month has tens of thousands of gaps and spans)."""

    def __init__(self, intervals: Iterable[Interval]) -> None:
        self.items = merge(intervals)
        self._ends = [end for _, end in self.items]

    def subtract(self, interval: Interval) -> list[Interval]:
        first = bisect.bisect_right(self._ends, interval[0])
        # Indexing, not islice (which would walk the skipped items).
        return subtract(interval, (self.items[k] for k in range(first, len(self.items))))


def _known(
    stored: Iterable[StoredGap],
    spans: list[Interval],
    lo: datetime,
    hi: datetime,
    *,
    now: datetime,
) -> list[Gap]:
    """The stored gaps' unrecorded time within [lo, hi), each instant under one cause: the
    causes in order of precedence, and within one cause the earlier gap."""
    taken = list(spans)
    known: list[Gap] = []
    ordered = sorted(stored, key=lambda g: (RANK[g.cause], g.start))
    for _, same_cause in itertools.groupby(ordered, key=lambda g: RANK[g.cause]):
        cuts = _Cuts(taken)
        reached: datetime | None = None
        for gap in same_cause:
            # Open: its cause lasts (server.recordings.gaps ends it when nothing is expected).
            window = clip((gap.start, gap.end or now), max(lo, reached or lo), hi)
            if window is None:
                continue
            reached = window[1]
            pieces = cuts.subtract(window)
            known += [Gap(a, b, gap.cause, gap.reason, gap.node_ids) for a, b in pieces]
            taken += pieces
    return known


def _lost_with(known: list[Gap], a: datetime, b: datetime, node_id: str) -> Gap | None:
    """The hole [a, b) as part of the node-lost gap it runs into, if `node_id` (the node that
    recorded up to the hole) is the one lost: such a gap starts at the node's last heartbeat,
    and what it recorded between its last indexed segment and that heartbeat never arrived
    either (the segment it was writing), for the same reason. None otherwise."""
    for gap in known:
        if gap.start == b and gap.cause is GapCause.NODE_LOST and node_id in gap.node_ids[:1]:
            return Gap(a, b, gap.cause, gap.reason, gap.node_ids)
    return None


def build(
    lo: datetime,
    hi: datetime,
    *,
    segments: Iterable[Recorded],
    stored_gaps: Iterable[StoredGap],
    stops: Sequence[Stop],
    now: datetime,
) -> Timeline:
    """The timeline of [lo, hi) from recorded stretches, stored gaps and the times the camera
    stopped on purpose (sorted by time)."""
    times = [s.at for s in stops]
    stretches = _stretches(segments, lo, hi)
    spans = [(r.start, r.end) for r in stretches]
    known = _known(stored_gaps, spans, lo, hi, now=now)
    explained = _Cuts((g.start, g.end) for g in known)
    unknown: list[Gap] = []
    for before, after in itertools.pairwise(stretches):
        start, end = before.end, after.start
        if (end - start).total_seconds() <= MERGE_S:
            continue
        stopped_on = after.previous_node_id or before.node_id
        first = bisect.bisect_left(times, start - _STOP_SLACK)
        last = bisect.bisect_right(times, end)
        # A lost node's publisher or source usually ends on it during the loss too (the node
        # says so when it returns): that stop does not make the moment before the loss chosen.
        stopped = any(s.node_id in ("", stopped_on) or not stopped_on for s in stops[first:last])
        nodes = _nodes(stopped_on, after.node_id)
        for a, b in explained.subtract((start, end)):
            lost = _lost_with(known, a, b, stopped_on)
            if lost is not None:
                unknown.append(lost)
            elif not stopped:  # a stop on purpose: nothing was expected
                unknown.append(Gap(a, b, GapCause.UNKNOWN, UNKNOWN, nodes))
    gaps = sorted(known + unknown, key=lambda g: (g.start, g.end))
    recorded = seconds(spans)
    expected = seconds(merge([*spans, *((g.start, g.end) for g in gaps)]))
    return Timeline(spans, gaps, recorded, expected)
