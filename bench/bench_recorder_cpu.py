"""CPU of a camfleet copy recorder against nginx-rtmp's own `record all`, on the same input in
one run.

Three nginx-rtmp servers rendered by node_agent.nginx.config (the node's real configuration),
one publisher encoding the 720p25 test pattern once and sending it to all three (ffmpeg's tee
muxer), so each server ingests the same stream:

- A: the node's configuration plus `record all` (nginx-rtmp writes FLV itself);
- B: the node's configuration, recorded by one copy recorder exactly as the agent runs it
  (node_agent.recording.media.collector_argv: the stream's live HLS fragments joined into
  MPEG-TS segments);
- C: the node's configuration alone, the baseline (ingest and live HLS).

nginx's recording costs A - C; ours costs the recorder process plus B - C (whatever the
recorder makes nginx do). CPU from /proc/<pid>/stat (utime + stime) of each process tree over
the window. `--ffmpeg-recorder` measures, instead, an ffmpeg playing B's RTMP stream with
stream copy into MPEG-TS segments (the recorder the agent ran before).

    .venv/bin/python -m bench.bench_recorder_cpu [--seconds 60] [--segment-seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.cpu import cpu_seconds, load_average
from harness.processes import process_tree, stop_by_pid
from node_agent.nginx.config import NginxLayout
from node_agent.recording.media import collector_argv, collector_env
from node_agent.supervisor import Supervisor
from tests.support.agent_node import FFMPEG, Node, NodeCallbacks, running_node

KEY = "bench" + secrets.token_hex(6)


@dataclass
class Server:
    """One running nginx-rtmp."""

    name: str
    node: Node

    @property
    def layout(self) -> NginxLayout:
        return self.node.layout

    @property
    def nginx(self) -> Supervisor:
        return self.node.nginx

    def url(self) -> str:
        return self.node.rtmp_url(KEY)


@asynccontextmanager
async def nginx_server(root: Path, name: str, record_all: bool) -> AsyncIterator[Server]:
    """nginx with the node's configuration (plus `record all` if asked) and a callback API
    that accepts KEY (camera id: `name`)."""
    record = root / name / "record"

    def add_record_all(conf: str) -> str:
        record.mkdir(parents=True)
        return conf.replace(
            "            hls on;\n",
            f"            record all;\n            record_path {record};\n"
            "            record_unique on;\n            hls on;\n",
        )

    callbacks = NodeCallbacks(secret=b"x" * 32, keys={KEY: name})
    async with running_node(root / name, callbacks, add_record_all if record_all else None) as node:
        yield Server(name, node)


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--segment-seconds", type=float, default=10.0)
    parser.add_argument("--ffmpeg-recorder", action="store_true", help="ffmpeg -c copy instead")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-recorder-cpu-"))
    print(
        f"bench_recorder_cpu: 720p25 x264 ultrafast -g 25, {args.seconds:.0f} s window "
        f"({os.cpu_count()} cores, load average {load_average()})"
    )
    publisher: subprocess.Popen[bytes] | None = None
    recorder: subprocess.Popen[bytes] | None = None
    try:
        async with (
            nginx_server(workdir, "A-record-all", record_all=True) as a,
            nginx_server(workdir, "B-recorder", record_all=False) as b,
            nginx_server(workdir, "C-baseline", record_all=False) as c,
        ):
            outputs = "|".join(f"[f=flv]{s.url()}" for s in (a, b, c))
            # Popen, not asyncio's: stop_by_pid ends it (SIGTERM, then SIGKILL) by PID.
            publisher = subprocess.Popen(  # noqa: ASYNC220
                [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error",
                 "-re", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25",
                 "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
                 # The tee muxer's FLV outputs need the SPS/PPS as global extradata.
                 "-flags", "+global_header",
                 "-map", "0:v", "-f", "tee", outputs],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=(workdir / "publisher.log").open("wb"),
            )  # fmt: skip
            await asyncio.sleep(2.0)
            out = workdir / "segments"
            out.mkdir()
            if args.ffmpeg_recorder:
                argv = [
                    FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "warning",
                    # By camera id with a one-time token, as the agent's recorders play.
                    "-i", b.node.recorder_url(b.name), "-map", "0:v?", "-map", "0:a?", "-c", "copy",
                    "-f", "segment", "-segment_time", f"{args.segment_seconds:g}",
                    "-segment_format", "mpegts", "-segment_list", "pipe:1",
                    "-segment_list_type", "csv", str(out / "seg-%05d.ts"),
                ]  # fmt: skip
            else:
                argv = collector_argv(
                    sys.executable, str(out / "seg-%05d.ts"), args.segment_seconds, time.time()
                )
            recorder = subprocess.Popen(  # noqa: ASYNC220
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, env=collector_env(b.layout.hls / KEY, os.environ),
            )  # fmt: skip
            await asyncio.sleep(args.warmup)
            trees = {s.name: list(process_tree(s.nginx.pid or 0)) for s in (a, b, c)}
            trees["recorder"] = [recorder.pid]
            before = {name: cpu_seconds(pids) for name, pids in trees.items()}
            started = time.monotonic()
            size_a, size_out = _size(a.layout.root / "record"), _size(out)
            await asyncio.sleep(args.seconds)
            elapsed = time.monotonic() - started
            used = {name: cpu_seconds(pids) - before[name] for name, pids in trees.items()}
            written_a = _size(a.layout.root / "record") - size_a
            written_out = _size(out) - size_out
            alive = publisher.poll() is None and recorder.poll() is None
    finally:
        for proc in (recorder, publisher):
            if proc is not None:
                stop_by_pid(proc, grace_s=10)
        shutil.rmtree(workdir, ignore_errors=True)

    share = {name: 100 * seconds / elapsed for name, seconds in used.items()}
    nginx_record = share["A-record-all"] - share["C-baseline"]
    ours = share["recorder"] + share["B-recorder"] - share["C-baseline"]
    for name in ("A-record-all", "B-recorder", "C-baseline"):
        print(f"  nginx {name:<14} {share[name]:6.2f} % of a core")
    kind = "ffmpeg -c copy" if args.ffmpeg_recorder else "collector"
    print(f"  recorder: {kind:<14} {share['recorder']:6.2f} % of a core")
    print(f"  nginx record all (A - C)              {nginx_record:6.2f} %  "
          f"wrote {written_a / elapsed * 8 / 1e6:.2f} Mbit/s")  # fmt: skip
    print(f"  copy recorder (recorder + B - C)      {ours:6.2f} %  "
          f"wrote {written_out / elapsed * 8 / 1e6:.2f} Mbit/s")  # fmt: skip
    if nginx_record > 0:
        ratio = ours / nginx_record
        verdict = "met" if ratio <= 1.5 else "NOT MET"
        print(f"  ratio {ratio:.2f}  (target <= 1.5: {verdict})")
    else:
        print("  nginx's recording cost was below measurement noise; no ratio")
    total, whole_a = share["recorder"] + share["B-recorder"], share["A-record-all"]
    if whole_a > 0:
        print(f"  whole node per stream: {total:.2f} % (B + recorder) vs {whole_a:.2f} % (A): "
              f"ratio {total / whole_a:.2f}")  # fmt: skip
    if not alive:
        print("  !!! the publisher or the recorder died during the window: numbers invalid")
    print(f"  load average after: {load_average()}")


if __name__ == "__main__":
    asyncio.run(main())
