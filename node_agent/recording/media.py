"""Recording's processes: the recorder's command line per profile (the collector, or
ffmpeg), and what a finished file holds (ffprobe's duration, audio; size, SHA-256)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from node_agent.desired import RecordingProfile
from node_agent.recording.collector import FRAGMENTS_ENV

CONTAINER = "mpegts"
SUFFIX = ".ts"


@dataclass(frozen=True)
class Encoding:
    """A re-encoding profile: libx264 at this height and video bitrate."""

    name: str
    height: int
    bitrate_kbps: int


# The re-encoding profiles, as recording.proto's RecordingProfile comments say (ORIGINAL
# copies the camera's stream).
PROFILES: dict[RecordingProfile, Encoding] = {
    RecordingProfile.LOW: Encoding("low", 360, 800),
    RecordingProfile.MEDIUM: Encoding("medium", 720, 2500),
    RecordingProfile.HIGH: Encoding("high", 1080, 5000),
    RecordingProfile.ULTRA: Encoding("ultra", 2160, 16000),
}
# How a segment's file name says its profile (`stamp-low-00001.ts`).
PROFILE_NAMES = {
    RecordingProfile.ORIGINAL: "original",
    **{profile: encoding.name for profile, encoding in PROFILES.items()},
}
PROFILE_BY_NAME = {name: profile for profile, name in PROFILE_NAMES.items()}


def collector_argv(
    python: str,
    output_pattern: str,
    segment_s: float,
    since: float,
    segment_file: Path | None = None,
) -> list[str]:
    """The `original` profile's recorder: node_agent.recording.collector joining the stream's
    live HLS fragments (already MPEG-TS on disk, written by nginx-rtmp) into segments of about
    `segment_s`, from wall time `since` on; each closed segment is printed to stdout as a CSV
    line `name,start,end` in wall-clock seconds. The fragments' directory is named by the stream
    key, so it goes in the environment (collector_env), never in the arguments, which every
    local user can read. With `segment_file`, the number in it (the platform's segment length,
    node_agent.settings) overrides `segment_s` from the moment it is written, without a restart.

    Why not an ffmpeg playing the RTMP stream with `-c copy`: measured here (bench/README.md),
    such an ffmpeg costs 2.5-4 times what nginx's own `record all` does, almost all of it in
    reading RTMP; and one restarted after a crash waits for the next keyframe (nginx-rtmp keeps
    no GOP cache), losing ~0.7 s each time, where a restarted collector takes up from the
    fragments still on disk and loses nothing.
    """
    return [
        python, "-m", "node_agent.recording.collector",
        "--output", output_pattern,
        "--segment-seconds", f"{segment_s:g}",
        "--since", f"{since:.3f}",
        *(["--segment-seconds-from", str(segment_file)] if segment_file is not None else []),
    ]  # fmt: skip


def collector_env(fragments: Path, base: Mapping[str, str]) -> dict[str, str]:
    """`base` plus the collector's fragments directory (readable by its owner only, in
    /proc/PID/environ)."""
    return {**base, FRAGMENTS_ENV: str(fragments)}


def encoder_argv(
    ffmpeg: str, source_url: str, output_pattern: str, segment_s: float, encoding: Encoding
) -> list[str]:
    """A re-encoding profile's recorder: ffmpeg reading `source_url` (the local nginx-rtmp) and
    encoding at `encoding` into MPEG-TS segments of about `segment_s`, keyframes forced on the
    cuts; each closed segment is printed to stdout as a CSV line `name,start,end`, in seconds
    since the run's first packet.

    MPEG-TS, because a segment cut short by kill -9 still plays (an MP4 without its moov does
    not); packets are flushed as they are muxed, so such a cut loses almost nothing.
    """
    rate = f"{encoding.bitrate_kbps}k"
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "warning",
        # The RTMP header says which streams there are; a second of probing is plenty.
        "-analyzeduration", "1000000",
        "-i", source_url,
        "-map", "0:v?", "-map", "0:a?",
        "-c:v", "libx264", "-preset", "veryfast",
        "-vf", f"scale=-2:{encoding.height}",
        "-b:v", rate, "-maxrate", rate, "-bufsize", f"{encoding.bitrate_kbps * 2}k",
        # Keyframes on the segment boundaries, so segments are cut where asked.
        "-force_key_frames", f"expr:gte(t,n_forced*{segment_s:g})",
        "-c:a", "aac", "-b:a", "96k",
        "-f", "segment",
        "-segment_time", f"{segment_s:g}",
        "-segment_format", "mpegts",
        "-flush_packets", "1",
        "-segment_list", "pipe:1",
        "-segment_list_type", "csv",
        output_pattern,
    ]  # fmt: skip


class ProbeFailed(Exception):
    """ffprobe could not say (it timed out on a busy machine): the file may be fine."""


async def _ffprobe(
    ffprobe: str, args: list[str], path: Path, timeout_s: float, nice: int = 0
) -> bytes | None:
    """ffprobe's stdout for `args` on `path`; None if it failed; ProbeFailed if it did not
    answer within `timeout_s` (it is killed, as it is when the caller is cancelled). `nice`
    lowers its CPU priority (19: it runs only when nothing else wants the CPU)."""
    proc = await asyncio.create_subprocess_exec(
        ffprobe, "-v", "error", *args, str(path),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        if nice:
            # Set from here rather than in the child before exec (no preexec_fn: the agent
            # has threads); the probe has barely begun by then.
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, proc.pid, nice)
        async with asyncio.timeout(timeout_s):
            out, _ = await proc.communicate()
    except TimeoutError:
        raise ProbeFailed(f"ffprobe took over {timeout_s:g}s on {path}") from None
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await asyncio.shield(proc.wait())
    return out if proc.returncode == 0 else None


async def probe_duration(
    ffprobe: str, path: Path, timeout_s: float = 60.0, nice: int = 0
) -> float | None:
    """Media duration of `path` in seconds as ffprobe measures it; None when the file holds no
    decodable media (empty, cut before the first packet, not media); ProbeFailed when ffprobe
    did not answer in time. `nice`: as _ffprobe's."""
    out = await _ffprobe(
        ffprobe,
        ["-show_entries", "format=duration", "-of", "default=noprint_wrappers=1:nokey=1"],
        path,
        timeout_s,
        nice,
    )
    try:
        duration = float((out or b"").decode().strip())
    except ValueError:
        return None
    return duration if duration > 0 else None


def digest(path: Path) -> tuple[int, str]:
    """Size and hex SHA-256 of `path` (blocking: run it in a thread)."""
    sha = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()


async def has_audio(ffprobe: str, path: Path, timeout_s: float = 30.0) -> bool:
    """Whether `path` carries audio that can be copied into an MP4.

    nginx-rtmp's MPEG-TS declares an AAC stream in every fragment, audio or not; for a camera
    without audio that stream has no sample rate, and ffmpeg refuses to write it into an MP4
    ("sample rate not set"). So a clip maps audio only when there is some.
    """
    try:
        out = await _ffprobe(
            ffprobe,
            ["-select_streams", "a", "-show_entries", "stream=sample_rate", "-of", "csv=p=0"],
            path,
            timeout_s,
        )
    except ProbeFailed:
        return False
    rates = [line.strip() for line in (out or b"").decode(errors="replace").splitlines()]
    return any(rate.isdigit() and int(rate) > 0 for rate in rates)
