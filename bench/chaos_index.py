"""bench_chaos.py's index findings: segments a node holds that the control plane does not
list (lost), media listed twice (duplicated), and what looks alike but is not a duplicate (a
make-before-break handover's overlap, one node's adjacent slivers). Read by chaos_report."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, datetime

import psycopg
from camfleet.v1 import recording_pb2

from harness.fleet import Fleet
from harness.held_segments import DiskSegment

R = recording_pb2
# Two segments of the same camera this close at both ends are the same media indexed twice.
SAME_S = 0.25


def span(r: R.Recording) -> tuple[float, float]:
    """A segment's (start, end) in unix seconds."""
    return r.start_time.ToDatetime(UTC).timestamp(), r.end_time.ToDatetime(UTC).timestamp()


def _same_media(a: R.Recording, b: R.Recording) -> bool:
    """One node's two segments are its media indexed twice when they hold the same bytes or
    mostly the same seconds (two recorders on one camera). Two slivers a restart leaves side by
    side (a fraction of a second each) end within SAME_S of each other yet hold other seconds."""
    if a.sha256 and a.sha256 == b.sha256:
        return True
    (a0, a1), (b0, b1) = span(a), span(b)
    shared = min(a1, b1) - max(a0, b0)
    return shared > SAME_S and shared >= 0.5 * max(a1 - a0, b1 - b0)


def _described(r: R.Recording) -> str:
    start, end = span(r)
    return (
        f"{r.id[:8]} {datetime.fromtimestamp(start, UTC):%H:%M:%S.%f}"[:-3]
        + f"+{end - start:.2f} s {r.size_bytes} B"
    )


def held_within(fleet: Fleet, ids: list[str], t0: datetime, t1: datetime) -> list[DiskSegment]:
    """The segments the nodes' own indexes hold for `ids` that began within [t0, t1)."""
    lo, hi = t0.timestamp(), t1.timestamp()
    return [
        s for n in fleet.nodes for s in n.segments() if s.camera_id in ids and lo <= s.start < hi
    ]


# Placement reasons that start a make-before-break handover (server/placement/planner.py).
HANDOVER_REASONS = ("drain", "rebalance", "selector")
# After a handover ends, the old node's assignment is on its way and its last segment closes.
HANDOVER_GRACE_S = 10.0
# node ids -> [lo, hi] of a camera's handovers between them.
Handovers = dict[str, list[tuple[float, float, frozenset[str]]]]


def handover_windows(dsn: str, ids: list[str]) -> Handovers:
    """Per camera, when a make-before-break handover had both nodes assigned: from the
    placement history (placements), from its start to the camera's next placement row (done
    or cancelled) plus HANDOVER_GRACE_S."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT camera_id, from_node_id, to_node_id, reason, time FROM placements "
            "WHERE camera_id = ANY(%s) ORDER BY camera_id, time, id",
            (ids,),
        ).fetchall()
    out: Handovers = defaultdict(list)
    for i, (camera_id, old, new, reason, at) in enumerate(rows):
        if reason not in HANDOVER_REASONS or not old or not new or old == new:
            continue
        nxt = rows[i + 1] if i + 1 < len(rows) and rows[i + 1][0] == camera_id else None
        end = nxt[4].timestamp() if nxt else float("inf")
        out[camera_id].append((at.timestamp() - 1, end + HANDOVER_GRACE_S, frozenset((old, new))))
    return out


def index_findings(
    fleet: Fleet,
    ids: list[str],
    got: dict[str, list[R.Recording]],
    t0: datetime,
    t1: datetime,
    handovers: Handovers | None = None,
) -> tuple[list[str], list[str], list[str], list[str]]:
    """(segments a node holds, begun within [t0, t1), that the control plane does not list;
    duplicates; handover overlaps; one node's adjacent slivers, not duplicates: _same_media).

    Duplicated (must be none): the same id listed twice; two ids for the same media from one
    node (its file indexed twice); or two nodes' segments of the same time when the camera
    was not in a handover between them (one ran it without being assigned it: the fencing
    failed). A handover's overlap is not a duplicate: make-before-break has the old node
    record until the new node's first segment is indexed (ARCHITECTURE.md, "Placing pull
    cameras"); the index keeps both nodes' files, and coverage counts each second once."""
    listed_ids = {r.id for recs in got.values() for r in recs}
    lost = [
        f"{s.node} {s.camera_id[:8]} {datetime.fromtimestamp(s.start, UTC):%H:%M:%S}-"
        f"{datetime.fromtimestamp(s.end, UTC):%H:%M:%S} id {s.id[:8]}"
        f"{'' if s.file_present else ' (file gone)'}"
        for s in held_within(fleet, ids, t0, t1)
        if s.id not in listed_ids
    ]
    dup: list[str] = []
    overlap: list[str] = []
    slivers: list[str] = []
    for camera_id, recs in got.items():
        seen: dict[str, int] = defaultdict(int)
        for r in recs:
            seen[r.id] += 1
        dup += [f"{camera_id[:8]} id {i[:8]} listed {c} times" for i, c in seen.items() if c > 1]
        windows = (handovers or {}).get(camera_id, [])
        ordered = sorted(recs, key=span)
        for a, b in itertools.pairwise(ordered):
            (a0, a1), (b0, b1) = span(a), span(b)
            if a.id == b.id or abs(a0 - b0) >= SAME_S or abs(a1 - b1) >= SAME_S:
                continue
            line = (
                f"{camera_id[:8]} {datetime.fromtimestamp(a0, UTC):%H:%M:%S}: ids "
                f"{a.id[:8]} (node {a.node_id[:8]}) and {b.id[:8]} (node {b.node_id[:8]})"
            )
            pair = frozenset((a.node_id, b.node_id))
            if a.node_id != b.node_id and any(
                lo <= a0 <= hi and nodes == pair for lo, hi, nodes in windows
            ):
                overlap.append(line)
            elif a.node_id == b.node_id and not _same_media(a, b):
                slivers.append(f"{_described(a)} and {_described(b)}")
            elif a.node_id == b.node_id:
                dup.append(
                    f"{line}: the same node's media indexed twice ({_described(a)}, "
                    f"{_described(b)})"
                )
            else:
                dup.append(f"{line}: no handover between them (one ran it unassigned)")
    return lost, dup, overlap, slivers
