"""Which node assembles a clip whose range lies on several nodes, and which segments it must
fetch from elsewhere. Pure: the rows in, the choice out (server/recordings/clips.py signs it).

After a failover a camera's range is split between the node that recorded it first and the one
that took over (and their overlap, when the move was make-before-break, or the cold tier of a
node that is gone). One node assembles the clip, so the fewest bytes cross the network: the
node holding most of the range. Its own segments it reads from its index; every other node's
segment is a part it fetches, unless the assembler's own segments (or a part taken before it)
already cover it: two nodes' overlapping recordings are not both put in the clip.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

# Uncovered time a segment must add to be fetched (less is rounding between segments).
COVER_TOLERANCE_S = 0.5


@dataclass(frozen=True)
class PlanSegment:
    """What the plan needs of one indexed segment."""

    id: str
    node_id: str
    start: datetime
    end: datetime
    # In the cold tier: fetched from its object, whichever node indexed it.
    cold: bool = False


@dataclass(frozen=True)
class ClipPlan:
    """The assembling node and the other segments it fetches, oldest first."""

    assembler: str
    parts: tuple[PlanSegment, ...]


def held(segments: Iterable[PlanSegment], lo: datetime, hi: datetime) -> dict[str, float]:
    """Seconds of [lo, hi) each node's segments hold (overlaps of one node counted once)."""
    by_node: dict[str, list[tuple[datetime, datetime]]] = {}
    for s in segments:
        a, b = max(s.start, lo), min(s.end, hi)
        if b > a:
            by_node.setdefault(s.node_id, []).append((a, b))
    return {node: _length(_union(spans)) for node, spans in by_node.items()}


def assembler(
    segments: Sequence[PlanSegment], lo: datetime, hi: datetime, ready: Iterable[str]
) -> str | None:
    """The ready node holding most of [lo, hi) (ties: the lowest id); when no ready node holds
    any of it (all of it is in the cold tier of nodes that cannot serve), any ready node; None
    when no node is ready."""
    ready = sorted(set(ready))
    if not ready:
        return None
    seconds = held(segments, lo, hi)
    holding = [n for n in ready if seconds.get(n, 0.0) > 0]
    if not holding:
        return ready[0]
    return min(holding, key=lambda n: (-seconds[n], n))


def plan(segments: Sequence[PlanSegment], lo: datetime, hi: datetime, node: str) -> ClipPlan:
    """The parts `node` must fetch to assemble [lo, hi): segments of other nodes that add more
    than COVER_TOLERANCE_S of time its own (and earlier parts) leave uncovered."""
    covered = _union(
        (max(s.start, lo), min(s.end, hi))
        for s in segments
        if s.node_id == node and min(s.end, hi) > max(s.start, lo)
    )
    parts: list[PlanSegment] = []
    for s in sorted(segments, key=lambda s: (s.start, s.end, s.id)):
        if s.node_id == node:
            continue
        span = (max(s.start, lo), min(s.end, hi))
        if span[1] <= span[0]:
            continue
        if _uncovered(span, covered) > COVER_TOLERANCE_S:
            parts.append(s)
            covered = _union([*covered, span])
    return ClipPlan(node, tuple(parts))


# --- spans ----------------------------------------------------------------------------------

Spans = list[tuple[datetime, datetime]]


def _union(spans: Iterable[tuple[datetime, datetime]]) -> Spans:
    merged: Spans = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _length(spans: Spans) -> float:
    return sum((b - a).total_seconds() for a, b in spans)


def _uncovered(span: tuple[datetime, datetime], covered: Spans) -> float:
    """Seconds of `span` outside `covered` (a merged, sorted list)."""
    inside = sum(max(0.0, (min(b, span[1]) - max(a, span[0])).total_seconds()) for a, b in covered)
    return (span[1] - span[0]).total_seconds() - inside
