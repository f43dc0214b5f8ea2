"""CPU of one camera's live ladder per ladder shape, beside nginx-rtmp's own cost for the same
input, in one run.

One nginx-rtmp rendered by node_agent.nginx.config (the node's real configuration: ingest and
live HLS), one publisher sending the 720p test pattern (x264 ultrafast, a keyframe a second) at
--fps frames a second: 25 by default, 5 as surveillance cameras are often set (the ladder keeps
the source's frame rate, so its cost follows it).
Then, one after the other, the ladder ffmpeg exactly as the agent runs it
(node_agent.ladder.plan.ffmpeg_argv, playing the stream by camera id with a one-time token):

- copy only       ("source"): the source remuxed into the ladder's HLS;
- copy + 360p     ("source", "360p"): the default ladder, one libx264 veryfast rung;
- 720p + 360p     ("720p", "360p"): both rungs encoded.

CPU from /proc/<pid>/stat (utime + stime) of the ladder's ffmpeg and of nginx's process tree,
each over the same window; nginx's number is the baseline (what ingest and live HLS of this
stream cost without any ladder). server/placement/ladder_cost.py holds the cores per rung
measured so.

    .venv/bin/python -m bench.bench_ladder [--seconds 30] [--warmup 8] [--fps 25]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from harness.cpu import cpu_seconds, load_average
from harness.processes import process_tree, stop_by_pid
from node_agent.ladder.master import source_from_ffprobe
from node_agent.ladder.plan import ffmpeg_argv, plan_ladder
from node_agent.ladder.process import ffprobe_json
from tests.support.agent_node import FFMPEG, FFPROBE, Node, NodeCallbacks, running_node

KEY = "bench" + secrets.token_hex(6)
CAMERA = "00000000-0000-4000-8000-00000000beef"
LADDERS = {
    "copy only": ("source",),
    "copy + 360p": ("source", "360p"),
    "720p + 360p": ("720p", "360p"),
}


async def _probe(node: Node) -> Path:
    """A finished fragment of the stream nginx wrote (the newest may still be written)."""
    directory = node.layout.hls / KEY
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        fragments = sorted(directory.glob("*.ts"), key=lambda p: p.stat().st_mtime)
        if len(fragments) > 1:
            return fragments[-2]
        await asyncio.sleep(0.2)
    raise SystemExit("nginx wrote no HLS fragment in 30 s: is the publisher running?")


def _newest_segment(out: Path) -> int:
    """Number of the newest segment of the first rung (v0_<n>.ts; each one second)."""
    numbers = [int(p.stem.split("_", 1)[1]) for p in out.glob("v0_*.ts")]
    return max(numbers, default=0)


async def _measure(
    node: Node, ladder: tuple[str, ...], workdir: Path, warmup: float, seconds: float
) -> tuple[float, float, float, bool]:
    """(ladder ffmpeg's cores, nginx's cores over the same window, seconds of media the
    ladder made in it, survived). A starved machine makes less than real time: the caller
    divides by the media made."""
    document = await ffprobe_json(FFPROBE, await _probe(node))
    source = source_from_ffprobe(document or b"")
    if source is None:
        raise SystemExit("ffprobe could not read the stream")
    plan = plan_ladder(ladder, source)
    out = workdir / "-".join(ladder)
    out.mkdir()
    argv = ffmpeg_argv(FFMPEG, node.recorder_url(CAMERA), plan, out, source, fragment_s=1.0)
    # Popen, not asyncio's: stop_by_pid ends it (SIGTERM, then SIGKILL) by PID.
    proc = subprocess.Popen(  # noqa: ASYNC220
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=(workdir / f"{out.name}.log").open("wb"),
    )
    try:
        await asyncio.sleep(warmup)
        nginx = list(process_tree(node.nginx.pid or 0))
        before = cpu_seconds([proc.pid]), cpu_seconds(nginx)
        first = _newest_segment(out)
        started = time.monotonic()
        await asyncio.sleep(seconds)
        elapsed = time.monotonic() - started
        used = cpu_seconds([proc.pid]) - before[0], cpu_seconds(nginx) - before[1]
        media_s = float(_newest_segment(out) - first)
        alive = proc.poll() is None
        rungs = len(list(out.glob("v*.m3u8")))
    finally:
        stop_by_pid(proc, grace_s=10)
    return (
        used[0] / elapsed,
        used[1] / elapsed,
        media_s / elapsed,
        alive and rungs == len(plan.rungs),
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=8.0)
    parser.add_argument("--fps", type=int, default=25, help="the publisher's frame rate")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-ladder-"))
    print(
        f"bench_ladder: 720p{args.fps} x264 ultrafast -g {args.fps} source, "
        f"{args.seconds:.0f} s per ladder "
        f"({os.cpu_count()} cores, load average {load_average()})"
    )
    publisher: subprocess.Popen[bytes] | None = None
    results: dict[str, tuple[float, float, float, bool]] = {}
    try:
        callbacks = NodeCallbacks(secret=b"x" * 32, keys={KEY: CAMERA})
        async with running_node(workdir / "node", callbacks) as node:
            publisher = subprocess.Popen(  # noqa: ASYNC220
                [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error",
                 "-re", "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate={args.fps}",
                 "-c:v", "libx264", "-preset", "ultrafast", "-g", str(args.fps),
                 "-f", "flv", node.rtmp_url(KEY)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=(workdir / "publisher.log").open("wb"),
            )  # fmt: skip
            for name, ladder in LADDERS.items():
                results[name] = await _measure(node, ladder, workdir, args.warmup, args.seconds)
            alive = publisher.poll() is None
    finally:
        if publisher is not None:
            stop_by_pid(publisher, grace_s=10)
        shutil.rmtree(workdir, ignore_errors=True)

    # Cores per camera kept in real time: the window's CPU over the media made in it (a
    # starved ffmpeg makes less than a second of media per second, and burns less).
    print(
        f"  {'ladder':<14} {'ladder ffmpeg':>14} {'real-time':>10} {'per camera':>12}"
        f" {'nginx (same window)':>20}"
    )
    per_camera: dict[str, float] = {}
    for name, (ladder_cores, nginx_cores, speed, ok) in results.items():
        flag = "" if ok and speed > 0 else "   !!! ffmpeg died or a rung is missing: invalid"
        per_camera[name] = ladder_cores / speed if speed > 0 else float("nan")
        print(
            f"  {name:<14} {ladder_cores:8.3f} cores {speed:9.2f}x {per_camera[name]:6.3f} cores"
            f" {nginx_cores:14.3f} cores  ({per_camera[name] / max(nginx_cores, 1e-6):.1f}x"
            f" nginx){flag}"
        )
    copy = per_camera["copy only"]
    rung_360 = per_camera["copy + 360p"] - copy
    rung_720 = per_camera["720p + 360p"] - per_camera["copy + 360p"]
    print(
        f"  a 360p rung adds {rung_360:.3f} cores; encoding 720p instead of copying, {rung_720:.3f}"
    )
    if not alive:
        print("  !!! the publisher died during the run: numbers invalid")
    print(f"  load average after: {load_average()}")


if __name__ == "__main__":
    asyncio.run(main())
