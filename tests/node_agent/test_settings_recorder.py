"""A new segment length applied on a real node (node_agent.agent.Agent with nginx-rtmp, 720p25
cameras publishing, the control plane unreachable, the assignment handed to the agent's own
message handler as the Connect stream would): the `original` profile's collector takes it from
its next segment without restarting and without a gap; a re-encoding profile's ffmpeg, which
cannot change -segment_time, is replaced at a segment boundary, and the gap that leaves is
measured beside the one a kill -9 of the same recorder leaves in the same run (today's
recorder restart). The settings survive an agent restart without the control plane."""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from pathlib import Path

from camfleet.v1 import agent_pb2, recording_pb2
from google.protobuf.duration_pb2 import Duration

from harness.processes import stop_by_pid
from node_agent.agent import Agent
from node_agent.recording.index import Segment
from node_agent.recording.recorder import RESEGMENT_REASON, Recorder
from tests.support.agent_node import FFMPEG, new_camera_id, publishing
from tests.support.recording_node import (
    config,
    prepare,
    recorded_camera,
    running,
    segments,
    until,
)

ORIGINAL = ("orig" + secrets.token_hex(6), new_camera_id())
LOW = ("low" + secrets.token_hex(6), new_camera_id())
FLAG_SEGMENT_S = 4.0
NEW_SEGMENT_S = 2.0
TOLERANCE_S = 0.5


def light_camera(url: str) -> AbstractAsyncContextManager[subprocess.Popen[bytes]]:
    """A small camera (a keyframe every second at 25 fps): two of them, an encoder and nginx
    fit a loaded 2-core machine without the publishers stalling."""
    return publishing(url, 120, size="320x180", preset="ultrafast")


# A camera whose every frame shows its number: eight vertical stripes, black or white, the bits
# of (n mod 256); what a recording holds is then placed on the camera's own timeline to the
# frame, with no clock involved (stark stripes survive any encoder, flat greys did not).
COUNTER_FRAMES = 256
COUNTER_FPS = 25


@asynccontextmanager
async def counting_camera(url: str) -> AsyncIterator[subprocess.Popen[bytes]]:
    """Publishes the frame-numbered picture to `url` (a keyframe every second); ended by PID."""
    stripes = "16+219*mod(floor(N/pow(2\\,floor(X*8/W)))\\,2)"
    picture = f"color=c=black:s=320x180:r={COUNTER_FPS},format=gray,geq=lum='{stripes}'"
    proc = subprocess.Popen(
        [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-f", "lavfi",
         "-i", picture, "-t", "120", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
         "-pix_fmt", "yuv420p", "-f", "flv", url],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield proc
    finally:
        stop_by_pid(proc, grace_s=5)


async def frame_numbers(path: Path) -> list[int]:
    """The camera frame number (mod 256) of each frame a recorded file holds."""
    proc = await asyncio.create_subprocess_exec(
        FFMPEG, "-nostdin", "-v", "error", "-i", str(path),
        "-vf", "scale=8:1:flags=area,format=gray", "-f", "rawvideo", "-",
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    out, _ = await proc.communicate()
    return [
        sum(1 << bit for bit in range(8) if out[i + bit] >= 128) for i in range(0, len(out) - 7, 8)
    ]


async def media_gap_s(before: Segment, after: Segment) -> float:
    """Seconds of the camera's picture recorded in neither file (negative: recorded in both),
    read from the frames themselves, not from any clock."""
    last, first = await frame_numbers(before.path), await frame_numbers(after.path)
    assert len(last) >= 3 and len(first) >= 3, (len(last), len(first))
    # Three frames each, so one badly coded frame (a run's first) cannot mislead.
    end = sorted(last[-1 - i] + i for i in range(3))[1]
    begin = sorted(first[i] - i for i in range(3))[1]
    missed = (begin - end - 1) % COUNTER_FRAMES
    if missed >= COUNTER_FRAMES // 2:
        missed -= COUNTER_FRAMES
    return missed / COUNTER_FPS


def recorder(agent: Agent, camera_id: str) -> Recorder:
    assert agent.recording is not None
    found = agent.recording.recorders.get(camera_id)
    assert found is not None
    return found


def lengths(found: Sequence[Segment]) -> list[float]:
    return [round(s.duration_s, 3) for s in found]


def gaps(found: Sequence[Segment]) -> list[float]:
    return [(b.start - a.end) / timedelta(seconds=1) for a, b in itertools.pairwise(found)]


def new_ones(agent: Agent, camera_id: str, after: int) -> list[Segment]:
    """Segments after the first `after`, from the first one of the new length on."""
    later = segments(agent, camera_id)[after:]
    for i, segment in enumerate(later):
        if abs(segment.duration_s - NEW_SEGMENT_S) <= TOLERANCE_S and not segment.recovered:
            return later[i:]
    return []


async def test_a_new_segment_length_on_a_running_node(tmp_path: Path) -> None:
    cameras = [
        recorded_camera(*ORIGINAL),
        recorded_camera(*LOW, profile=recording_pb2.RECORDING_PROFILE_LOW),
    ]
    prepare(tmp_path, *cameras)
    async with (
        running(config(tmp_path, segment_s=FLAG_SEGMENT_S)) as agent,
        light_camera(f"{agent.config.rtmp_url}/{ORIGINAL[0]}"),
        counting_camera(f"{agent.config.rtmp_url}/{LOW[0]}"),
    ):
        for _, camera_id in (ORIGINAL, LOW):
            await until(
                lambda c=camera_id: any(  # type: ignore[misc]
                    abs(n - FLAG_SEGMENT_S) <= TOLERANCE_S for n in lengths(segments(agent, c))
                ),
                f"a {FLAG_SEGMENT_S:g} s segment of {camera_id}",
                90,
            )

        # Today's restart of the encoding recorder, for comparison: kill -9 mid-segment.
        low = recorder(agent, LOW[1])
        killed = low.pid
        assert killed is not None
        os.kill(killed, signal.SIGKILL)
        await until(lambda: bool(low.gaps), "the kill's gap to be known", 60)
        kill_gap = (low.gaps[0][1] - low.gaps[0][0]) / timedelta(seconds=1)
        killed_found = segments(agent, LOW[1])
        [kill_before] = [s for s in killed_found if s.end == low.gaps[0][0]]
        [kill_after] = [s for s in killed_found if s.start == low.gaps[0][1]]
        kill_media_gap = await media_gap_s(kill_before, kill_after)

        # The platform's new segment length, as an assignment of the Connect stream.
        original = recorder(agent, ORIGINAL[1])
        collector_pid = original.pid
        counts = {c: len(segments(agent, c)) for _, c in (ORIGINAL, LOW)}
        assert agent.connection is not None
        version = agent.assignment.version + 1
        reply = await agent.connection.messages.on_assignment(
            agent_pb2.Assignment(
                version=version,
                cameras=cameras,
                settings=agent_pb2.AgentSettings(segment_length=Duration(seconds=2)),
            )
        )
        assert reply.WhichOneof("body") == "ack"
        assert agent.settings is not None
        await agent.settings.settled()
        for _, camera_id in (ORIGINAL, LOW):
            await until(
                lambda c=camera_id: len(new_ones(agent, c, counts[c])) >= 3,  # type: ignore[misc]
                f"three {NEW_SEGMENT_S:g} s segments of {camera_id}",
                90,
            )

        # The collector: the same process, the next segments 2 s, not a moment lost.
        assert recorder(agent, ORIGINAL[1]) is original and original.pid == collector_pid
        found = segments(agent, ORIGINAL[1])
        after = found[counts[ORIGINAL[1]] :]
        assert after and all(n <= FLAG_SEGMENT_S + TOLERANCE_S for n in lengths(after))
        assert all(
            abs(n - NEW_SEGMENT_S) <= TOLERANCE_S
            for n in lengths(new_ones(agent, ORIGINAL[1], counts[ORIGINAL[1]]))
        )
        # At the switch (into the first segment of the new length) not a moment is lost. (Gaps
        # elsewhere would be the publisher's own stalls on a loaded machine, not the switch's.)
        first_new = new_ones(agent, ORIGINAL[1], counts[ORIGINAL[1]])[0]
        at = next(i for i, s in enumerate(found) if s.id == first_new.id)
        switch_gaps = gaps(found[at - 2 : at + 1])
        assert max(switch_gaps) <= 0.001, (switch_gaps, lengths(found))
        assert not original.gaps

        # The encoder: replaced make-before-break (a new ffmpeg beside the old one until it
        # writes media), so no gap is reported and the index runs on at the switch.
        assert recorder(agent, LOW[1]) is low
        assert not [g for g in low.gaps if g[2] == RESEGMENT_REASON], low.gaps
        assert all(
            abs(n - NEW_SEGMENT_S) <= TOLERANCE_S
            for n in lengths(new_ones(agent, LOW[1], counts[LOW[1]]))
        )
        low_found = segments(agent, LOW[1])
        first_low = new_ones(agent, LOW[1], counts[LOW[1]])[0]
        at_low = next(i for i, s in enumerate(low_found) if s.id == first_low.id)
        low_gaps = gaps(low_found[at_low - 2 : at_low + 1])
        switch_media_gap = await media_gap_s(low_found[at_low - 1], low_found[at_low])
        print(
            f"\nsegment length 4 s -> 2 s: collector gap {max(switch_gaps):.3f} s (no restart); "
            f"encoder replaced make-before-break: {switch_media_gap:+.2f} s of picture missed "
            f"(negative: recorded twice), {max(low_gaps):.2f} s by the recorder's clock; "
            f"baseline kill -9 of the same encoder: {kill_media_gap:+.2f} s missed, "
            f"{kill_gap:.2f} s by the clock"
        )
        # Nothing of the picture lost at the switch (counted in frames, not by a clock).
        assert switch_media_gap <= 0, switch_media_gap

    # Restarted without a control plane: the stored assignment's settings hold.
    started = time.monotonic()
    async with running(config(tmp_path, segment_s=FLAG_SEGMENT_S)) as again:
        assert again.recording is not None and again.settings is not None
        assert again.recording.settings.segment_s == NEW_SEGMENT_S
        assert again.settings.current.segment_s == NEW_SEGMENT_S
        assert (tmp_path / "segment-seconds").read_text().strip() == "2"
    assert time.monotonic() - started < 120
