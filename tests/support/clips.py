"""The test pattern a publisher sends, encoded once per process and looped.

Encoding testsrc2 live cost a publisher 0.11-0.14 s of CPU per second of video (libx264), and
the suite runs hundreds of publishers on two cores: most of their CPU went to encoding the
same pattern again. A short clip of that pattern, encoded once with the same settings and
sent with `-stream_loop -1 -re -c copy`, is the same stream to nginx (H.264 at 25 fps, a
keyframe every second, timestamps rising evenly across loops) for ~0.01 s of CPU a second
(bench/bench_publisher.py; bench/README.md has the figures)."""

from __future__ import annotations

import atexit
import functools
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"

# Whole seconds at 25 fps with -g 25: every loop starts on a keyframe and keeps the cadence.
CLIP_S = 5

_lock = threading.Lock()
_clips: dict[tuple[str, str], Path] = {}


@functools.cache
def _clip_dir() -> Path:
    made = Path(tempfile.mkdtemp(prefix="camfleet-clips-"))
    atexit.register(shutil.rmtree, made, True)
    return made


def pattern_clip(size: str, preset: str) -> Path:
    """An FLV of testsrc2 at `size`, 25 fps, H.264 (`preset`), a keyframe every second,
    CLIP_S long: made on first use in this process, removed when it exits."""
    with _lock:
        if (size, preset) in _clips:
            return _clips[(size, preset)]
        path = _clip_dir() / f"testsrc2-{size}-{preset}.flv"
        subprocess.run(
            [
                FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25", "-t", str(CLIP_S),
                "-c:v", "libx264", "-preset", preset, "-g", "25", "-f", "flv", str(path),
            ],
            check=True,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=120,
        )  # fmt: skip
        _clips[(size, preset)] = path
        return path


def looped_argv(clip: Path, seconds: float | None) -> list[str]:
    """ffmpeg's arguments sending `clip` over and over at its own rate for `seconds` (None:
    until stopped); the output's format and URL follow."""
    limit = ["-t", str(seconds)] if seconds is not None else []
    return ["-re", "-stream_loop", "-1", "-i", str(clip), *limit, "-c", "copy"]
