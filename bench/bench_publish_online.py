"""Publish → ONLINE latency as a dashboard sees it.

Starts the control plane and a node agent (with nginx) as processes, exactly as the end-to-end
tests do (tests/support/stack.py), then repeats: start ffmpeg publishing a 720p25 test pattern,
time until a WatchEvents client sees CONNECTING and then ONLINE for that camera, stop ffmpeg,
wait for OFFLINE. ffmpeg publishes through a relay in this process (bench/rtmp_tap.py) that
notes when its first video frame reaches nginx's RTMP port: "first frame→ONLINE" is the time
from there to ONLINE at the watcher, the part the platform controls (issue 17's target: 300 ms).
Prints median, p90 and max per GOP length.

    .venv/bin/python -m bench.bench_publish_online [--runs 10] [--backend sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import time

from camfleet.v1 import camera_pb2, event_pb2

from bench.rtmp_tap import RtmpTap
from harness.processes import stop_by_pid
from tests.support.agent_node import FFMPEG
from tests.support.assertions import eventually
from tests.support.stack import Stack, running_stack


def _publisher(url: str, gop: int) -> subprocess.Popen[bytes]:
    argv = [
        FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error",
        "-re", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25",
        "-c:v", "libx264", "-preset", "veryfast", "-g", str(gop),
        "-f", "flv", url,
    ]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _one_run(
    stack: Stack, tap: RtmpTap, camera: camera_pb2.Camera, gop: int
) -> tuple[float, float, float]:
    """(seconds to CONNECTING, seconds to ONLINE, seconds from the first video frame reaching
    nginx to ONLINE) for one publish."""
    call = stack.watch(await stack.revision(), f'subject = "cameras/{camera.id}"')
    connecting = online = 0.0
    connections = len(tap.watches)
    started = time.monotonic()
    proc = _publisher(tap.url(camera.stream_key), gop)
    try:
        async with asyncio.timeout(30):
            async for resp in call:
                status = resp.event.camera.status
                if resp.event.type != event_pb2.EVENT_TYPE_CAMERA_STATUS_CHANGED:
                    continue
                if status == camera_pb2.CAMERA_STATUS_CONNECTING and not connecting:
                    connecting = time.monotonic() - started
                if status == camera_pb2.CAMERA_STATUS_ONLINE:
                    online = time.monotonic() - started
                    break
    finally:
        stop_by_pid(proc, grace_s=5)
        call.cancel()
    [watch] = tap.watches[connections:]
    assert watch.first_frame is not None, "ONLINE before any video frame reached nginx"
    after_frame = started + online - watch.first_frame
    # Back to OFFLINE before the next run.
    await eventually(
        lambda: stack.cameras.GetCamera(
            camera_pb2.GetCameraRequest(id=camera.id), metadata=stack.admin
        ),
        lambda r: r.camera.status == camera_pb2.CAMERA_STATUS_OFFLINE,
        within_seconds=30,
    )
    return connecting, online, after_frame


def _summary(label: str, values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return (
        f"{label:<34} median {statistics.median(ordered):.2f} s   p90 {p90:.2f} s   "
        f"max {ordered[-1]:.2f} s"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    async with running_stack(args.backend) as stack:
        tap = RtmpTap(("127.0.0.1", stack.rtmp_port))
        await tap.start()
        try:
            camera = await stack.new_camera("bench")
            print(
                f"backend {args.backend}, {args.runs} publishes per GOP, 720p25 x264 veryfast, "
                f"load average {_load()}"
            )
            for gop in (25, 50):
                results = [await _one_run(stack, tap, camera, gop) for _ in range(args.runs)]
                print(_summary(f"-g {gop}: publish→CONNECTING", [r[0] for r in results]))
                print(_summary(f"-g {gop}: publish→ONLINE", [r[1] for r in results]))
                print(_summary(f"-g {gop}: first frame→ONLINE", [r[2] for r in results]))
            print(f"load average after: {_load()}")
        finally:
            await tap.close()


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    asyncio.run(main())
