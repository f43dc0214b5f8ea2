"""Recorded ÷ expected over a soak with the recorder killed (-9) every N seconds.

One node agent in process (node_agent.agent.Agent, its own nginx-rtmp, the control plane
unreachable: recording never needs it), one camera publishing the 720p25 test pattern (x264
ultrafast, a keyframe every second) for --seconds, its recorder killed every --kill-every
seconds. Afterwards, from the segment index: recorded = the sum of the segments' measured
(ffprobe) durations, against two expectations: the wall-clock span from the first segment's
start to the last one's end, and the media a reference recorder (a plain ffmpeg copying the
same stream into one file, never killed, started with ours) got, which is what the publisher
really delivered (on a starved CPU the publisher itself falls behind real time). Also the gaps
the agent reported, any overlap between segments (media recorded twice, not counted), and
how long each new recorder took to start.

    .venv/bin/python -m bench.bench_recording_soak [--seconds 240] [--kill-every 30]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from harness.cpu import load_average
from harness.processes import stop_by_pid
from node_agent.recording.media import probe_duration
from tests.support.agent_node import FFMPEG, FFPROBE, new_camera_id
from tests.support.recording_node import (
    camera,
    config,
    prepare,
    recorded_camera,
    running,
    segments,
    until,
)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=240.0)
    parser.add_argument("--kill-every", type=float, default=30.0)
    parser.add_argument("--segment-seconds", type=float, default=10.0)
    parser.add_argument("--verbose", action="store_true", help="print every segment and gap")
    args = parser.parse_args()
    key, camera_id = "soak" + secrets.token_hex(6), new_camera_id()
    workdir = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    print(
        f"bench_recording_soak: {args.seconds:.0f} s of 720p25, recorder killed every "
        f"{args.kill_every:.0f} s, {args.segment_seconds:g} s segments "
        f"({os.cpu_count()} cores, load average {load_average()})"
    )
    restarts: list[float] = []
    reference: subprocess.Popen[bytes] | None = None
    reference_s = 0.0
    try:
        prepare(workdir, recorded_camera(key, camera_id))
        cfg = config(workdir, segment_s=args.segment_seconds, housekeeping_interval_s=5.0)
        async with running(cfg) as agent:
            assert agent.recording is not None
            async with camera(f"{agent.config.rtmp_url}/{key}", seconds=args.seconds + 60):
                await until(lambda: camera_id in agent.recording.recorders, "a recorder", 30)  # type: ignore[union-attr]
                reference = subprocess.Popen(  # noqa: ASYNC220 - ended by PID (stop_by_pid)
                    [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error",
                     "-i", f"{agent.config.rtmp_url}/{key}", "-map", "0:v",
                     "-c", "copy", "-f", "mpegts", str(workdir / "reference.ts")],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )  # fmt: skip
                started = time.monotonic()
                next_kill = started + args.kill_every
                while time.monotonic() - started < args.seconds:
                    await asyncio.sleep(0.1)
                    rec = agent.recording.recorders.get(camera_id)
                    if rec is None or time.monotonic() < next_kill or rec.pid is None:
                        continue
                    if started + args.seconds - time.monotonic() < args.kill_every / 2:
                        continue  # too near the end for the restart to be seen
                    pid = rec.pid
                    killed = time.monotonic()
                    os.kill(pid, signal.SIGKILL)
                    # A PID has no event to wait on: poll it finely.
                    while rec.pid in (None, pid) and time.monotonic() - killed < 30:  # noqa: ASYNC110
                        await asyncio.sleep(0.01)
                    restarts.append(time.monotonic() - killed)
                    next_kill += args.kill_every
                rec = agent.recording.recorders[camera_id]
            await until(lambda: rec.finished, "the recorder to end with the stream", 60)
            found = segments(agent, camera_id)
            gaps = list(rec.gaps)
            stop_by_pid(reference, grace_s=10)
            reference_s = await probe_duration(FFPROBE, workdir / "reference.ts") or 0.0
    finally:
        if reference is not None:
            stop_by_pid(reference, grace_s=10)
        shutil.rmtree(workdir, ignore_errors=True)

    if args.verbose:
        for s in found:
            print(f"  segment {s.start:%H:%M:%S.%f} - {s.end:%H:%M:%S.%f} {s.duration_s:6.2f} s"
                  f"{' recovered' if s.recovered else ''}")  # fmt: skip
        for start, end, reason in gaps:
            print(f"  gap     {start:%H:%M:%S.%f} - {end:%H:%M:%S.%f} {reason}")
    # Media in two segments (a resumed recorder re-taking a fragment) counts once.
    overlap = sum(
        max(0.0, (a.end - b.start) / timedelta(seconds=1)) for a, b in itertools.pairwise(found)
    )
    recorded = sum(s.duration_s for s in found) - overlap
    expected = (found[-1].end - found[0].start) / timedelta(seconds=1)
    gap_s = [(end - start) / timedelta(seconds=1) for start, end, _ in gaps]
    print(f"  segments {len(found)} ({sum(s.recovered for s in found)} finalized after a kill)")
    print(f"  overlap between segments {overlap:.3f} s")
    print(f"  kills {len(restarts)}: restarted after median {statistics.median(restarts):.2f} s, "
          f"max {max(restarts):.2f} s" if restarts else "  no kills")  # fmt: skip
    if gap_s:
        print(
            f"  gaps reported {len(gap_s)}: median {statistics.median(gap_s):.2f} s, "
            f"max {max(gap_s):.2f} s, total {sum(gap_s):.2f} s"
        )
    ratio = recorded / expected if expected else 0.0
    print(f"  recorded {recorded:.1f} s / wall-clock span {expected:.1f} s = {ratio:.2%}")
    if reference_s:
        by_media = recorded / reference_s
        verdict = "met" if by_media >= 0.995 else "NOT MET"
        print(f"  recorded {recorded:.1f} s / published (reference recorder) {reference_s:.1f} s "
              f"= {by_media:.2%}  (target >= 99.5 %: {verdict})")  # fmt: skip
    print(f"  load average after: {load_average()}")


if __name__ == "__main__":
    asyncio.run(main())
