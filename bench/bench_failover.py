"""Failover as a camera owner sees it: how long a camera is not recorded when its node dies.

Starts a test fleet (harness/fleet.py): 3 node agents, each in its own network namespace; 2
control-plane replicas on a fresh PostgreSQL database + Redis prefix behind Envoy; pull cameras
reading a GStreamer RTSP source on the bridge. The control plane runs with its defaults (a node
is lost after 3 s without a heartbeat at 1 Hz); segments are 2 s. Then, over --trials trials:

- link cut: the link of the node of camera 0 goes down (no TCP reset). Time from the cut to
  each of its cameras ONLINE on another node, and the recorded gap that GetTimeline reports
  around the cut (read before the link comes back: a host that never returns), beside the hole
  between segments in ListRecordings. Then the link comes back and the node rejoins; once the
  cut node's spool (every segment its own index holds for those cameras) is listed, the same two
  figures again: what an operator sees for a link that was restored.
- kill -9: SIGKILL of the agent's whole process group on that node; the same two figures; then
  the agent restarts.
- drain: DrainNode of that node: time until its cameras run elsewhere, and the gap (target 0);
  then UncordonNode.
- leader: SIGKILL of the leading replica: time until GetLeader names another; the killed
  replica restarts.

Prints p50, p95 and max of each, then bench/bench_placement.py's scale run if it exists.

    .venv/bin/python -m bench.bench_failover [--trials 5] [--cameras 6] [--segment-seconds 2]
        [--skip 'link cut'|'kill -9'|drain|leader]... [--no-placement]

Targets (issue 12): link-cut recorded gap p50 <= 5 s, p95 <= 8 s; drain 0 s; leader <= 5 s.
Needs root (network namespaces), PostgreSQL and Redis on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TypeVar

import grpc
from camfleet.v1 import camera_pb2, node_pb2, recording_pb2
from google.protobuf import timestamp_pb2

from harness.fleet import Fleet, FleetNode, FleetTiming, running_fleet
from harness.rtsp_source import rtsp_source

C = camera_pb2
T = TypeVar("T")
TIMING = FleetTiming(heartbeat_s=1.0, lost_after_s=3.0, segment_s=2)
WAIT_S = 120.0


def _ts(at: datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(at)
    return out


async def until(probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], what: str) -> T:
    """Poll every 0.1 s until `ok` (RPC failures while a replica is down count as not yet)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            value = await probe()
            if ok(value):
                return value
        except grpc.aio.AioRpcError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {WAIT_S:.0f} s")
        await asyncio.sleep(0.1)


@dataclass
class Results:
    # Until the control plane placed the camera elsewhere (or named a handover target).
    placed_s: dict[str, list[float]] = field(default_factory=dict)
    online_s: dict[str, list[float]] = field(default_factory=dict)
    gap_s: dict[str, list[float]] = field(default_factory=dict)
    hole_s: dict[str, list[float]] = field(default_factory=dict)
    # After the cut node returned and its spool was ingested (link cut only).
    back_gap_s: list[float] = field(default_factory=list)
    back_hole_s: list[float] = field(default_factory=list)

    def add(self, kind: str, placed: float, online: float, gap: float, hole: float) -> None:
        self.placed_s.setdefault(kind, []).append(placed)
        self.online_s.setdefault(kind, []).append(online)
        self.gap_s.setdefault(kind, []).append(gap)
        self.hole_s.setdefault(kind, []).append(hole)


def _gap_text(g: recording_pb2.RecordingGap) -> str:
    end = f"{g.end_time.ToDatetime(UTC):%H:%M:%S.%f}" if g.HasField("end_time") else "open"
    cause = recording_pb2.GapCause.Name(g.cause).removeprefix("GAP_CAUSE_")
    return f"{g.start_time.ToDatetime(UTC):%H:%M:%S.%f}-{end} {cause}"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summary(values: list[float]) -> str:
    if not values:
        return "no samples"
    return (
        f"min {min(values):6.2f}  p50 {statistics.median(values):6.2f}  "
        f"p95 {_pct(values, 0.95):6.2f}  max {max(values):6.2f}  (n={len(values)})"
    )


class Bench:
    def __init__(self, fleet: Fleet, source_url: str, cameras: int) -> None:
        self.fleet = fleet
        self.segment_s = fleet.timing.segment_s
        self.source_url = source_url
        self.count = cameras
        self.ids: list[str] = []
        self.results = Results()
        self.leader_s: list[float] = []

    async def camera(self, camera_id: str) -> camera_pb2.Camera:
        resp = await self.fleet.cameras.GetCamera(
            C.GetCameraRequest(id=camera_id), metadata=self.fleet.admin, timeout=5
        )
        camera: camera_pb2.Camera = resp.camera
        return camera

    async def create_cameras(self) -> None:
        for i in range(self.count):
            resp = await self.fleet.cameras.CreateCamera(
                C.CreateCameraRequest(
                    camera=C.Camera(
                        name=f"bench-pull-{i}",
                        ingest_mode=C.INGEST_MODE_PULL,
                        source_url=self.source_url,
                        recording_enabled=True,
                    )
                ),
                metadata=self.fleet.admin,
                timeout=15,
            )
            self.ids.append(resp.camera.id)
        for camera_id in self.ids:
            await until(
                partial(self.camera, camera_id),
                lambda cam: cam.status == C.CAMERA_STATUS_ONLINE,
                "ONLINE",
            )

    async def node_of(self, camera_id: str) -> tuple[FleetNode, str]:
        cam = await self.camera(camera_id)
        names = {n.id: name for name, n in (await self.fleet.node_states()).items()}
        node = next(n for n in self.fleet.nodes if n.name == names[cam.node_id])
        return node, cam.node_id

    async def settled(self) -> None:
        """Every node READY and every camera ONLINE, recording for two segments since."""
        await until(
            self.fleet.node_states,
            lambda s: all(n.state == node_pb2.NODE_STATE_READY for n in s.values()),
            "nodes READY",
        )
        for camera_id in self.ids:
            await until(
                partial(self.camera, camera_id),
                lambda cam: cam.status == C.CAMERA_STATUS_ONLINE and not cam.handover_node_id,
                "ONLINE",
            )
        await asyncio.sleep(2 * self.segment_s)

    async def moved(
        self, kind: str, victim_id: str, on: list[str], act: Callable[[], Awaitable[None] | None]
    ) -> datetime:
        """`act` (a cut, a kill), then per camera of `on`: time to ONLINE elsewhere, gap.
        Returns the wall-clock time of the act."""
        began_wall = datetime.now(UTC)
        began = time.monotonic()
        acted = act()
        if acted is not None:
            await acted
        online: dict[str, float] = {}
        placed: dict[str, float] = {}
        while len(online) < len(on):
            if time.monotonic() - began > WAIT_S:
                raise TimeoutError(f"{kind}: cameras not ONLINE elsewhere within {WAIT_S:.0f} s")
            for camera_id in on:
                if camera_id in online:
                    continue
                try:
                    cam = await self.camera(camera_id)
                except grpc.aio.AioRpcError:
                    continue
                elsewhere = cam.node_id not in ("", victim_id)
                if camera_id not in placed and (elsewhere or cam.handover_node_id):
                    placed[camera_id] = time.monotonic() - began
                if cam.status == C.CAMERA_STATUS_ONLINE and elsewhere:
                    online[camera_id] = time.monotonic() - began
            await asyncio.sleep(0.1)
        for camera_id in on:
            gap, hole = await self.gap_around(camera_id, began_wall, victim_id)
            self.results.add(kind, placed[camera_id], online[camera_id], gap, hole)
        return began_wall

    async def listed_ids(self, camera_id: str, since: datetime) -> set[str]:
        """Ids of the camera's segments the control plane lists from `since` on."""
        resp = await self.fleet.recordings.ListRecordings(
            recording_pb2.ListRecordingsRequest(
                camera_id=camera_id,
                start_time=_ts(since),
                end_time=_ts(datetime.now(UTC) + timedelta(seconds=60)),
                page_size=1000,
            ),
            metadata=self.fleet.admin,
            timeout=10,
        )
        return {r.id for r in resp.recordings}

    async def spool_ingested(self, node: FleetNode, on: list[str], at: datetime) -> None:
        """Once the cut node is READY again: wait until every segment its own index holds for
        the cameras of `on` from shortly before `at` is listed by the control plane, and that
        set has stayed the same for a segment and 2 s (its recorders, stopped when the control
        plane's assignment took the cameras away, index their last segment)."""
        await until(
            self.fleet.node_states,
            lambda s: s[node.name].state == node_pb2.NODE_STATE_READY,
            "cut node READY again",
        )
        since = at - timedelta(seconds=15)
        quiet_s = self.segment_s + 2.0
        deadline = time.monotonic() + WAIT_S
        last: frozenset[str] | None = None
        stable_since = time.monotonic()
        while True:
            held = frozenset(
                s.id for s in node.segments() if s.camera_id in on and s.start >= since.timestamp()
            )
            listed: set[str] = set()
            for camera_id in on:
                listed |= await self.listed_ids(camera_id, since)
            if held != last or not held <= listed:
                last, stable_since = held, time.monotonic()
            elif time.monotonic() - stable_since >= quiet_s:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{node.name}'s spool: {len(held - listed)} held segments not listed "
                    f"within {WAIT_S:.0f} s"
                )
            await asyncio.sleep(0.2)

    async def gap_around(self, camera_id: str, at: datetime, victim_id: str) -> tuple[float, float]:
        """(gap seconds GetTimeline reports from shortly before `at` on, hole between segments
        in ListRecordings there), once a segment from another node is indexed after `at`."""
        window = (at - timedelta(seconds=15), at + timedelta(seconds=90))

        async def listed() -> list[recording_pb2.Recording]:
            resp = await self.fleet.recordings.ListRecordings(
                recording_pb2.ListRecordingsRequest(
                    camera_id=camera_id,
                    start_time=_ts(window[0]),
                    end_time=_ts(window[1]),
                    page_size=1000,
                ),
                metadata=self.fleet.admin,
                timeout=10,
            )
            return list(resp.recordings)

        recs = await until(
            listed,
            lambda rs: any(
                r.node_id != victim_id and r.start_time.ToDatetime(UTC) > at for r in rs
            ),
            "a segment from the new node",
        )
        spans = sorted((r.start_time.ToDatetime(UTC), r.end_time.ToDatetime(UTC)) for r in recs)
        hole = 0.0
        covered_to = spans[0][1]
        for start, end in spans[1:]:
            if (
                start > covered_to
                and covered_to < at + timedelta(seconds=60)
                and start > at - timedelta(seconds=5)
            ):
                hole = max(hole, (start - covered_to).total_seconds())
            covered_to = max(covered_to, end)
        resp = await self.fleet.recordings.GetTimeline(
            recording_pb2.GetTimelineRequest(
                camera_id=camera_id,
                start_time=_ts(window[0]),
                end_time=_ts(datetime.now(UTC) - timedelta(seconds=1)),
            ),
            metadata=self.fleet.admin,
            timeout=10,
        )
        gap = 0.0
        for g in resp.gaps:
            start = g.start_time.ToDatetime(UTC)
            end = g.end_time.ToDatetime(UTC) if g.HasField("end_time") else datetime.now(UTC)
            if end > at - timedelta(seconds=5):
                gap += (end - start).total_seconds()
        if abs(gap - hole) > 1.0:
            # The timeline and the index disagree: show both, so the difference can be read.
            hms = "%H:%M:%S.%f"
            segments = [f"{a:{hms}}-{b:{hms}}" for a, b in spans]
            print(f"  {camera_id[:8]} at {at:{hms}}: timeline gap {gap:.2f} s, index hole "
                  f"{hole:.2f} s; segments {segments}; "
                  f"timeline gaps {[_gap_text(g) for g in resp.gaps]}")  # fmt: skip
        return gap, hole

    async def cameras_on(self, node_id: str) -> list[str]:
        return [c for c in self.ids if (await self.camera(c)).node_id == node_id]

    async def link_cut(self) -> None:
        node, node_id = await self.node_of(self.ids[0])
        on = await self.cameras_on(node_id)
        at = await self.moved("link cut", node_id, on, lambda: self.fleet.cut(node))
        self.fleet.restore(node)
        await self.spool_ingested(node, on, at)
        for camera_id in on:
            gap, hole = await self.gap_around(camera_id, at, node_id)
            self.results.back_gap_s.append(gap)
            self.results.back_hole_s.append(hole)

    async def kill_agent(self) -> None:
        node, node_id = await self.node_of(self.ids[0])
        on = await self.cameras_on(node_id)
        await self.moved("kill -9", node_id, on, lambda: self.fleet.kill_node(node))
        await self.fleet.start_node(node)

    async def drain(self) -> None:
        node, node_id = await self.node_of(self.ids[0])
        on = await self.cameras_on(node_id)
        nodes = self.fleet.nodes_stub

        async def drain_it() -> None:
            await nodes.DrainNode(
                node_pb2.DrainNodeRequest(id=node_id), metadata=self.fleet.admin, timeout=15
            )

        await self.moved("drain", node_id, on, drain_it)
        await until(
            self.fleet.node_states, lambda s: s[node.name].drain_remaining == 0, "drain_remaining 0"
        )
        await nodes.UncordonNode(
            node_pb2.UncordonNodeRequest(id=node_id), metadata=self.fleet.admin, timeout=15
        )

    async def leader(self) -> None:
        async def get() -> node_pb2.GetLeaderResponse:
            resp: node_pb2.GetLeaderResponse = await self.fleet.nodes_stub.GetLeader(
                node_pb2.GetLeaderRequest(), metadata=self.fleet.admin, timeout=2
            )
            return resp

        before = await until(get, lambda r: bool(r.replica_id), "a leader")
        pid = int(before.replica_id.split(":")[1])
        replica = next(r for r in self.fleet.replicas if r.child is not None and r.child.pid == pid)
        began = time.monotonic()
        self.fleet.kill_replica(replica)
        await until(
            get, lambda r: bool(r.replica_id) and r.replica_id != before.replica_id, "a new leader"
        )
        self.leader_s.append(time.monotonic() - began)
        await self.fleet.start_replica(replica)


def placement_scale() -> None:
    """bench/bench_placement.py's scale run, when the placement engineer's bench exists."""
    script = Path(__file__).with_name("bench_placement.py")
    if not script.exists():
        print("\nplacement at scale: bench/bench_placement.py does not exist (yet)")
        return
    print("\nplacement at scale (python -m bench.bench_placement):", flush=True)
    subprocess.run([sys.executable, "-m", "bench.bench_placement"], check=False, timeout=1800)


async def main(trials: int, cameras: int, skip: set[str], segment_s: int, placement: bool) -> None:
    timing = replace(TIMING, segment_s=segment_s)
    async with running_fleet(backend="postgres", replicas=2, timing=timing) as fleet:
        with rtsp_source(
            fleet.root / "rtsp", host=fleet.host, size=(320, 180), fps=15, shared=False
        ) as src:
            for i in range(3):
                await fleet.add_node(f"bench-{i}")
            bench = Bench(fleet, src.url, cameras)
            await bench.create_cameras()
            steps = [
                ("link cut", bench.link_cut),
                ("kill -9", bench.kill_agent),
                ("drain", bench.drain),
                ("leader", bench.leader),
            ]
            for trial in range(trials):
                for name, step in steps:
                    if name in skip:
                        continue
                    await bench.settled()
                    print(f"trial {trial + 1}/{trials}: {name}", flush=True)
                    await step()
            r = bench.results
            load = os.getloadavg()[0]
            print(f"\nfailover over {trials} trials, {cameras} pull cameras on 3 nodes, "
                  f"lost after {timing.lost_after_s:.0f} s, {segment_s} s segments, "
                  f"load {load:.2f}")  # fmt: skip
            for kind in r.online_s:
                print(f"{kind:9} to placed elsewhere (s):     {summary(r.placed_s[kind])}")
                print(f"{kind:9} to ONLINE elsewhere (s):     {summary(r.online_s[kind])}")
                print(f"{kind:9} recorded gap, timeline (s): {summary(r.gap_s[kind])}")
                print(f"{kind:9} hole between segments (s):  {summary(r.hole_s[kind])}")
                if kind == "link cut" and r.back_gap_s:
                    print(f"link back, spool in: recorded gap (s):  {summary(r.back_gap_s)}")
                    print(f"link back, spool in: hole between (s):  {summary(r.back_hole_s)}")
            if bench.leader_s:
                print(f"leader kill -9 -> new leader (s):    {summary(bench.leader_s)}")
    if placement:
        placement_scale()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--cameras", type=int, default=6, help="pull cameras (default 6)")
    parser.add_argument(
        "--skip", action="append", default=[], choices=["link cut", "kill -9", "drain", "leader"]
    )
    parser.add_argument(
        "--segment-seconds",
        type=int,
        default=TIMING.segment_s,
        help="the agents' segment length (default 2; the agent's own default is 10): a lost "
        "node's segment in progress is lost with it, so the gap grows with it",
    )
    parser.add_argument(
        "--no-placement", action="store_true", help="skip bench_placement's scale run"
    )
    args = parser.parse_args()
    asyncio.run(
        main(args.trials, args.cameras, set(args.skip), args.segment_seconds, not args.no_placement)
    )


if __name__ == "__main__":
    cli()
