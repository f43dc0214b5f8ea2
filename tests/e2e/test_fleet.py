"""Issue 12's "done when", end to end on real processes: 3 node agents, each in its own network
namespace; 2 control-plane replicas on PostgreSQL + Redis behind Envoy, through which the
agents and this test connect; 6 pull cameras reading a GStreamer RTSP source and 2 push
cameras publishing an ffmpeg test pattern through the fleet ingest (Envoy's RTMP proxy).

Placement spreads the pull cameras; cutting a node's link (no TCP reset: a host that vanished)
moves its pull cameras and its push cameras reconnect through the fleet ingest to other nodes;
draining a node leaves no gap; killing the leader replica with SIGKILL moves leadership
(GetLeader). At the end no camera runs on two nodes, every gap of every timeline has a cause,
and no segment is lost or duplicated in the index: what the agents hold on disk is what
ListRecordings lists."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
from camfleet.v1 import camera_pb2, node_pb2

from harness.fleet import Fleet, FleetTiming, running_fleet
from harness.fleet_cameras import PushCamera
from harness.fleet_reads import (
    LOST,
    ONLINE,
    READY,
    all_online,
    cameras,
    create,
    node_ids,
    placed_on,
    until,
)
from harness.held_segments import DiskSegment
from harness.rtsp_source import rtsp_source
from tests.support.fleet_diagnosis import diagnosis
from tests.support.fleet_timeline import gaps_without_a_cause, listed_recordings

pytestmark = [pytest.mark.timeout(900), pytest.mark.postgres, pytest.mark.redis]

C = camera_pb2
TIMING = FleetTiming(heartbeat_s=1.0, lost_after_s=3.0, segment_s=2)
# Generous bounds for a loaded two-core machine; the bench measures the real times.
SETTLE_S = 90.0
FAILOVER_S = TIMING.lost_after_s + 45.0
LEADER_S = 5.0 + 25.0


async def test_fleet_places_fails_over_drains_and_survives_the_leader_dying() -> None:
    started = datetime.now(UTC)
    async with running_fleet(backend="postgres", replicas=2, timing=TIMING) as fleet:
        with rtsp_source(
            fleet.root / "rtsp", host=fleet.host, size=(320, 180), fps=15, shared=False
        ) as src:
            for i in range(3):
                await fleet.add_node(f"fleet-{i}")
            await fleet.start_ingest()
            await until(
                "3 nodes READY",
                fleet.node_states,
                lambda s: len(s) == 3 and all(n.state == READY for n in s.values()),
                SETTLE_S,
            )
            ids = await node_ids(fleet)
            name_of = {v: k for k, v in ids.items()}

            # Placement spreads the pull cameras: 2 on each of the 3 equal nodes.
            pulls = [f"pull-{i}" for i in range(6)]
            for name in pulls:
                await create(
                    fleet,
                    C.Camera(
                        name=name,
                        ingest_mode=C.INGEST_MODE_PULL,
                        source_url=src.url,
                        recording_enabled=True,
                    ),
                )
            cams = await until(
                "6 pull cameras ONLINE", lambda: cameras(fleet), all_online(pulls), SETTLE_S
            )
            spread = placed_on(cams, pulls)
            # Uneven (CI once: 3, 2, 1), the placements and losses say which decision made it.
            assert sorted(spread.values()) == [2, 2, 2], "\n".join(
                [str(spread), *diagnosis(fleet, [])]
            )
            assert set(spread) == set(ids.values()), spread

            # Push cameras publish through the fleet ingest and get a home node.
            pushes = [f"push-{i}" for i in range(2)]
            publishers: list[PushCamera] = []
            try:
                for name in pushes:
                    cam = await create(fleet, C.Camera(name=name, recording_enabled=True))
                    publisher = PushCamera(
                        name, fleet.ingest_url(cam.stream_key), fleet.root / f"{name}.log"
                    )
                    publisher.start()
                    publishers.append(publisher)
                cams = await until(
                    "2 push cameras ONLINE", lambda: cameras(fleet), all_online(pushes), SETTLE_S
                )
                await _cut_a_node(fleet, cams, pulls, publishers, name_of)
                drained, window = await _drain_a_node(fleet, pulls, name_of)
                await _kill_the_leader(fleet, pulls + pushes)
                # The end state's three properties, each checked in full before failing, so
                # one run shows every broken one.
                everything = pulls + pushes
                problems = await _cameras_on_two_nodes(fleet, everything, name_of)
                problems += await gaps_without_a_cause(
                    fleet, everything, started, drained, window, TIMING.segment_s
                )
                problems += await _segments_lost_or_duplicated(fleet, everything, started)
                # The problems last: a long diagnosis is cut in its middle by CI's report.
                troubled = [n for n in everything if any(p.startswith(f"{n}:") for p in problems)]
                assert not problems, "\n".join([*diagnosis(fleet, troubled), "", *problems])
            finally:
                for publisher in publishers:
                    await publisher.stop()


async def _cut_a_node(
    fleet: Fleet,
    cams: dict[str, camera_pb2.Camera],
    pulls: list[str],
    publishers: list[PushCamera],
    name_of: dict[str, str],
) -> None:
    """Cut the link of the node that homes the first push camera: LOST, its pull cameras
    ONLINE elsewhere, its push cameras ONLINE elsewhere after publishing again through the
    fleet ingest; link back: READY again."""
    pushes = [p.name for p in publishers]
    victim_id = cams[pushes[0]].node_id
    victim = next(n for n in fleet.nodes if n.name == name_of[victim_id])
    moved_pulls = [n for n in pulls if cams[n].node_id == victim_id]
    moved_pushes = [n for n in pushes if cams[n].node_id == victim_id]
    assert moved_pulls, f"{victim.name} has no pull camera: {placed_on(cams, pulls)}"
    fleet.cut(victim)
    await until(
        f"{victim.name} LOST after its link was cut",
        fleet.node_states,
        lambda s: s[victim.name].state == LOST,
        FAILOVER_S,
    )

    def moved(c: dict[str, camera_pb2.Camera]) -> bool:
        return all(
            c[n].status == ONLINE and c[n].node_id not in ("", victim_id)
            for n in moved_pulls + moved_pushes
        )

    await until(
        f"{moved_pulls} (pull) and {moved_pushes} (push) ONLINE on other nodes than the cut "
        f"{victim.name}",
        lambda: cameras(fleet),
        moved,
        FAILOVER_S,
    )
    for publisher in publishers:
        if publisher.name in moved_pushes:
            assert publisher.connects >= 2, f"{publisher.name} never reconnected"
    fleet.restore(victim)
    await until(
        f"{victim.name} READY after its link came back",
        fleet.node_states,
        lambda s: s[victim.name].state == READY,
        SETTLE_S,
    )


async def _drain_a_node(
    fleet: Fleet, pulls: list[str], name_of: dict[str, str]
) -> tuple[list[str], tuple[datetime, datetime]]:
    """Drain the node with the most pull cameras: every one moves make-before-break, the node
    reports nothing left to drain. Returns the drained cameras and the drain's time window."""
    cams = await cameras(fleet)
    node_id, _ = placed_on(cams, pulls).most_common(1)[0]
    drained = [n for n in pulls if cams[n].node_id == node_id]
    began = datetime.now(UTC)
    await fleet.nodes_stub.DrainNode(
        node_pb2.DrainNodeRequest(id=node_id), metadata=fleet.admin, timeout=15
    )

    def done(c: dict[str, camera_pb2.Camera]) -> bool:
        return all(
            c[n].status == ONLINE
            and c[n].node_id not in ("", node_id)
            and not c[n].handover_node_id
            for n in drained
        )

    await until(
        f"{drained} moved off the drained {name_of[node_id]}",
        lambda: cameras(fleet),
        done,
        SETTLE_S,
    )
    node = await until(
        f"{name_of[node_id]} reports drain_remaining 0",
        fleet.node_states,
        lambda s: s[name_of[node_id]].drain_remaining == 0,
        SETTLE_S,
    )
    assert node[name_of[node_id]].draining
    return drained, (began, datetime.now(UTC))


async def _kill_the_leader(fleet: Fleet, names: list[str]) -> None:
    """SIGKILL the leading replica: GetLeader names the other one soon after; the agents that
    were connected to it come back through Envoy; every camera is ONLINE again."""

    async def leader() -> node_pb2.GetLeaderResponse:
        resp: node_pb2.GetLeaderResponse = await fleet.nodes_stub.GetLeader(
            node_pb2.GetLeaderRequest(), metadata=fleet.admin, timeout=5
        )
        return resp

    before = await until("a leader", leader, lambda r: bool(r.replica_id), SETTLE_S)
    pid = int(before.replica_id.split(":")[1])
    replica = next(r for r in fleet.replicas if r.child is not None and r.child.pid == pid)
    fleet.kill_replica(replica)
    after = await until(
        f"leadership moved from {before.replica_id}",
        leader,
        lambda r: bool(r.replica_id) and r.replica_id != before.replica_id,
        LEADER_S,
    )
    assert after.epoch > before.epoch, (before, after)
    await until(
        "every node READY after the leader died",
        fleet.node_states,
        lambda s: all(n.state == READY for n in s.values()),
        SETTLE_S,
    )
    await until(
        "every camera ONLINE after the leader died",
        lambda: cameras(fleet),
        all_online(names),
        SETTLE_S,
    )


def _segments(fleet: Fleet) -> list[DiskSegment]:
    return [s for node in fleet.nodes for s in node.segments()]


async def _cameras_on_two_nodes(
    fleet: Fleet, names: list[str], name_of: dict[str, str]
) -> list[str]:
    """From the data plane: segments recorded from now on come, for each camera, from one node
    only, the one the control plane says it is on. What is not so, one line each.

    A camera the scheduler moves meanwhile (a new leader spreads load at once) is rightly
    recorded on two nodes during its make-before-break handover: such a window is read again,
    once the move is over, up to three times."""
    for _ in range(3):
        before = await until(
            "no handover in progress",
            lambda: cameras(fleet),
            lambda c: not any(c[n].handover_node_id for n in names),
            SETTLE_S,
        )
        problems, after = await _one_window(fleet, names, name_of)
        if all(
            before[n].node_id == after[n].node_id and not after[n].handover_node_id for n in names
        ):
            return problems
    moves = {n: name_of.get(after[n].node_id) for n in names}
    return [*problems, f"placement still moving after three windows, now {moves}"]


async def _one_window(
    fleet: Fleet, names: list[str], name_of: dict[str, str]
) -> tuple[list[str], dict[str, camera_pb2.Camera]]:
    since = time.time() + 1.0
    cams = await cameras(fleet)
    ids = {cams[n].id: n for n in names}

    async def recent() -> dict[str, list[DiskSegment]]:
        by_camera: dict[str, list[DiskSegment]] = {i: [] for i in ids}
        for seg in await asyncio.to_thread(_segments, fleet):
            if seg.start >= since:
                by_camera.setdefault(seg.camera_id, []).append(seg)
        return by_camera

    # Three segments each: long enough for a second recorder of the same camera to show.
    segments = await until(
        "every camera recording 3 new segments",
        recent,
        lambda by: all(len(by[i]) >= 3 for i in ids),
        SETTLE_S,
    )
    by_camera = {camera: {s.node for s in segs} for camera, segs in segments.items()}
    cams = await cameras(fleet)
    problems = []
    for camera_id, recorded_on in by_camera.items():
        name = ids.get(camera_id, camera_id)
        expected = name_of.get(cams[name].node_id) if name in cams else None
        if recorded_on != {expected}:
            problems.append(f"{name} is recorded on {sorted(recorded_on)}, placed on {expected}")
    return problems, cams


async def _segments_lost_or_duplicated(
    fleet: Fleet, names: list[str], started: datetime
) -> list[str]:
    """Every segment any agent holds (closed a while ago) is listed once, with the same
    checksum, and nothing is listed that no agent holds. What is not so, one line each (after
    giving late reports a minute to arrive)."""
    cams = await cameras(fleet)
    ids = {cams[n].id: n for n in names}
    cutoff = time.time() - 3 * TIMING.segment_s

    async def compare() -> list[str]:
        problems: list[str] = []
        disk = await asyncio.to_thread(_segments, fleet)
        for camera_id, name in ids.items():
            listed = await listed_recordings(fleet, camera_id, started)
            counts = Counter(r.id for r in listed)
            problems += [f"{name}: {i} listed {k} times" for i, k in counts.items() if k > 1]
            listed_sha = {r.id: r.sha256 for r in listed}
            held = {s.id: s for s in disk if s.camera_id == camera_id}
            problems += [
                f"{name}: segment {s.id} of {s.node} ({s.start:.1f}-{s.end:.1f}) not listed"
                for s in held.values()
                if s.end < cutoff and s.id not in listed_sha
            ]
            problems += [
                f"{name}: {i} listed, held by no agent" for i in listed_sha if i not in held
            ]
            problems += [
                f"{name}: {i} listed with another checksum than on {held[i].node}"
                for i, sha in listed_sha.items()
                if i in held and held[i].sha256 != sha
            ]
            problems += [
                f"{name}: {s.id} indexed on {s.node} but its file is gone"
                for s in held.values()
                if not s.file_present
            ]
        return problems

    for _ in range(60):
        if not (problems := await compare()):
            break
        await asyncio.sleep(1.0)
    return problems
