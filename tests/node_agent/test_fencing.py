"""Placement epochs as fencing tokens on the agent (node_agent.fencing): the highest epoch seen
per camera is kept in the data directory, replaced atomically and read back after a restart; a
camera assigned under an older epoch is never run (left out of the applied assignment, with an
ERROR stream event saying why) while the rest of the assignment applies; segments carry the
epoch they were recorded under."""

from __future__ import annotations

import json
import sqlite3
import stat
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from camfleet.v1 import agent_pb2, stream_pb2

from node_agent import __version__
from node_agent.assignment import CurrentAssignment
from node_agent.credentials import Credential
from node_agent.desired import AssignedCamera, Assignment, Ingest, RecordingProfile
from node_agent.hostmetrics import HostMetrics
from node_agent.messages import AgentMessages, NodeInfo
from node_agent.outbox import Outbox
from node_agent.playback_auth import PlaybackSecret
from node_agent.recording import wire
from node_agent.recording.index import Segment, SegmentIndex
from node_agent.recording.tiers import StorageTier, node_tiers
from node_agent.spool import Spool
from node_agent.state import DataDir, load_assignment, save_assignment
from node_agent.streams import StreamTracker

INFO = NodeInfo(__version__, 16, "rtmp://127.0.0.1:1935/live", "http://127.0.0.1:8088")


def push(camera_id: str, key: str, epoch: int) -> agent_pb2.AssignedCamera:
    return agent_pb2.AssignedCamera(
        camera_id=camera_id,
        name=camera_id,
        ingest=agent_pb2.ASSIGNED_INGEST_PUSH,
        stream_key=key,
        epoch=epoch,
    )


def assignment(version: int, *cameras: agent_pb2.AssignedCamera) -> agent_pb2.ConnectResponse:
    return agent_pb2.ConnectResponse(
        assignment=agent_pb2.Assignment(version=version, cameras=list(cameras))
    )


@dataclass
class Node:
    data_dir: DataDir
    messages: AgentMessages
    assignment: CurrentAssignment
    outbox: Outbox


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    data_dir = DataDir(tmp_path / "node")
    data_dir.create()
    spool = Spool(data_dir.spool)
    current = CurrentAssignment(data_dir)
    current.load()
    outbox = Outbox(spool)
    messages = AgentMessages(
        credential=Credential("node-1", "cfn_x"),
        info=INFO,
        assignment=current,
        streams=StreamTracker(),
        outbox=outbox,
        playback=PlaybackSecret(data_dir),
        host=HostMetrics(data_dir.root),
    )
    yield Node(data_dir, messages, current, outbox)
    spool.close()


def restarted(data_dir: DataDir) -> CurrentAssignment:
    """What an agent started again on `data_dir` has in force."""
    again = CurrentAssignment(data_dir)
    again.load()
    return again


def errors(outbox: Outbox) -> list[tuple[str, str]]:
    """(camera id, message) of every ERROR stream event spooled."""
    found = []
    for spooled in outbox.spool.pending():
        request = agent_pb2.ConnectRequest.FromString(spooled.payload)
        event = request.stream_event
        if request.HasField("stream_event") and event.type == stream_pb2.STREAM_EVENT_TYPE_ERROR:
            found.append((event.camera_id, event.message))
    return found


async def test_the_highest_epoch_seen_is_kept_on_disk_owner_only(node: Node) -> None:
    [reply] = await node.messages.handle(assignment(1, push("cam-a", "key-a", 3)))
    assert reply.WhichOneof("body") == "ack"
    assert node.assignment.epoch_of("cam-a") == 3
    assert json.loads(node.data_dir.epochs.read_text())["epochs"] == {"cam-a": 3}
    assert stat.S_IMODE(node.data_dir.epochs.stat().st_mode) == 0o600
    # Replaced by a rename: no temporary file is left beside it.
    assert sorted(p.name for p in node.data_dir.root.glob(".epochs*")) == []
    # A later assignment at a lower epoch does not lower what was seen.
    await node.messages.handle(assignment(2, push("cam-b", "key-b", 1)))
    assert json.loads(node.data_dir.epochs.read_text())["epochs"] == {"cam-a": 3, "cam-b": 1}
    assert restarted(node.data_dir).epoch_of("cam-a") == 3


async def test_a_camera_under_an_older_epoch_is_not_run_and_the_rest_applies(node: Node) -> None:
    await node.messages.handle(assignment(1, push("cam-a", "key-a", 5), push("cam-b", "key-b", 1)))
    # A deposed leader (or a replica behind) sends cam-a from before its last move.
    [reply] = await node.messages.handle(
        assignment(2, push("cam-a", "key-a", 4), push("cam-b", "key-b", 2))
    )
    assert reply.WhichOneof("body") == "ack"
    assert reply.ack.version == 2
    assert node.assignment.version == 2
    assert node.assignment.camera("cam-a") is None
    assert node.assignment.camera_for_key("key-a") is None
    camera_b = node.assignment.camera("cam-b")
    assert camera_b is not None and camera_b.epoch == 2
    assert errors(node.outbox) == [("cam-a", "stale placement epoch 4 < 5: not run on this node")]
    # What is stored (and so what a restart runs) leaves it out too.
    stored = load_assignment(node.data_dir)
    assert stored is not None
    assert [c.camera_id for c in stored.cameras] == ["cam-b"]
    # The same epoch again, or a newer one, runs it.
    await node.messages.handle(assignment(3, push("cam-a", "key-a", 5)))
    assert node.assignment.camera_for_key("key-a") is not None


async def test_a_restarted_agent_still_refuses_the_older_epoch(node: Node) -> None:
    await node.messages.handle(assignment(1, push("cam-a", "key-a", 7)))
    again = restarted(node.data_dir)
    result = await again.apply(
        Assignment(2, (AssignedCamera("cam-a", ingest=Ingest.PUSH, stream_key="key-a", epoch=6),))
    )
    assert result.accepted
    assert [(s.camera_id, s.epoch, s.seen) for s in result.stale] == [("cam-a", 6, 7)]
    assert again.camera("cam-a") is None


async def test_a_crash_between_the_two_writes_runs_nothing_stale(node: Node) -> None:
    """The epochs are written before the assignment: a crash in between leaves a stored
    assignment older than the epochs, and loading it leaves the camera out."""
    await node.messages.handle(assignment(1, push("cam-a", "key-a", 2), push("cam-b", "key-b", 2)))
    node.data_dir.epochs.write_text(json.dumps({"format": 1, "epochs": {"cam-a": 3}}))
    again = restarted(node.data_dir)
    assert again.version == 1
    assert again.camera("cam-a") is None
    assert again.camera("cam-b") is not None


async def test_an_unstorable_epoch_is_a_nack_and_nothing_changes(node: Node) -> None:
    await node.messages.handle(assignment(1, push("cam-a", "key-a", 1)))
    # A directory where the file goes: the write fails as a full or read-only disk would.
    node.data_dir.epochs.unlink()
    node.data_dir.epochs.mkdir()
    [reply] = await node.messages.handle(assignment(2, push("cam-a", "key-a", 2)))
    assert reply.WhichOneof("body") == "nack"
    assert "cannot store the assignment" in reply.nack.error
    assert node.assignment.version == 1
    assert node.assignment.epoch_of("cam-a") == 1


def test_a_damaged_epochs_file_reads_as_none_seen(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = DataDir(tmp_path / "node")
    data_dir.create()
    save_assignment(
        data_dir,
        Assignment(1, (AssignedCamera("cam-a", ingest=Ingest.PUSH, stream_key="k", epoch=2),)),
    )
    data_dir.epochs.write_bytes(b"{not json")
    again = restarted(data_dir)
    assert again.epoch_of("cam-a") == 0
    assert again.camera("cam-a") is not None
    assert f"{data_dir.epochs} is damaged" in caplog.text


# ----- segments carry their epoch -----------------------------------------------------------


def segment(camera_id: str, epoch: int, root: Path) -> Segment:
    start = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    return Segment(
        id=str(uuid.uuid4()),
        camera_id=camera_id,
        start=start,
        end=start + timedelta(seconds=4),
        duration_s=4.0,
        size_bytes=100,
        sha256="0" * 64,
        tier=StorageTier.HOT,
        profile=RecordingProfile.ORIGINAL,
        container="mpegts",
        recovered=False,
        relative_path=f"{camera_id}/20261205/a.ts",
        path=root / "a.ts",
        epoch=epoch,
    )


def test_the_index_keeps_each_segments_epoch_and_reads_old_indexes(tmp_path: Path) -> None:
    camera = str(uuid.uuid4())
    old = tmp_path / "old.db"
    # An index as agents before epochs wrote it: no epoch column.
    db = sqlite3.connect(old)
    db.executescript(
        """CREATE TABLE segments (id TEXT PRIMARY KEY, camera_id TEXT NOT NULL, start REAL NOT
        NULL, end REAL NOT NULL, duration REAL NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT
        NULL, tier INTEGER NOT NULL, profile INTEGER NOT NULL, container TEXT NOT NULL,
        recovered INTEGER NOT NULL, path TEXT NOT NULL, reported INTEGER NOT NULL DEFAULT 0,
        created REAL NOT NULL, UNIQUE (tier, path));
        INSERT INTO segments VALUES ('s-old', 'cam', 1.0, 5.0, 4.0, 10, 'x', 1, 1, 'mpegts', 0,
        'cam/1/a.ts', 1, 1.0);"""
    )
    db.commit()
    db.close()
    index = SegmentIndex(old, node_tiers(tmp_path, None))
    try:
        before = index.get("s-old")
        assert before is not None and before.epoch == 0
        added = segment(camera, 9, tmp_path)
        index.add(added)
        got = index.get(added.id)
        assert got is not None and got.epoch == 9
    finally:
        index.close()


def test_a_closed_event_says_the_epoch(tmp_path: Path) -> None:
    assert wire.recording(segment(str(uuid.uuid4()), 4, tmp_path)).epoch == 4
