"""Recording on a real node (node_agent.agent.Agent with its nginx-rtmp, ffmpeg publishing
720p25, recorders joining its live HLS fragments or
re-encoding with ffmpeg, ffprobe checking), the control plane unreachable throughout so
everything the control plane should hear waits in the spool: segments that decode and add up,
a recorder killed with -9 (partial segment kept, restart, measured gap), a crash loop turning
into ERROR and back, a re-encoding profile, and DeleteSegments."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import secrets
import signal
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from camfleet.v1 import agent_pb2, recording_pb2

from node_agent.agent import Agent
from node_agent.desired import RecordingProfile
from node_agent.recording.index import Segment
from node_agent.recording.media import SUFFIX
from node_agent.recording.recorder import Recorder
from tests.support.agent_node import new_camera_id
from tests.support.recording_node import (
    camera,
    config,
    prepare,
    probe,
    recorded_camera,
    recorder_events,
    running,
    segment_events,
    segments,
    spooled,
    until,
)

CLOSED = agent_pb2.SEGMENT_EVENT_TYPE_CLOSED
DELETED = agent_pb2.SEGMENT_EVENT_TYPE_DELETED
RECORDING = recording_pb2.RECORDING_STATE_RECORDING
IDLE = recording_pb2.RECORDING_STATE_IDLE
ERROR = recording_pb2.RECORDING_STATE_ERROR

PLAIN = ("plain" + secrets.token_hex(6), new_camera_id())
KILLED = ("killed" + secrets.token_hex(6), new_camera_id())
LOOPING = ("looping" + secrets.token_hex(6), new_camera_id())
LOW = ("low" + secrets.token_hex(6), new_camera_id())
NOT_RECORDED = ("norec" + secrets.token_hex(6), new_camera_id())
TOGGLED = ("toggled" + secrets.token_hex(6), new_camera_id())


def _module_cameras(*, toggled_records: bool = True) -> list[agent_pb2.AssignedCamera]:
    """The cameras this module's node is assigned (TOGGLED's recording on or off)."""
    not_recorded = recorded_camera(*NOT_RECORDED)
    not_recorded.record = False
    toggled = recorded_camera(*TOGGLED)
    toggled.record = toggled_records
    return [
        recorded_camera(*PLAIN),
        recorded_camera(*KILLED),
        recorded_camera(*LOOPING),
        recorded_camera(*LOW, profile=recording_pb2.RECORDING_PROFILE_LOW),
        not_recorded,
        toggled,
    ]


_versions = itertools.count(10)


@pytest.fixture(scope="module")
async def agent(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Agent]:
    root = tmp_path_factory.mktemp("recording-node")
    prepare(root, *_module_cameras())
    async with running(config(root)) as a:
        yield a


def url(agent: Agent, key: str) -> str:
    return f"{agent.config.rtmp_url}/{key}"


def recorder(agent: Agent, camera_id: str) -> Recorder | None:
    assert agent.recording is not None
    return agent.recording.recorders.get(camera_id)


def camera_events(agent: Agent, camera_id: str) -> list[agent_pb2.RecorderEvent]:
    return [e for e in recorder_events(spooled(agent)) if e.camera_id == camera_id]


def seconds(delta: timedelta) -> float:
    return delta / timedelta(seconds=1)


def _stopped(pid: int) -> bool:
    """Whether process `pid` is stopped (SIGSTOP took effect: it runs no more code)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] == "T"


def _writing(pid: int, camera_id: str) -> Path | None:
    """The segment file of `camera_id` that recorder process `pid` holds open: the one it is
    in, not announced yet (a segment is closed before its line is printed)."""
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = Path(os.readlink(fd))
        except OSError:
            continue  # closed meanwhile
        if target.suffix == SUFFIX and f"/{camera_id}/" in str(target):
            return target
    return None


async def _kill_mid_segment(pid: int, camera_id: str, min_bytes: int) -> tuple[Path, int]:
    """SIGKILL the recorder while it is writing a segment that already holds `min_bytes`; that
    file and its size. To look, it is stopped (SIGSTOP), so the segment cannot close between
    the look and the kill; while it holds none that big it is let go (SIGCONT) and looked at
    again a little later."""
    deadline = time.monotonic() + 30
    while True:
        os.kill(pid, signal.SIGSTOP)
        await until(lambda: _stopped(pid), "the recorder to stop", 10)
        path = _writing(pid, camera_id)
        size = path.stat().st_size if path is not None else 0
        if path is not None and size >= min_bytes:
            os.kill(pid, signal.SIGKILL)
            return path, size
        os.kill(pid, signal.SIGCONT)
        assert time.monotonic() < deadline, "the recorder never held a partly written segment"
        await asyncio.sleep(0.05)


async def test_segments_decode_add_up_and_are_reported_once(agent: Agent) -> None:
    key, camera_id = PLAIN
    async with camera(url(agent, key)) as publisher:
        await until(lambda: len(segments(agent, camera_id)) >= 5, "five closed segments", 60)
        assert publisher.poll() is None
    # The publisher left: the recorder ends with its stream, closing its last segment.
    await until(
        lambda: [e.state for e in camera_events(agent, camera_id)][-1:] == [IDLE],
        "the recorder to go idle",
    )
    assert recorder(agent, camera_id) is None or recorder(agent, camera_id).finished  # type: ignore[union-attr]
    found = segments(agent, camera_id)
    assert [e.state for e in camera_events(agent, camera_id)] == [RECORDING, IDLE]

    for segment in found:
        media = await probe(segment.path)
        assert media, f"{segment.path} does not decode"
        assert (media["width"], media["height"]) == (1280, 720)
        assert abs(float(str(media["duration"])) - segment.duration_s) < 0.1
        assert segment.path.stat().st_size == segment.size_bytes
        assert hashlib.sha256(segment.path.read_bytes()).hexdigest() == segment.sha256
        assert segment.container == "mpegts" and not segment.recovered
        assert segment.profile == RecordingProfile.ORIGINAL
    # Cut about every 2 s on keyframes; the last one is cut short by the end of the stream.
    assert all(1.9 <= s.duration_s <= 2.2 for s in found[:-1]), [s.duration_s for s in found]
    # One after the other, no holes: their durations add up to the time they span.
    for before, after in itertools.pairwise(found):
        assert abs(seconds(after.start - before.end)) < 0.05, (before, after)
    span = seconds(found[-1].end - found[0].start)
    assert abs(sum(s.duration_s for s in found) - span) < 0.2

    # Each segment is reported exactly once, with what the index says.
    closed = [e.segment for e in segment_events(spooled(agent), CLOSED)]
    mine = [r for r in closed if r.camera_id == camera_id]
    assert [r.id for r in mine] == [s.id for s in found]
    for reported, segment in zip(mine, found, strict=True):
        assert reported.sha256 == segment.sha256
        assert reported.size_bytes == segment.size_bytes
        assert reported.start_time.ToDatetime().timestamp() == pytest.approx(
            segment.start.timestamp(), abs=1e-3
        )
        assert reported.tier == recording_pb2.STORAGE_TIER_HOT


async def test_a_camera_without_recording_is_not_recorded(agent: Agent) -> None:
    key, camera_id = NOT_RECORDED
    async with camera(url(agent, key)):
        await until(
            lambda: (p := agent.streams.by_camera(camera_id)) is not None and p.media_flowing,
            "its media",
        )
        await asyncio.sleep(3)
        assert recorder(agent, camera_id) is None
    assert segments(agent, camera_id) == []


async def test_kill_9_mid_segment_keeps_the_partial_and_reports_the_gap(agent: Agent) -> None:
    key, camera_id = KILLED
    async with camera(url(agent, key)):
        await until(lambda: len(segments(agent, camera_id)) >= 2, "two segments", 60)
        rec = recorder(agent, camera_id)
        assert rec is not None and rec.pid is not None
        old_pid = rec.pid
        # Mid-segment: while it writes one that holds media already (a quarter of a closed
        # segment's bytes: about half of one of its ~1 s fragments).
        min_bytes = min(s.size_bytes for s in segments(agent, camera_id)) // 4
        cut, cut_bytes = await _kill_mid_segment(old_pid, camera_id, min_bytes)
        killed_at = time.monotonic()
        closed_before = len(segments(agent, camera_id))
        await until(
            lambda: rec.pid is not None and rec.pid != old_pid, "the recorder to restart", 10
        )
        back_after = time.monotonic() - killed_at
        await until(lambda: bool(rec.gaps), "the gap to be known", 30)
        await until(lambda: len(segments(agent, camera_id)) >= closed_before + 3, "more segments")

    found = segments(agent, camera_id)
    [partial] = [s for s in found if s.recovered]
    # The file it was writing when killed, kept as it was.
    assert (partial.path.resolve(), partial.size_bytes) == (cut, cut_bytes)
    media = await probe(partial.path)
    assert media, "the segment cut by kill -9 does not decode"
    assert 0.2 < partial.duration_s < 2.5

    [(gap_start, gap_end, reason)] = rec.gaps
    gap_s = seconds(gap_end - gap_start)
    print(
        f"\nkill -9 of a recorder: partial segment of {partial.duration_s:.2f}s ({cut_bytes} "
        f"bytes), new recorder after {back_after:.2f}s, gap {gap_s:.2f}s"
    )
    assert reason == "recorder exited (signal 9)"
    # The gap runs from the end of the partial segment to the first one after the restart.
    assert gap_start == partial.end
    after = [s for s in found if s.start >= gap_end]
    assert after and after[0].start == gap_end
    # The new recorder took up from the live fragments still on disk: nothing was lost. A lost
    # fragment would leave a second or more; what remains is clock, not media: the new run's
    # start is its first fragment's arrival, late by a tenth or two on a starved machine.
    assert 0 <= gap_s < 0.5

    [event] = [e for e in camera_events(agent, camera_id) if e.HasField("gap")]
    assert event.state == RECORDING
    assert event.gap.reason == reason
    assert event.gap.start_time.ToDatetime().timestamp() == pytest.approx(
        gap_start.timestamp(), abs=1e-3
    )
    # The partial segment is reported like any other.
    closed_ids = [e.segment.id for e in segment_events(spooled(agent), CLOSED)]
    assert closed_ids.count(partial.id) == 1
    [reported] = [
        e.segment for e in segment_events(spooled(agent), CLOSED) if e.segment.id == partial.id
    ]
    assert reported.recovered


async def test_a_crash_loop_is_an_error_and_recovery_records_again(agent: Agent) -> None:
    key, camera_id = LOOPING
    async with camera(url(agent, key)):
        await until(lambda: recorder(agent, camera_id) is not None, "a recorder")
        rec = recorder(agent, camera_id)
        assert rec is not None
        for _ in range(rec.policy.crash_limit):
            await until(lambda: rec.pid is not None, "the recorder to run", 30)
            pid = rec.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            await until(lambda p=pid: rec.pid != p, "the kill to be noticed", 10)  # type: ignore[misc]
        await until(
            lambda: ERROR in [e.state for e in camera_events(agent, camera_id)], "ERROR", 30
        )
        [error] = [e for e in camera_events(agent, camera_id) if e.state == ERROR]
        assert "crash loop" in error.message and "signal 9" in error.message

        # Left alone, it records again and says so.
        def recovered() -> bool:
            states = [e.state for e in camera_events(agent, camera_id)]
            return RECORDING in states[states.index(ERROR) :]

        await until(recovered, "recovery", 60)
        assert rec.pid is not None


async def test_a_profile_reencodes_at_its_size(agent: Agent) -> None:
    key, camera_id = LOW
    async with camera(url(agent, key)):
        await until(lambda: len(segments(agent, camera_id)) >= 2, "two segments", 60)
    first: Segment = segments(agent, camera_id)[0]
    assert first.profile == RecordingProfile.LOW
    media = await probe(first.path)
    assert (media["width"], media["height"]) == (640, 360)
    assert "-low-" in first.path.name


async def test_delete_segments_request(agent: Agent) -> None:
    _, camera_id = PLAIN
    victim = segments(agent, camera_id)[0]
    assert agent.connection is not None
    unknown = "00000000-0000-4000-8000-000000000000"
    replies = await agent.connection.messages.handle(
        agent_pb2.ConnectResponse(
            delete_segments=agent_pb2.DeleteSegments(recording_ids=[victim.id, unknown])
        )
    )
    assert replies == []
    assert agent.segments.get(victim.id) is None
    assert not await asyncio.to_thread(victim.path.exists)
    deleted = segment_events(spooled(agent), DELETED)
    assert [(e.segment.id, e.reason) for e in deleted] == [(victim.id, "deleted by request")]
    # Asked again (a resend): nothing more happens.
    await agent.connection.messages.handle(
        agent_pb2.ConnectResponse(
            delete_segments=agent_pb2.DeleteSegments(recording_ids=[victim.id])
        )
    )
    assert len(segment_events(spooled(agent), DELETED)) == 1


async def test_recording_turned_off_and_on_again_takes_up_where_it_stopped(agent: Agent) -> None:
    """A camera's next recorder starts where the last one's last file ended: its first look
    back (the moments of the publish before it started) takes nothing the last one took."""
    key, camera_id = TOGGLED
    assert agent.connection is not None

    async def toggle(on: bool) -> None:
        sent = agent_pb2.Assignment(
            version=next(_versions), cameras=_module_cameras(toggled_records=on)
        )
        [reply] = await agent.connection.messages.handle(  # type: ignore[union-attr]
            agent_pb2.ConnectResponse(assignment=sent)
        )
        assert reply.WhichOneof("body") == "ack", reply

    def states() -> list[int]:
        return [e.state for e in camera_events(agent, camera_id)]

    async with camera(url(agent, key)):
        await until(lambda: len(segments(agent, camera_id)) >= 3, "three segments", 60)
        await toggle(False)
        await until(lambda: states() == [RECORDING, IDLE], "the recorder to stop")
        first = segments(agent, camera_id)
        await toggle(True)
        await until(
            lambda: len(segments(agent, camera_id)) >= len(first) + 3, "three more segments", 60
        )
    found = segments(agent, camera_id)
    assert found[: len(first)] == first
    # The same moments are never held twice (by two files of two recorders).
    for before, after in itertools.pairwise(found):
        assert seconds(after.start - before.end) > -0.05, (before, after)
    # And nothing is lost between them: the next recorder took up at the last one's end.
    later = found[len(first)]
    assert abs(seconds(later.start - first[-1].end)) < 0.05, (first[-1], later)
