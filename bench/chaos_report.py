"""bench_chaos.py's verdict once the faults stopped and the fleet settled: recorded ÷ expected
per camera (from the segment index, with the node losses the timeline records as such taken
out of the expected time), segments a node holds that the control plane does not list (lost)
or lists twice (duplicated), committed events the watcher never got, and each loss beside the
fault that came last before it, so a finding names its cause."""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

import psycopg
from camfleet.v1 import recording_pb2

from bench.chaos_index import handover_windows, held_within, index_findings, span
from bench.chaos_observers import ClientLoad, EventWatcher, ts
from harness.alert_receivers import Receiver
from harness.fleet import Fleet
from harness.fleet_reads import retried

R = recording_pb2
# A hole shorter than this between segments is the recorder's rounding, not a loss.
HOLE_S = 0.5
LONG_HOLE_S = 5.0
# A camera below the target lists each hole with at least this much of it not a node loss.
UNEXCUSED_S = 0.2
QUIET_S = 10.0
TARGET = 0.995  # recorded ÷ expected of a pull camera
RESTART_AFTER_S = 2.0  # a supervisor's delay before it starts a dead process again


@dataclass
class Fault:
    at: datetime
    kind: str
    target: str


@dataclass
class FaultLog:
    """What the chaos did: the faults, those it had no target for, the restarts that failed
    and the processes that outlived an agent's kill."""

    faults: list[Fault] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    failed_starts: list[str] = field(default_factory=list)
    left_over: list[str] = field(default_factory=list)


@dataclass
class CameraResult:
    name: str
    mode: str
    recorded_s: float
    window_s: float
    node_lost_s: float
    # Holes between the indexed segments (count, seconds) and the timeline's own figures.
    holes: tuple[int, float] = (0, 0.0)
    # The holes of at least LONG_HOLE_S, (start, end), where a finding is to be read.
    long_holes: list[tuple[float, float]] = field(default_factory=list)
    platform: tuple[float, float, float] = (0.0, 0.0, 0.0)
    # (start, end, cause, reason) of every gap in the window other than a node loss.
    other_gaps: list[tuple[datetime, datetime, str, str]] = field(default_factory=list)
    # The holes in the index not wholly inside the timeline's node losses: (start, end, the
    # seconds of it outside them), what a camera below the target lost that was not excused.
    unexcused: list[tuple[float, float, float]] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        expected = self.window_s - self.node_lost_s
        return self.recorded_s / expected if expected > 0 else 1.0


async def listed(fleet: Fleet, camera_id: str, since: datetime) -> list[R.Recording]:
    """Every segment of the camera the control plane lists from `since` on."""
    out: list[R.Recording] = []
    token = ""
    while True:
        request = R.ListRecordingsRequest(
            camera_id=camera_id,
            start_time=ts(since),
            end_time=ts(datetime.now(UTC) + timedelta(seconds=60)),
            page_size=1000,
            page_token=token,
        )
        resp = await retried(
            partial(fleet.recordings.ListRecordings, request, metadata=fleet.admin, timeout=30)
        )
        out += resp.recordings
        token = resp.next_page_token
        if not token:
            return out


def union_within(spans: list[tuple[float, float]], lo: float, hi: float) -> float:
    """Seconds of [lo, hi] the spans cover, each second once."""
    total, covered_to = 0.0, lo
    for span_start, span_end in sorted(spans):
        start, end = max(span_start, covered_to), min(span_end, hi)
        if end > start:
            total += end - start
            covered_to = end
    return total


async def spool_settled(
    fleet: Fleet, ids: list[str], t0: datetime, t1: datetime, within_s: float
) -> int:
    """Wait until every segment the nodes hold for `ids` from the window is listed, and what
    they hold and what is listed stayed the same for QUIET_S; returns how many held segments
    are still unlisted when `within_s` is over."""
    deadline = time.monotonic() + within_s
    stable_since, last = time.monotonic(), None
    while True:
        held = {s.id for s in held_within(fleet, ids, t0, t1)}
        got: set[str] = set()
        for camera_id in ids:
            got |= {r.id for r in await listed(fleet, camera_id, t0)}
        state = (frozenset(held), frozenset(got & held), len(got))
        if state != last:
            last, stable_since = state, time.monotonic()
        elif held <= got and time.monotonic() - stable_since > QUIET_S:
            return 0
        if time.monotonic() > deadline:
            return len(held - got)
        await asyncio.sleep(1.0)


def last_fault_before(faults: list[Fault], at: datetime) -> str:
    before = [f for f in faults if f.at <= at + timedelta(seconds=1)]
    if not before:
        return "no fault before it"
    f = before[-1]
    return f"{(at - f.at).total_seconds():+.1f} s after {f.kind} {f.target} at {f.at:%H:%M:%S}"


async def camera_result(
    fleet: Fleet, camera_id: str, name: str, mode: str, t0: datetime, t1: datetime
) -> CameraResult:
    recs = await listed(fleet, camera_id, t0 - timedelta(seconds=30))
    lo, hi = t0.timestamp(), t1.timestamp()
    recorded = union_within([span(r) for r in recs], lo, hi)
    request = R.GetTimelineRequest(camera_id=camera_id, start_time=ts(t0), end_time=ts(t1))
    timeline = await retried(
        lambda: fleet.recordings.GetTimeline(request, metadata=fleet.admin, timeout=30)
    )
    node_lost, others, lost_spans = 0.0, [], []
    for g in timeline.gaps:
        start = g.start_time.ToDatetime(UTC)
        end = g.end_time.ToDatetime(UTC) if g.HasField("end_time") else t1
        clipped = (min(end, t1) - max(start, t0)).total_seconds()
        if clipped <= 0:
            continue
        cause = R.GapCause.Name(g.cause).removeprefix("GAP_CAUSE_")
        if g.cause == R.GAP_CAUSE_NODE_LOST:
            node_lost += clipped
            lost_spans.append((start.timestamp(), end.timestamp()))
        else:
            others.append((start, end, cause, g.reason))
    result = CameraResult(name, mode, recorded, hi - lo, node_lost, other_gaps=others)
    result.holes, result.long_holes = holes_within([span(r) for r in recs], lo, hi)
    for a, b in holes_within([span(r) for r in recs], lo, hi, UNEXCUSED_S)[1]:
        outside = (b - a) - union_within(lost_spans, a, b)
        if outside >= UNEXCUSED_S:
            result.unexcused.append((a, b, outside))
    result.platform = (
        timeline.recorded.ToTimedelta().total_seconds(),
        timeline.expected.ToTimedelta().total_seconds(),
        timeline.coverage,
    )
    return result


def holes_within(
    spans: list[tuple[float, float]], lo: float, hi: float, long_s: float = LONG_HOLE_S
) -> tuple[tuple[int, float], list[tuple[float, float]]]:
    """((count, seconds) of the holes of at least HOLE_S between the spans within [lo, hi], the
    edges of the window included; the holes of at least `long_s`)."""
    count, total, covered_to, long = 0, 0.0, lo, []
    for start, end in [*sorted(spans), (hi, hi)]:
        if start - covered_to >= min(HOLE_S, long_s) and start > lo and covered_to < hi:
            count += 1
            total += min(start, hi) - covered_to
            if min(start, hi) - covered_to >= long_s:
                long.append((covered_to, min(start, hi)))
        covered_to = max(covered_to, min(end, hi))
    return (count, total), long


def events_findings(dsn: str, watcher: EventWatcher, upto: int) -> tuple[int, list[str], int]:
    """(committed events after the watcher's start up to `upto`, those it never got as
    'revision kind subject', revisions in that range neither stored nor got)."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT revision, kind, subject FROM events WHERE revision > %s AND revision <= %s",
            (watcher.after, upto),
        ).fetchall()
    stored = {int(r[0]) for r in rows}
    lost = [f"{r[0]} {r[1]} {r[2]}" for r in rows if int(r[0]) not in watcher.revisions]
    span = range(watcher.after + 1, upto + 1) if upto - watcher.after < 10_000_000 else range(0)
    unknown = len(set(span) - stored - watcher.revisions)
    return len(rows), lost, unknown


def newest_revision(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT max(revision) FROM events").fetchone()
    return int(row[0] or 0) if row else 0


async def report(
    fleet: Fleet,
    dsn: str,
    ids: dict[str, tuple[str, str]],
    chaos: FaultLog,
    watcher: EventWatcher,
    load: ClientLoad,
    hook: Receiver,
    window_at: tuple[datetime, datetime],
    unlisted: int,
) -> None:
    """Prints the verdict (the module's docstring says what each line means)."""
    t0, t1 = window_at
    window = (t1 - t0).total_seconds()
    done = Counter(f.kind for f in chaos.faults)
    print(f"\nchaos window {t0:%H:%M:%S}-{t1:%H:%M:%S} ({window:.0f} s): "
          f"{len(chaos.faults)} faults {dict(done)}"
          + (f", skipped {dict(chaos.skipped)}" if chaos.skipped else "")
          + f"; load {os.getloadavg()[0]:.1f}")  # fmt: skip
    if chaos.left_over:
        print(f"processes left in a node's namespace after its agent's kill: "
              f"{len(chaos.left_over)} times (the bench killed them, as a cgroup kill "
              "would)")  # fmt: skip
        for line in chaos.left_over:
            print(f"  {line}")
    if chaos.failed_starts:
        print(f"restarts that failed (started again {RESTART_AFTER_S:g} s later): "
              f"{len(chaos.failed_starts)}")  # fmt: skip
        for line in chaos.failed_starts:
            print(f"  {line}")
    print("recorded ÷ expected (expected: the window less the timeline's NODE_LOST gaps):")
    failing, findings = 0, []
    excuses: list[str] = []
    for camera_id, (name, mode) in ids.items():
        r = await camera_result(fleet, camera_id, name, mode, t0, t1)
        mark = ""
        if mode == "pull" and r.ratio < TARGET:
            failing += 1
            mark = "  < 99.5 %"
            excuses.extend(
                f"  {name} {datetime.fromtimestamp(a, UTC):%H:%M:%S.%f}"[:-3]
                + f"+{b - a:.2f} s, {out:.2f} s of it not a node loss, "
                f"{last_fault_before(chaos.faults, datetime.fromtimestamp(a, UTC))}"
                for a, b, out in r.unexcused
            )
        rec, exp, cov = r.platform
        print(f"  {name:14} {mode}  {r.ratio:7.2%}  recorded {r.recorded_s:6.1f} s, "
              f"node lost {r.node_lost_s:5.1f} s, of {r.window_s:.0f} s; holes in the index "
              f"{r.holes[0]} ({r.holes[1]:.1f} s); GetTimeline {rec:.1f}/{exp:.1f} s = "
              f"{cov:.2%}{mark}")  # fmt: skip
        for lo, hi in r.long_holes:
            at = datetime.fromtimestamp(lo, UTC)
            findings.append(f"  {name} hole in the index {at:%H:%M:%S.%f}-"
                            f"{datetime.fromtimestamp(hi, UTC):%H:%M:%S.%f} ({hi - lo:.1f} s) "
                            f"{last_fault_before(chaos.faults, at)}")  # fmt: skip
        for start, end, cause, reason in r.other_gaps:
            findings.append(f"  {name} {start:%H:%M:%S.%f}-{end:%H:%M:%S.%f} "
                            f"({(end - start).total_seconds():.1f} s) {cause} '{reason}' "
                            f"{last_fault_before(chaos.faults, start)}")  # fmt: skip
    if findings:
        print("holes of 5 s or more in the index, and timeline gaps other than node losses:")
        print("\n".join(findings))
    if excuses:
        print("cameras below the target: their holes in the index beyond node losses")
        print("\n".join(excuses))
    got = {c: await listed(fleet, c, t0 - timedelta(seconds=30)) for c in ids}
    handovers = handover_windows(dsn, list(ids))
    lost, dup, overlap, slivers = index_findings(fleet, list(ids), got, t0, t1, handovers)
    late: list[str] = []
    for _ in range(12):
        # A segment held but not listed yet may still be on its way (a spool drains after a
        # restart): lost only if it is still missing a minute later.
        if not lost:
            break
        await asyncio.sleep(5)
        got = {c: await listed(fleet, c, t0 - timedelta(seconds=30)) for c in ids}
        still, dup, overlap, slivers = index_findings(fleet, list(ids), got, t0, t1, handovers)
        late += [line for line in lost if line not in still]
        lost = still
    if late:
        print(f"segments listed only in the minute after settling: {len(late)}")
        for line in late[:10]:
            print(f"  {line}")
    gave_up = f" (still unlisted when settling gave up: {unlisted})" if unlisted else ""
    print(f"segments lost from the index: {len(lost)}; duplicated: {len(dup)}{gave_up}")
    for line in (lost + dup)[:30]:
        print(f"  {line}")
    if overlap:
        print(f"handover overlaps (make-before-break, both nodes assigned; not duplicates): "
              f"{len(overlap)} segment pairs")  # fmt: skip
        for line in overlap[:10]:
            print(f"  {line}")
    if slivers:
        print(f"one node's short segments ending together, holding other seconds (not "
              f"duplicates): {len(slivers)} pairs")  # fmt: skip
        for line in slivers[:10]:
            print(f"  {line}")
    upto = newest_revision(dsn)
    caught = await watcher.caught_up(upto)
    committed, missed, unknown = events_findings(dsn, watcher, upto)
    no_event = [
        f"{c[:8]} {r.id[:8]} {r.start_time.ToDatetime(UTC):%H:%M:%S}"
        for c, recs in got.items() for r in recs if r.id not in watcher.recordings
        and r.start_time.ToDatetime(UTC) >= t0
    ]  # fmt: skip
    print(f"events lost: {len(missed)} of {committed} committed (watcher "
          f"{'caught up' if caught else 'NOT caught up'} to {upto}; stream breaks "
          f"{dict(watcher.breaks)}; compacted {len(watcher.compacted)}; revisions neither "
          f"stored nor got {unknown}); segments indexed without RECORDING_ADDED: "
          f"{len(no_event)}")  # fmt: skip
    for line in (missed + no_event)[:20]:
        print(f"  {line}")
    bad_calls = len(load.bad) + len(watcher.bad)
    print(
        f"client calls: {dict(load.codes)}; INTERNAL/UNKNOWN (with WatchEvents ends): {bad_calls}"
    )
    for when, line in sorted(load.bad + watcher.bad)[:20]:
        print(f"  {when:%H:%M:%S} {line} ({last_fault_before(chaos.faults, when)})")
    if watcher.resets:
        # Not a status of the platform's: Envoy reset the stream when its replica died.
        print(f"WatchEvents streams reset by Envoy (RST_STREAM; resumed): {len(watcher.resets)}")
        for when, line in watcher.resets[:20]:
            print(f"  {when:%H:%M:%S} {line} ({last_fault_before(chaos.faults, when)})")
    ids_seen = Counter(hook.ids())
    twice = {i: c for i, c in ids_seen.items() if c > 1}
    print(f"notifications: {len(hook.received)} webhook deliveries, {len(ids_seen)} distinct; "
          f"delivered twice: {len(twice)}")  # fmt: skip
    print(f"  alerts told, per rule (firing / resolved; a notification carries its group's): "
          f"{told(hook)}")  # fmt: skip
    clean = not (failing or lost or dup or missed or no_event or bad_calls or twice)
    print(f"verdict: {'clean' if clean else 'NOT clean'} ({failing} pull cameras below 99.5 %)")


def told(hook: Receiver) -> dict[str, str]:
    """Rule -> how many distinct alerts the webhook was told of as firing, and as resolved: to
    set beside the faults (each node loss should be one node-lost alert, firing then
    resolved), since one notification may carry several alerts of its group."""
    seen: dict[str, tuple[set[str], set[str]]] = {}
    for got in hook.received:
        for alert in got.payload.get("alerts", []):
            firing, resolved = seen.setdefault(alert.get("rule", "?"), (set(), set()))
            (resolved if alert.get("state") == "resolved" else firing).add(alert.get("id", ""))
    return {rule: f"{len(f)} / {len(r)}" for rule, (f, r) in sorted(seen.items())}
