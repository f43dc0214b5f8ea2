"""Which live publishes an applied assignment revokes (node_agent.revocation): keys granted by an
assignment are dropped as soon as one no longer grants them; keys only CheckStreamKey vouched for
are left alone by an assignment that is not newer than their accept, and asked about again when
a newer one lacks them. The control plane's verdicts are scripted here and nginx is a recorder;
tests/node_agent/test_agent.py drops real publishers from a real nginx."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from node_agent.assignment import CurrentAssignment
from node_agent.desired import AssignedCamera, Assignment, Ingest
from node_agent.outbox import Outbox
from node_agent.publish_auth import (
    RATE_LIMITED,
    ControlPlaneUnreachable,
    KeyCheck,
    PublishGate,
    RateLimiter,
)
from node_agent.revocation import KEY_REVOKED, KeyRevoker
from node_agent.spool import Spool
from node_agent.state import DataDir
from node_agent.streams import StreamTracker

ADDRESS = "127.0.0.1"


def push(key: str, camera: str) -> AssignedCamera:
    return AssignedCamera(camera_id=camera, name=camera, ingest=Ingest.PUSH, stream_key=key)


def assignment(version: int, *cameras: AssignedCamera) -> Assignment:
    return Assignment(version=version, cameras=cameras)


@dataclass
class ScriptedControlPlane:
    """CheckStreamKey verdicts by key; a missing key means the control plane is unreachable."""

    verdicts: dict[str, KeyCheck] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    async def check(self, stream_key: str, remote_address: str) -> KeyCheck:
        self.asked.append(stream_key)
        verdict = self.verdicts.get(stream_key)
        if verdict is None:
            raise ControlPlaneUnreachable("no control plane in this test")
        return verdict


@dataclass
class RecordingNginx:
    """Drops as nginx does (on_publish_done ends the tracked publish), but only keys that are
    `in_nginx`: a publish accepted a moment ago is not in nginx's live application yet."""

    streams: StreamTracker
    in_nginx: set[str] = field(default_factory=set)
    drops: list[str] = field(default_factory=list)
    # The UNPUBLISH messages on_publish_done would send.
    ended: dict[str, str] = field(default_factory=dict)

    async def drop_publisher(self, stream_key: str) -> int | None:
        self.drops.append(stream_key)
        if stream_key not in self.in_nginx:
            return 0
        self.in_nginx.discard(stream_key)
        publish = self.streams.publish_ended(stream_key)
        if publish is not None:
            self.ended[stream_key] = publish.end_reason
        return 1


@dataclass
class Node:
    streams: StreamTracker
    control_plane: ScriptedControlPlane
    nginx: RecordingNginx
    revoker: KeyRevoker

    def publishing(self, key: str, camera: str, *, version: int, assigned: bool) -> None:
        self.streams.publish_started(
            key, camera, ADDRESS, assignment_version=version, assigned=assigned
        )
        self.nginx.in_nginx.add(key)


@pytest.fixture
async def node() -> AsyncIterator[Node]:
    streams = StreamTracker()
    control_plane = ScriptedControlPlane()
    nginx = RecordingNginx(streams)
    revoker = KeyRevoker(streams, control_plane, nginx, drop_within_s=5.0, retry_every_s=0.05)
    yield Node(streams, control_plane, nginx, revoker)
    await revoker.close()


async def settled(node: Node, within_s: float = 5.0) -> None:
    """Until the revoker has nothing under way."""
    await until(lambda: not node.revoker.busy, "the revoker to settle", within_s)


async def until(check: Callable[[], bool], what: str, within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def test_assigned_key_missing_from_the_assignment_is_dropped(node: Node) -> None:
    node.publishing("k-rotated", "cam-a", version=3, assigned=True)
    node.publishing("k-kept", "cam-b", version=3, assigned=True)
    node.revoker.assignment_applied(assignment(4, push("k-new", "cam-a"), push("k-kept", "cam-b")))
    await settled(node)
    assert node.nginx.drops == ["k-rotated"]
    assert node.nginx.ended == {"k-rotated": KEY_REVOKED}
    assert node.streams.by_key("k-kept") is not None
    # Assigned keys are never asked about: the assignment is the control plane's word.
    assert node.control_plane.asked == []


async def test_key_moved_to_another_camera_is_dropped(node: Node) -> None:
    node.publishing("k1", "cam-a", version=3, assigned=True)
    node.revoker.assignment_applied(assignment(4, push("k1", "cam-z")))
    await settled(node)
    assert node.nginx.ended == {"k1": KEY_REVOKED}


async def test_drop_is_retried_until_nginx_has_the_publish(node: Node) -> None:
    # Accepted, but nginx has not put it in its live application yet.
    node.streams.publish_started("k1", "cam-a", ADDRESS, assignment_version=3, assigned=True)
    node.revoker.assignment_applied(assignment(4))
    await until(lambda: len(node.nginx.drops) >= 2, "a second drop")
    node.nginx.in_nginx.add("k1")
    await settled(node)
    assert node.nginx.ended == {"k1": KEY_REVOKED}


async def test_checked_key_is_kept_by_an_assignment_no_newer_than_its_accept(
    node: Node,
) -> None:
    node.publishing("k-checked", "cam-a", version=7, assigned=False)
    # The assignment in force at the accept, sent again (after a reconnect, say).
    node.revoker.assignment_applied(assignment(7))
    await settled(node)
    assert node.nginx.drops == []
    assert node.control_plane.asked == []


async def test_checked_key_is_confirmed_by_the_assignment_that_includes_it(node: Node) -> None:
    node.publishing("k-checked", "cam-a", version=7, assigned=False)
    node.revoker.assignment_applied(assignment(8, push("k-checked", "cam-a")))
    publish = node.streams.by_key("k-checked")
    assert publish is not None and publish.assigned
    # From then on it is an assigned key: the next assignment without it drops it.
    node.revoker.assignment_applied(assignment(9))
    await settled(node)
    assert node.control_plane.asked == []
    assert node.nginx.ended == {"k-checked": KEY_REVOKED}


async def test_checked_key_missing_from_a_newer_assignment_is_asked_about_again(
    node: Node,
) -> None:
    node.control_plane.verdicts = {
        "k-allowed": KeyCheck(True, "cam-a"),
        "k-deactivated": KeyCheck(False, "cam-b", "camera Door is deactivated"),
        "k-elsewhere": KeyCheck(True, "cam-other"),
        # k-unreachable: no answer
    }
    node.publishing("k-allowed", "cam-a", version=7, assigned=False)
    node.publishing("k-deactivated", "cam-b", version=7, assigned=False)
    node.publishing("k-elsewhere", "cam-c", version=7, assigned=False)
    node.publishing("k-unreachable", "cam-d", version=7, assigned=False)
    # Computed before the control plane allowed these keys, or after it took them away.
    node.revoker.assignment_applied(assignment(8))
    await settled(node)
    assert sorted(node.control_plane.asked) == [
        "k-allowed",
        "k-deactivated",
        "k-elsewhere",
        "k-unreachable",
    ]
    assert node.nginx.ended == {
        "k-deactivated": "stream key no longer valid: camera Door is deactivated",
        "k-elsewhere": "stream key no longer valid: the key now belongs to another camera",
    }
    # Still allowed (its assignment is on the way), or no verdict: kept for now.
    assert node.streams.by_key("k-allowed") is not None
    assert node.streams.by_key("k-unreachable") is not None


async def test_key_granted_again_stops_the_drop(node: Node) -> None:
    # nginx never has it, so the drop keeps trying until the key is granted again.
    node.streams.publish_started("k1", "cam-a", ADDRESS, assignment_version=3, assigned=True)
    node.revoker.assignment_applied(assignment(4))
    await until(lambda: bool(node.nginx.drops), "a drop")
    node.revoker.assignment_applied(assignment(5, push("k1", "cam-a")))
    await settled(node)
    publish = node.streams.by_key("k1")
    assert publish is not None
    assert publish.end_reason == ""  # a later disconnect is an ordinary one


async def test_publish_gate_records_how_a_key_was_accepted(tmp_path: Path) -> None:
    data_dir = DataDir(tmp_path)
    data_dir.create()
    current = CurrentAssignment(data_dir)
    await current.apply(assignment(5, push("k-assigned", "cam-a")))
    streams = StreamTracker()
    spool = Spool(data_dir.spool)
    try:
        control_plane = ScriptedControlPlane({"k-checked": KeyCheck(True, "cam-b")})
        gate = PublishGate(current, streams, control_plane, Outbox(spool), RateLimiter())
        assert (await gate.on_publish("k-assigned", ADDRESS)).allowed
        assert (await gate.on_publish("k-checked", ADDRESS)).allowed
    finally:
        spool.close()
    assigned, checked = streams.by_key("k-assigned"), streams.by_key("k-checked")
    assert assigned is not None and checked is not None
    assert (assigned.assigned, assigned.assignment_version) == (True, 5)
    assert (checked.assigned, checked.assignment_version) == (False, 5)


async def test_behind_the_fleet_ingest_only_unknown_keys_count_against_an_address(
    tmp_path: Path,
) -> None:
    """Through Envoy every camera comes from one address: cameras of a dead node retrying here
    (refused while that node is not yet declared lost) must not lock the others out."""
    data_dir = DataDir(tmp_path)
    data_dir.create()
    current = CurrentAssignment(data_dir)
    await current.apply(assignment(1))
    spool = Spool(data_dir.spool)
    try:
        control_plane = ScriptedControlPlane(
            {
                "k-elsewhere": KeyCheck(False, "cam-a", "camera A is already publishing on n1"),
                "k-moved": KeyCheck(True, "cam-b"),
                "k-guess": KeyCheck(False, "", "unknown stream key"),
            }
        )
        gate = PublishGate(
            current, StreamTracker(), control_plane, Outbox(spool), RateLimiter(limit=2)
        )
        for _ in range(5):
            refused = await gate.on_publish("k-elsewhere", ADDRESS)
            assert refused.reason == "camera A is already publishing on n1"
        assert (await gate.on_publish("k-moved", ADDRESS)).allowed
        # Guesses still count: two are asked about, the third is refused unasked.
        for _ in range(3):
            assert not (await gate.on_publish("k-guess", ADDRESS)).allowed
        # Now the address is limited for every key it has not been granted.
        assert (await gate.on_publish("k-elsewhere", ADDRESS)).reason == RATE_LIMITED
    finally:
        spool.close()
    assert control_plane.asked == ["k-elsewhere"] * 5 + ["k-moved"] + ["k-guess"] * 2
