"""End to end: a recording profile equal to a live ladder rung is recorded from the rung. A camera
records the `low` profile (360p, 800 kbit/s, libx264 veryfast) with the default ladder (the
source copied plus 360p, the same encode): the node runs one libx264, the ladder's, from before
anyone watches; the recorder joins the rung's fragments (no encoder of its own), its segments
are 360p and reach the control plane; and the same ladder plays live.

Real processes throughout (control plane, node agent, nginx-rtmp, ffmpeg).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from camfleet.v1 import camera_pb2
from camfleet.v1 import recording_pb2 as R

from tests.e2e.test_ladder import publishing, segments, stream_urls, until_ok, variants
from tests.e2e.test_recording import node_index, settled
from tests.support.agent_node import FFPROBE, run
from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.timeout(420)


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    async with running_stack("sqlite", ["--segment-seconds", "2"]) as running:
        yield running
        print(running.log_text()[-6000:])


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _children(pid: int) -> list[int]:
    """PIDs whose parent is `pid` (a ladder's or recorder's ffmpeg is the agent's child)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The fields after the command (which may hold spaces) start after its ")".
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(entry))
    return out


def x264_encoders(agent_pid: int) -> list[list[str]]:
    """Command lines of the agent's children that run libx264 (one per encoder process)."""
    return [c for p in _children(agent_pid) if "libx264" in (c := _cmdline(p))]


async def height_of(path: Path) -> int:
    code, out = await run(
        [FFPROBE, "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=height",
         "-of", "json", str(path)],
        limit_s=30,
    )  # fmt: skip
    assert code == 0, out
    return int(json.loads(out[out.index("{") :])["streams"][0]["height"])


async def test_a_low_profile_recording_takes_the_360p_rung_with_one_encode(stack: Stack) -> None:
    created = await stack.cameras.CreateCamera(
        camera_pb2.CreateCameraRequest(
            camera=camera_pb2.Camera(
                name="rung-recorded",
                recording_enabled=True,
                recording_profile=R.RECORDING_PROFILE_LOW,
            )
        ),
        metadata=stack.admin,
    )
    camera = created.camera
    assert list(camera.live_ladder) == []  # the default: source + 360p
    assert stack.agent is not None
    agent_pid = stack.agent.pid
    async with publishing(stack.rtmp_url(camera.stream_key), "1280x720"):
        # Recorded before anyone asked for the ladder: the recording pins it.
        async with asyncio.timeout(180):
            while True:
                if len(node_index(stack, camera.id)) >= 3:
                    break
                await asyncio.sleep(0.5)
        encoders = x264_encoders(agent_pid)
        # One libx264 process: the ladder's (its 360p rung), none for the recorder.
        assert len(encoders) == 1, encoders
        assert "-var_stream_map" in encoders[0], encoders
        recorders = [
            c
            for p in _children(agent_pid)
            if "node_agent.recording.collector" in (c := _cmdline(p))
        ]
        assert any("--playlist" in c for c in recorders), recorders

        found = await settled(stack, camera.id)
        assert len(found) >= 3
        assert {r.profile for r in found} == {R.RECORDING_PROFILE_LOW}
        files = sorted(stack.node_dir.rglob("*-low-*.ts"))
        assert files, "no low-profile segment on the node's disk"
        for path in files[-2:]:
            assert await height_of(path) == 360, path
        # The segments follow each other: a recording, not scattered fragments.
        ordered = sorted(found, key=lambda r: r.start_time.ToDatetime())
        # (The first may begin with what came before the ladder started: judged from the second.)
        for before, after in itertools.pairwise(ordered[1:]):
            step = (after.start_time.ToDatetime() - before.end_time.ToDatetime()).total_seconds()
            assert -0.5 < step < 1.5, (before, after)

        # The live ladder plays from the same ffmpeg: both rungs, the 360p one with segments.
        urls = await stream_urls(stack, camera.id)
        master = (await until_ok(urls.hls_ladder_url, want=b"STREAM-INF")).decode()
        rungs = variants(master)
        assert [a["RESOLUTION"] for a, _ in rungs] == ["1280x720", "640x360"], master
        base = urls.hls_ladder_url.rsplit("/", 1)[0]
        low = segments((await until_ok(f"{base}/{rungs[1][1]}")).decode())
        assert low, "the 360p rung lists no segment"
        assert len(x264_encoders(agent_pid)) == 1, x264_encoders(agent_pid)
