"""CPU of the suite's test publishers: testsrc2 encoded live (libx264, as the tests ran it up
to December 2026) beside the same pattern encoded once and looped with `-c copy`
(tests/support/clips.py), per size and preset, `--seconds` of real-time video each, written to
an FLV on /dev/null. Prints CPU seconds per 10 s of video and the wall time (the rate stays
real time: -re).

    .venv/bin/python -m bench.bench_publisher [--seconds 20]"""

from __future__ import annotations

import argparse
import subprocess

from harness.cpu import load_average, run_to_end
from tests.support.clips import FFMPEG, looped_argv, pattern_clip

KINDS = (("640x360", "veryfast"), ("1280x720", "ultrafast"))


def cpu_of(argv: list[str]) -> tuple[float, float]:
    """Run `argv` to its end: (CPU seconds of the child, wall seconds)."""
    wall, cpu = run_to_end(argv, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    head = [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    tail = ["-f", "flv", "/dev/null"]
    print(f"load average {load_average()}; {args.seconds:.0f} s of video each")
    print(f"{'size':>9} {'preset':>9} | {'live CPU/10 s':>13} {'wall':>6} | "
          f"{'looped CPU/10 s':>15} {'wall':>6} | ratio")  # fmt: skip
    for size, preset in KINDS:
        clip = pattern_clip(size, preset)
        live, live_wall = cpu_of([
            *head, "-re", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25",
            "-t", str(args.seconds), "-c:v", "libx264", "-preset", preset, "-g", "25", *tail,
        ])  # fmt: skip
        looped, looped_wall = cpu_of([*head, *looped_argv(clip, args.seconds), *tail])
        per = 10.0 / args.seconds
        print(
            f"{size:>9} {preset:>9} | {live * per:>11.2f} s {live_wall:>5.1f}s | "
            f"{looped * per:>13.3f} s {looped_wall:>5.1f}s | {live / looped:.0f}x"
        )


if __name__ == "__main__":
    main()
