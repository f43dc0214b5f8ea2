"""Publish → ONLINE latency as a dashboard sees it.

Starts the control plane and a node agent (with nginx) as processes, exactly as the end-to-end
tests do (tests/support/stack.py), then repeats: start ffmpeg publishing a 720p25 test pattern,
time until a WatchEvents client sees CONNECTING and then ONLINE for that camera, stop ffmpeg,
wait for OFFLINE. Prints median, p90 and max per GOP length (the GOP bounds how soon nginx-rtmp
sees a keyframe, so it is part of the latency).

    .venv/bin/python -m bench.bench_publish_online [--runs 10] [--backend sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import time

from camfleet.v1 import camera_pb2, event_pb2

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


async def _one_run(stack: Stack, camera: camera_pb2.Camera, gop: int) -> tuple[float, float]:
    """(seconds to CONNECTING, seconds to ONLINE) for one publish."""
    call = stack.watch(await stack.revision(), f'subject = "cameras/{camera.id}"')
    connecting = online = 0.0
    started = time.monotonic()
    proc = _publisher(stack.rtmp_url(camera.stream_key), gop)
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
    # Back to OFFLINE before the next run.
    await eventually(
        lambda: stack.cameras.GetCamera(
            camera_pb2.GetCameraRequest(id=camera.id), metadata=stack.admin
        ),
        lambda r: r.camera.status == camera_pb2.CAMERA_STATUS_OFFLINE,
        within_seconds=30,
    )
    return connecting, online


def _summary(label: str, values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return (
        f"{label:<28} median {statistics.median(ordered):.2f} s   p90 {p90:.2f} s   "
        f"max {ordered[-1]:.2f} s"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    async with running_stack(args.backend) as stack:
        camera = await stack.new_camera("bench")
        print(f"backend {args.backend}, {args.runs} publishes per GOP, 720p25 x264 veryfast")
        for gop in (25, 50):
            results = [await _one_run(stack, camera, gop) for _ in range(args.runs)]
            print(_summary(f"-g {gop}: publish→CONNECTING", [c for c, _ in results]))
            print(_summary(f"-g {gop}: publish→ONLINE", [o for _, o in results]))


if __name__ == "__main__":
    asyncio.run(main())
