"""What a failed fleet test prints: the control plane's stored gaps, placements and recorder
events, the indexed segments of the cameras in trouble, the control planes' log lines about
losses and placements, and the segments on each side of every hole (last, where CI's report
keeps a long message's tail)."""

from __future__ import annotations

import itertools
from typing import Any

import psycopg

from harness.fleet import Fleet


def diagnosis(fleet: Fleet, troubled: list[str]) -> list[str]:
    """For a failure message: the control plane's stored gaps (the timeline's input) and its
    log lines about losses and placements, and the indexed segments of the `troubled` cameras
    (node, epoch, times, when indexed), so a run that fails says why."""
    lines = ["", "stored gaps (camera, node -> to_node, cause, start, end):"]
    url = fleet.env["CAMFLEET_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT c.name, g.node_id, g.to_node_id, g.cause, g.start_time, g.end_time "
            "FROM recording_gaps g JOIN cameras c ON c.id = g.camera_id ORDER BY g.start_time"
        ).fetchall()
        placements = conn.execute(
            "SELECT c.name, p.from_node_id, p.to_node_id, p.reason, p.time FROM placements p "
            "JOIN cameras c ON c.id = p.camera_id ORDER BY p.time"
        ).fetchall()
        segments = conn.execute(
            "SELECT c.name, r.node_id, r.epoch, r.start_time, r.end_time, r.create_time "
            "FROM recordings r JOIN cameras c ON c.id = r.camera_id WHERE c.name = ANY(%s) "
            "ORDER BY c.name, r.start_time",
            (troubled,),
        ).fetchall()
        events = conn.execute(
            "SELECT c.name, e.node_id, e.kind, e.state, e.time FROM recording_events e "
            "JOIN cameras c ON c.id = e.camera_id WHERE c.ingest_mode = 'push' "
            "UNION ALL SELECT c.name, e.node_id, 'stream', e.type || ' ' || e.message, e.time "
            "FROM stream_events e JOIN cameras c ON c.id = e.camera_id "
            "WHERE c.ingest_mode = 'push' ORDER BY 5"
        ).fetchall()
    lines += [
        f"  {name} {node[:8]} -> {(to or '')[:8]} {cause} {start:%H:%M:%S.%f} "
        f"{f'{end:%H:%M:%S.%f}' if end else 'open'}"
        for name, node, to, cause, start, end in rows
    ]
    lines.append("placements (camera, from -> to, reason, time):")
    lines += [
        f"  {name} {old[:8]} -> {new[:8]} {why} {at:%H:%M:%S.%f}"
        for name, old, new, why, at in placements
    ]
    lines.append("push cameras' recorder and stream events (camera, node, kind, what, time):")
    lines += [
        f"  {name} {node[:8]} {kind} {what[:80]} {at:%H:%M:%S.%f}"
        for name, node, kind, what, at in events
    ]
    lines.append(
        "segments of the cameras with problems (camera, node, epoch, start, end, indexed):"
    )
    lines += [
        f"  {name} {node[:8]} e{epoch} {start:%H:%M:%S.%f} {end:%H:%M:%S.%f} {made:%H:%M:%S.%f}"
        for name, node, epoch, start, end, made in segments
    ]
    lines.append("control plane: losses, placements, gaps:")
    for log in sorted(fleet.root.glob("control-plane-*.log")):
        lines += [
            f"  {log.stem[-1]}: {line[11:220]}"
            for line in log.read_text(errors="replace").splitlines()
            if any(w in line for w in (" lost", "placement:", "gaps opened", "handover"))
        ]
    # Last, where CI's report keeps it: the two segments on each side of every hole.
    lines.append("around each hole (camera, node, epoch, start, end, indexed):")
    lines += around_holes(segments)
    return lines


def around_holes(segments: list[Any]) -> list[str]:
    """Per camera, the segments before and after each hole over half a second, compactly."""
    lines: list[str] = []
    for _, group in itertools.groupby(segments, key=lambda s: s[0]):
        rows = list(group)
        covered = rows[0][4]  # the end of what the segments before row i cover
        for i in range(1, len(rows)):
            hole = (rows[i][3] - covered).total_seconds()
            covered = max(covered, rows[i][4])
            if hole <= 0.5:
                continue
            lines += [
                f"  {n} {node[:8]} e{epoch} {a:%H:%M:%S.%f} {b:%H:%M:%S.%f} {made:%H:%M:%S.%f}"
                for n, node, epoch, a, b, made in rows[max(0, i - 2) : i + 2]
            ] + ["  --"]
    return lines
