"""What recording leaves on disk, with real nginx-rtmp and ffmpeg: a byte quota keeps a
camera's directory under it (oldest first), a tier move keeps files readable through the
index, a full disk degrades without stopping the agent or corrupting the index, an agent
killed with -9 mid-recording loses and duplicates nothing, and the start-up rescan reconciles
files and index."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from camfleet.v1 import agent_pb2, recording_pb2

from harness.ports import free_port
from harness.processes import ROOT, clean_env, process_tree, stop_by_pid, survivors_after
from node_agent.desired import RecordingProfile
from node_agent.outbox import Outbox
from node_agent.recording.index import Segment, SegmentIndex
from node_agent.recording.run import SegmentFile
from node_agent.recording.store import FILE_MISSING, SegmentStore
from node_agent.recording.tiers import StorageTier, Tier, node_tiers
from node_agent.spool import Spool
from tests.support.agent_node import FFMPEG, FFPROBE, agent_argv, new_camera_id
from tests.support.recording_node import (
    all_segments,
    camera,
    config,
    prepare,
    probe,
    recorded_camera,
    recorder_events,
    running,
    segment_events,
    segments,
    small_disk,
    spooled,
    until,
)

CLOSED = agent_pb2.SEGMENT_EVENT_TYPE_CLOSED
DELETED = agent_pb2.SEGMENT_EVENT_TYPE_DELETED
MOVED = agent_pb2.SEGMENT_EVENT_TYPE_MOVED
HOT = StorageTier.HOT
WARM = StorageTier.WARM


def directory_bytes(path: Path) -> int:
    total = 0
    for entry in path.rglob("*"):
        with contextlib.suppress(FileNotFoundError):
            if entry.is_file():
                total += entry.stat().st_size
    return total


async def test_byte_quota_keeps_the_directory_under_it_oldest_first(tmp_path: Path) -> None:
    key, camera_id = "quota" + secrets.token_hex(6), new_camera_id()
    quota = 6_000_000  # about three and a half 2 s segments of the 720p test pattern
    prepare(tmp_path, recorded_camera(key, camera_id, max_bytes=quota))
    directory = tmp_path / "recordings" / camera_id
    sizes: list[int] = []

    async def sample() -> None:
        while True:
            if await asyncio.to_thread(directory.exists):
                sizes.append(await asyncio.to_thread(directory_bytes, directory))
            await asyncio.sleep(0.1)

    async with running(config(tmp_path)) as agent:
        sampler = asyncio.create_task(sample())
        try:
            async with camera(f"{agent.config.rtmp_url}/{key}"):
                await until(
                    lambda: len(segment_events(spooled(agent), DELETED)) >= 4,
                    "four deletions",
                    90,
                )
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
        deleted = segment_events(spooled(agent), DELETED)
        closed = {e.segment.id: e.segment for e in segment_events(spooled(agent), CLOSED)}
        kept = segments(agent, camera_id)

    print(f"\nbyte quota {quota}: largest directory size seen {max(sizes)} ({len(sizes)} samples)")
    assert max(sizes) <= quota
    assert all(e.reason == f"retention: over {quota} bytes" for e in deleted)
    # Oldest first: everything deleted started before anything kept.
    deleted_starts = [closed[e.segment.id].start_time.ToDatetime(UTC) for e in deleted]
    assert deleted_starts == sorted(deleted_starts)
    assert max(deleted_starts) < min(s.start for s in kept)
    assert sum(s.size_bytes for s in kept) <= quota


async def test_tier_move_keeps_segments_readable_through_the_index(tmp_path: Path) -> None:
    key, camera_id = "tier" + secrets.token_hex(6), new_camera_id()
    warm = tmp_path / "warm"
    prepare(tmp_path / "node", recorded_camera(key, camera_id))
    cfg = config(tmp_path / "node", warm_dir=warm, warm_after_s=3.0)
    async with running(cfg) as agent:
        async with camera(f"{agent.config.rtmp_url}/{key}"):
            await until(
                lambda: sum(s.tier == WARM for s in segments(agent, camera_id)) >= 2,
                "two segments in the warm tier",
                90,
            )
        found = segments(agent, camera_id)

        def reported() -> set[str]:
            return {e.segment.id for e in segment_events(spooled(agent), MOVED)}

        # A move updates the index, removes the hot file, then spools its event.
        await until(lambda: {s.id for s in found if s.tier == WARM} <= reported(), "MOVED events")
        moved_events = segment_events(spooled(agent), MOVED)

    moved = [s for s in found if s.tier == WARM]
    for segment in moved:
        assert segment.path.is_relative_to(warm)
        assert segment.path.is_file()
        assert not (tmp_path / "node" / "recordings" / segment.relative_path).exists()
        assert await probe(segment.path), f"{segment.path} does not decode"
        digest = await asyncio.to_thread(lambda s=segment: _sha256(s.path))
        assert digest == segment.sha256
    assert {e.segment.id for e in moved_events} >= {s.id for s in moved}
    assert all(e.segment.tier == recording_pb2.STORAGE_TIER_WARM for e in moved_events)
    # The index still lists the camera's segments in order, whichever tier holds them.
    assert [s.start for s in found] == sorted(s.start for s in found)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("floor", "what"),
    [(4_000_000, "free space below the floor"), (0, "ENOSPC (no floor)")],
)
async def test_a_full_disk_degrades_and_recording_goes_on(
    tmp_path: Path, floor: int, what: str
) -> None:
    if os.geteuid() != 0:
        pytest.fail("this test mounts a small tmpfs and needs root")
    key, camera_id = "full" + secrets.token_hex(6), new_camera_id()
    prepare(tmp_path, recorded_camera(key, camera_id))
    recordings = tmp_path / "recordings"
    with small_disk(recordings, "12m"):
        async with running(config(tmp_path, min_free_bytes=floor)) as agent:
            async with camera(f"{agent.config.rtmp_url}/{key}"):
                await until(
                    lambda: any(
                        e.reason.startswith("disk space")
                        for e in segment_events(spooled(agent), DELETED)
                    ),
                    "the first deletion for space",
                    120,
                )
                first_deletion = len(segments(agent, camera_id))
                ids_then = {s.id for s in segments(agent, camera_id)}
                await until(
                    lambda: len({s.id for s in segments(agent, camera_id)} - ids_then) >= 3,
                    "three more segments after the disk filled",
                    120,
                )
            assert agent.recording is not None
            found = segments(agent, camera_id)
            messages = [e.message for e in recorder_events(spooled(agent))]
            # The index never names a file that is not there.
            for segment in found:
                assert segment.path.is_file(), segment
            indexed = {s.relative_path for s in found}
            on_disk = {p.relative_to(recordings).as_posix() for p in recordings.rglob("*.ts")}
            assert indexed <= on_disk
            for segment in found[-3:]:
                assert await probe(segment.path), f"{segment.path} does not decode"
    print(f"\nfull disk ({what}): {first_deletion} segments when the first was deleted")
    assert any(m.startswith("disk space low") for m in messages), messages


# ----- an agent killed with -9, and the rescan ----------------------------------------------


@contextlib.contextmanager
def agent_process(root: Path, rtmp_port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m node_agent` on `root`; ended by PID on exit (if still running)."""
    argv = agent_argv(
        root,
        # Given again, so this one wins: the test publishes to it.
        "--rtmp-listen", f"127.0.0.1:{rtmp_port}",
        "--segment-seconds", "2",
        "--min-free-bytes", "0",
    )  # fmt: skip
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=clean_env(),
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        yield proc
    finally:
        stop_by_pid(proc)


async def wait_for_listen(port: int, within_s: float = 30.0) -> None:
    deadline = time.monotonic() + within_s
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            assert time.monotonic() < deadline, f"nothing listens on {port}"
            await asyncio.sleep(0.1)
            continue
        writer.close()
        await writer.wait_closed()
        return


def read_index(root: Path) -> SegmentIndex:
    return SegmentIndex(root / "recordings.db", node_tiers(root, None))


def being_written(root: Path, index: SegmentIndex, camera_id: str) -> bool:
    """Whether a segment file with media in it is on disk that the index does not name."""
    indexed = {s.relative_path for s in all_segments(index, camera_id)}
    recordings = root / "recordings"
    for path in recordings.rglob("*.ts"):
        with contextlib.suppress(OSError):
            if path.relative_to(recordings).as_posix() not in indexed and path.stat().st_size:
                return True
    return False


async def test_agent_killed_mid_recording_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    key, camera_id = "restart" + secrets.token_hex(6), new_camera_id()
    root = tmp_path / "node"
    prepare(root, recorded_camera(key, camera_id))
    log = tmp_path / "agent.log"
    index = read_index(root)
    try:
        port = free_port()
        with agent_process(root, port, log) as first:
            await wait_for_listen(port)
            tree = process_tree(first.pid)
            async with camera(f"rtmp://127.0.0.1:{port}/live/{key}"):
                await until(lambda: len(all_segments(index, camera_id)) >= 3, "segments", 90)
                # Mid-segment: a file the recorder writes and the index does not name yet (a
                # fixed sleep can land between two segments when the machine is loaded).
                await until(lambda: being_written(root, index, camera_id), "a segment open", 30)
                before = {s.id for s in all_segments(index, camera_id)}
                os.kill(first.pid, signal.SIGKILL)
                await asyncio.to_thread(first.wait)
                # Its nginx and recorder go with it (parent-death signal).
                assert await survivors_after(tree, within_s=10) == []

        port = free_port()
        with agent_process(root, port, log) as second:
            await wait_for_listen(port)
            async with camera(f"rtmp://127.0.0.1:{port}/live/{key}"):
                await until(
                    lambda: len(all_segments(index, camera_id)) >= len(before) + 4,
                    "segments after the restart",
                    90,
                )
            second.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(second.wait, 30) == 0
        found = all_segments(index, camera_id)
    finally:
        index.close()

    # Nothing lost: every segment indexed before the kill still is, and the one being written
    # when the agent died was finalized at the restart.
    assert before <= {s.id for s in found}
    recovered = [s for s in found if s.recovered]
    assert recovered, "the segment cut by the kill was not finalized"
    for segment in recovered:
        assert await probe(segment.path), f"{segment.path} does not decode"
    # The index and the disk agree.
    on_disk = {
        p.relative_to(root / "recordings").as_posix() for p in (root / "recordings").rglob("*.ts")
    }
    assert {s.relative_path for s in found} == on_disk

    # Nothing duplicated: each segment is reported exactly once, and every one is.
    spool = Spool(root / "spool.db")
    try:
        requests = [
            agent_pb2.ConnectRequest.FromString(e.payload) for e in spool.pending(0, 100_000)
        ]
    finally:
        spool.close()
    closed = [r for r in requests if r.WhichOneof("body") == "segment_event"]
    closed_ids = [r.segment_event.segment.id for r in closed if r.segment_event.type == CLOSED]
    assert sorted(closed_ids) == sorted(s.id for s in found)
    assert len({r.event_id for r in requests}) == len(requests)


@contextlib.contextmanager
def local_store(
    root: Path, warm: Path | None
) -> Iterator[tuple[dict[int, Tier], SegmentIndex, Spool, SegmentStore]]:
    """A node's segment store under `root` (tiers, index, spool), closed afterwards."""
    tiers = node_tiers(root, warm)
    index = SegmentIndex(root / "recordings.db", tiers)
    spool = Spool(root / "spool.db")
    try:
        yield tiers, index, spool, SegmentStore(index, tiers, Outbox(spool), FFPROBE)
    finally:
        index.close()
        spool.close()


async def _ts_file(path: Path, seconds: float) -> None:
    """A real MPEG-TS file of `seconds` of the test pattern."""
    path.parent.mkdir(parents=True, exist_ok=True)
    proc = await asyncio.create_subprocess_exec(
        FFMPEG, "-hide_banner", "-loglevel", "error", "-f", "lavfi",
        "-i", "testsrc2=size=320x240:rate=25", "-t", str(seconds),
        "-c:v", "libx264", "-preset", "ultrafast", "-f", "mpegts", str(path),
    )  # fmt: skip
    assert await proc.wait() == 0


async def test_rescan_finalizes_orphans_finishes_moves_and_drops_missing(tmp_path: Path) -> None:
    camera_id = new_camera_id()
    with local_store(tmp_path, tmp_path / "warm") as (tiers, index, spool, store):
        hot, warm = tiers[HOT], tiers[WARM]
        day = f"{camera_id}/20261201"
        # A segment the agent never indexed (it died while ffmpeg wrote it).
        orphan = f"{day}/20261201T120000.000Z-original-00003.ts"
        await _ts_file(hot.path_for(orphan), 1.5)
        # An empty file: ffmpeg had only opened it.
        empty = f"{day}/20261201T120000.000Z-original-00004.ts"
        hot.path_for(empty).write_bytes(b"")
        # A move cut short after the copy: indexed hot, copied to warm.
        moving = f"{day}/20261201T115900.000Z-original-00000.ts"
        await _ts_file(hot.path_for(moving), 1.0)
        await store.add(_file(camera_id, moving, hot.path_for(moving)), HOT)
        shutil.copy(hot.path_for(moving), tmp_path / "copy.ts")
        warm.store(tmp_path / "copy.ts", moving)
        # An indexed segment whose file went away.
        gone = f"{day}/20261201T115800.000Z-original-00000.ts"
        await _ts_file(hot.path_for(gone), 1.0)
        gone_segment = await store.add(_file(camera_id, gone, hot.path_for(gone)), HOT)
        assert gone_segment is not None
        hot.path_for(gone).unlink()

        result = await store.recover()
        assert (result.finalized, result.discarded, result.moves_finished, result.rows_dropped) == (
            1, 1, 1, 1,
        )  # fmt: skip
        assert not hot.path_for(empty).exists()
        assert not warm.path_for(moving).exists()
        assert index.get(gone_segment.id) is None
        [finalized] = [s for s in all_segments(index, camera_id) if s.relative_path == orphan]
        assert finalized.recovered
        assert abs(finalized.duration_s - 1.5) < 0.1
        assert abs((finalized.end - finalized.start).total_seconds() - finalized.duration_s) < 1e-3
        requests = [agent_pb2.ConnectRequest.FromString(e.payload) for e in spool.pending()]
        events = segment_events(requests)
        assert [e.reason for e in events if e.type == DELETED] == [FILE_MISSING]
        closed = [e.segment.id for e in events if e.type == CLOSED]
        assert closed.count(finalized.id) == 1

        # A second rescan finds nothing to do and reports nothing again.
        again = await store.recover()
        assert again.finalized == again.discarded == again.moves_finished == again.rows_dropped == 0
        assert len(spool.pending()) == len(requests)


async def test_a_file_delivered_twice_is_indexed_and_reported_once(tmp_path: Path) -> None:
    # Two paths finishing the same file at once (a recorder's closed segment and its run's
    # leftovers after nginx died): the chaos soak saw one file listed twice with two ids.
    camera_id = new_camera_id()
    with local_store(tmp_path, None) as (tiers, index, spool, store):
        relative = f"{camera_id}/20261201/20261201T120000.000Z-original-00000.ts"
        path = tiers[HOT].path_for(relative)
        await _ts_file(path, 1.0)
        first = _file(camera_id, relative, path)
        second = SegmentFile(
            camera_id, RecordingProfile.ORIGINAL, relative, path,
            first.start + timedelta(milliseconds=12), None, True,
        )  # fmt: skip
        a, b = await asyncio.gather(store.add(first), store.add(second))
        assert a is not None and b is not None and a.id == b.id
        assert [s.id for s in all_segments(index, camera_id)] == [a.id]
        # And once more later: the same.
        again = await store.add(first)
        assert again is not None and again.id == a.id
        requests = [agent_pb2.ConnectRequest.FromString(e.payload) for e in spool.pending()]
        assert [e.segment.id for e in segment_events(requests, CLOSED)] == [a.id]


def _file(camera_id: str, relative: str, path: Path) -> SegmentFile:
    start = datetime.now(UTC) - timedelta(minutes=5)
    return SegmentFile(camera_id, RecordingProfile.ORIGINAL, relative, path, start, None, False)


async def test_age_retention_deletes_what_is_too_old_oldest_first(tmp_path: Path) -> None:
    from node_agent.recording.retention import Housekeeper, Limits

    camera_id = new_camera_id()
    with local_store(tmp_path, None) as (tiers, index, spool, store):
        added: list[Segment] = []
        for n, minutes_ago in enumerate((50, 40, 30, 5)):
            relative = f"{camera_id}/20261201/20261201T120000.000Z-original-{n:05d}.ts"
            path = tiers[HOT].path_for(relative)
            await _ts_file(path, 1.0)
            start = datetime.now(UTC) - timedelta(minutes=minutes_ago)
            file = SegmentFile(
                camera_id, RecordingProfile.ORIGINAL, relative, path, start,
                start + timedelta(seconds=1), False,
            )  # fmt: skip
            segment = await store.add(file)
            assert segment is not None
            added.append(segment)
        keeper = Housekeeper(store, min_free_bytes=0, warm_after_s=3600)
        assert await keeper.retain(camera_id, Limits(max_age_s=35 * 60)) == 2
        assert [s.id for s in all_segments(index, camera_id)] == [s.id for s in added[2:]]
        for gone in added[:2]:
            assert not gone.path.exists()
        requests = [agent_pb2.ConnectRequest.FromString(e.payload) for e in spool.pending()]
        deleted = segment_events(requests, DELETED)
        assert [e.segment.id for e in deleted] == [s.id for s in added[:2]]
        assert {e.reason for e in deleted} == {"retention: older than 2100s"}
        # Nothing else is old enough: a second pass deletes nothing.
        assert await keeper.retain(camera_id, Limits(max_age_s=35 * 60)) == 0


async def test_rescan_keeps_the_index_of_a_tier_that_is_not_there(tmp_path: Path) -> None:
    camera_id = new_camera_id()
    with local_store(tmp_path, tmp_path / "share") as (tiers, index, spool, store):
        relative = f"{camera_id}/20261201/20261201T120000.000Z-original-00000.ts"
        await _ts_file(tiers[HOT].path_for(relative), 1.0)
        segment = await store.add(_file(camera_id, relative, tiers[HOT].path_for(relative)))
        assert segment is not None
        moved = await store.move(segment, WARM)
        assert moved is not None and moved.path.exists()
        # The share is unmounted: its directory is there, empty.
        shutil.rmtree(tmp_path / "share")
        (tmp_path / "share").mkdir()

        result = await store.recover()
        assert result.rows_dropped == 0
        assert index.get(segment.id) is not None
        requests = [agent_pb2.ConnectRequest.FromString(e.payload) for e in spool.pending()]
        assert segment_events(requests, DELETED) == []
