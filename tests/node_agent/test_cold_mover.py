"""The cold mover's invariant against a real S3 server (`rclone serve s3`, started on a free
loopback port over a temporary directory and ended by PID): a store killed in the middle of an
upload loses nothing (the segment stays on the node's disk, whole, one event says why) and the
move completes once the store is back; an agent that dies after pointing the index at the
object finishes the move at its next start without indexing the local copy a second time; a
COLD segment's deletion deletes its object, and a store that is down keeps the row."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from camfleet.v1 import agent_pb2, recording_pb2

from harness.object_store import ObjectStore
from node_agent.desired import ColdStorage, RecordingProfile
from node_agent.outbox import Outbox
from node_agent.recording.cold import ColdMover
from node_agent.recording.index import Segment, SegmentIndex
from node_agent.recording.store import SegmentStore
from node_agent.recording.tiers import StorageTier, node_tiers
from node_agent.spool import Spool
from tests.support.agent_node import FFPROBE, new_camera_id
from tests.support.recording_node import segment_events

pytestmark = pytest.mark.timeout(300)

BUCKET = "cold"
HOT, WARM, COLD = StorageTier.HOT, StorageTier.WARM, StorageTier.COLD
MOVED = agent_pb2.SEGMENT_EVENT_TYPE_MOVED
BLOCKED = agent_pb2.SEGMENT_EVENT_TYPE_MOVES_BLOCKED
RESUMED = agent_pb2.SEGMENT_EVENT_TYPE_MOVES_RESUMED


class Node:
    """A node's index, spool, segment store and cold mover under `root` (reopened = restarted)."""

    def __init__(self, root: Path, config: ColdStorage) -> None:
        self.tiers = node_tiers(root, root / "warm")
        self.index = SegmentIndex(root / "recordings.db", self.tiers)
        self.spool = Spool(root / "spool.db")
        self.store = SegmentStore(self.index, self.tiers, Outbox(self.spool), FFPROBE)
        self.cold = ColdMover(self.store, Outbox(self.spool), asyncio.Lock())
        self.cold.configure(config)

    def events(self, kind: int | None = None) -> list[agent_pb2.SegmentEvent]:
        requests = [agent_pb2.ConnectRequest.FromString(e.payload) for e in self.spool.pending()]
        return segment_events(requests, kind)

    def close(self) -> None:
        self.index.close()
        self.spool.close()


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[ObjectStore]:
    store = ObjectStore(tmp_path / "s3").start()
    store.bucket(BUCKET)
    try:
        yield store
    finally:
        store.stop()


def config(store: ObjectStore, secret: str | None = None) -> ColdStorage:
    return ColdStorage(
        store.endpoint, BUCKET, "node-1", store.access_key, secret or store.secret_key, 60.0
    )


def add_segment(node: Node, tier: StorageTier, size: int, minutes_ago: float = 10) -> Segment:
    """A segment file of `size` random bytes in `tier`, indexed as a recorder's would be."""
    camera_id = new_camera_id()
    relative = f"{camera_id}/20261201/20261201T120000.000Z-original-00000.ts"
    path = node.tiers[tier].path_for(relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = os.urandom(size)
    path.write_bytes(data)
    end = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    segment = Segment(
        id=f"{camera_id[:-12]}{hashlib.sha256(data).hexdigest()[:12]}",
        camera_id=camera_id,
        start=end - timedelta(seconds=2),
        end=end,
        duration_s=2.0,
        size_bytes=size,
        sha256=hashlib.sha256(data).hexdigest(),
        tier=tier,
        profile=RecordingProfile.ORIGINAL,
        container="mpegts",
        recovered=False,
        relative_path=relative,
        path=path,
    )
    node.index.add(segment)
    return segment


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def object_path(store: ObjectStore, key: str) -> Path:
    return store.root / BUCKET / key


async def test_a_store_killed_mid_upload_loses_nothing_and_the_move_completes_later(
    tmp_path: Path, s3: ObjectStore
) -> None:
    node = Node(tmp_path / "node", config(s3))
    try:
        segment = add_segment(node, WARM, 96 << 20)
        bucket_dir = s3.root / BUCKET
        killed = threading.Event()

        def kill_when_writing() -> None:
            # The first byte of the object on the store's disk: the upload is under way.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if any(p.is_file() for p in bucket_dir.rglob("*")):
                    s3.kill()
                    killed.set()
                    return
                time.sleep(0.001)

        watcher = threading.Thread(target=kill_when_writing)
        watcher.start()
        moved = await node.cold.move_old()
        watcher.join()
        assert killed.is_set(), "the upload was never seen on the store's disk"
        assert moved == []
        kept = node.index.get(segment.id)
        assert kept is not None and kept.tier == WARM
        assert sha(kept.path) == segment.sha256
        [blocked] = node.events(BLOCKED)
        assert "cannot be reached" in blocked.reason or "refused" in blocked.reason
        # Another pass while it is down: still one event, not one per pass or segment.
        assert await node.cold.move_old() == []
        assert len(node.events(BLOCKED)) == 1

        s3.start()
        # Tried again after a pause (10 s after the first failure, 20 s after the second).
        deadline = time.monotonic() + 90
        while not (moved := await node.cold.move_old()):
            assert time.monotonic() < deadline, "the move never completed"
            await asyncio.sleep(0.5)
        [done] = moved
        assert done.tier == COLD and done.object_bucket == BUCKET
        assert sha(object_path(s3, done.object_key)) == segment.sha256
        assert not segment.path.exists()
        [event] = node.events(MOVED)
        assert event.segment.tier == recording_pb2.STORAGE_TIER_COLD
        assert event.segment.object_key == done.object_key == f"node-1/{segment.relative_path}"
        assert len(node.events(RESUMED)) == 1
    finally:
        node.close()


async def test_an_agent_dead_after_the_index_switch_finishes_the_move_at_its_start(
    tmp_path: Path, s3: ObjectStore
) -> None:
    node = Node(tmp_path / "node", config(s3))
    segment = add_segment(node, HOT, 1 << 20)
    store = node.cold.store
    assert store is not None
    key = store.key_for(segment.relative_path)
    # Steps 1 and 2 of a move, then the agent dies: no MOVED spooled, the local copy still there.
    store.upload(segment.path, key, segment.size_bytes, segment.sha256)
    node.index.moved(segment.id, COLD, segment.relative_path, BUCKET, key)
    node.close()

    restarted = Node(tmp_path / "node", config(s3))
    try:
        assert await restarted.cold.recover() == 1
        recovery = await restarted.store.recover()
        assert recovery.finalized == recovery.moves_finished == 0  # not indexed a second time
        assert not segment.path.exists()
        [row] = restarted.index.oldest(segment.camera_id)
        assert (row.id, row.tier, row.object_key) == (segment.id, COLD, key)
        assert [e.segment.id for e in restarted.events(MOVED)] == [segment.id]
        assert await restarted.cold.recover() == 0
    finally:
        restarted.close()


async def test_deleting_a_cold_segment_deletes_its_object_and_waits_for_a_store_that_is_down(
    tmp_path: Path, s3: ObjectStore
) -> None:
    node = Node(tmp_path / "node", config(s3))
    try:
        segment = add_segment(node, HOT, 1 << 16)
        [moved] = await node.cold.move_old()
        stored = object_path(s3, moved.object_key)
        assert stored.is_file()
        s3.stop()
        assert not await node.store.delete(moved, "retention: test")
        assert node.index.get(segment.id) is not None  # kept: the object is still there
        s3.start()
        assert await node.store.delete(moved, "retention: test")
        assert node.index.get(segment.id) is None
        assert not stored.exists()
    finally:
        node.close()


async def test_a_wrong_secret_is_named_and_nothing_moves(tmp_path: Path, s3: ObjectStore) -> None:
    node = Node(tmp_path / "node", config(s3, secret="wrong"))
    try:
        segment = add_segment(node, HOT, 1 << 16)
        assert await node.cold.move_old() == []
        [blocked] = node.events(BLOCKED)
        assert "refuses the access and secret keys" in blocked.reason
        assert node.index.get(segment.id).tier == HOT  # type: ignore[union-attr]
        with contextlib.suppress(FileNotFoundError):
            assert not list((s3.root / BUCKET).rglob("*.ts"))
    finally:
        node.close()
