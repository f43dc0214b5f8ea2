"""A camera's live ladder as ffmpeg runs it: which rungs (the source copied, and heights encoded
with libx264), which are skipped and why, and the one ffmpeg command that makes them all.

Rungs are written as the control plane sends them: "source" (the camera's stream copied, no
re-encode) or "<height>p" ("360p"). Every encoded rung is keyed on the source's keyframes
(`-force_key_frames source`, scene cuts off, no GOP of its own), so all rungs cut their
segments at the same instants and a player switches rungs at any segment boundary.

A rung above the source's height is skipped (an upscale spends CPU to show nothing more), as is
one of the source's own height when the source is copied too; an odd source size is scaled to
an even width (`scale=-2:H`), which libx264 requires.

The bitrate table is for TABLE_FPS (30 fps, the usual web ladder). A camera set to fewer frames
a second (surveillance cameras often run at 5-15 fps) gets each encoded rung's bitrate scaled by
its frame rate over TABLE_FPS, so each frame keeps about the bits it has at 30 fps instead of a
5 fps 360p rung costing a viewer as many bytes as a 30 fps one. Never below MIN_RATE_SCALE (at
low rates a frame differs more from the previous one, and keyframes weigh more) and never above
1x (a 50 or 60 fps camera gets the table's rate).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SOURCE = "source"
_HEIGHT = re.compile(r"^([1-9][0-9]{1,3})p$")
MIN_HEIGHT = 144
MAX_HEIGHT = 2160
# Video bitrates (kbit/s) of encoded rungs by height; a height between two takes the lower's.
_BITRATES = ((144, 200), (240, 400), (360, 800), (480, 1200), (720, 2500), (1080, 5000))
# The frame rate _BITRATES are meant for, and the least share of them a slower source gets.
TABLE_FPS = 30.0
MIN_RATE_SCALE = 0.25
# What one encoded rung's libx264 runs at (the cost table in server/placement is measured so).
PRESET = "veryfast"
# The master playlist this module's caller writes (with CODECS); ffmpeg's own is an input.
MASTER = "master.m3u8"
FFMPEG_MASTER = "ffmpeg-master.m3u8"


@dataclass(frozen=True)
class Rung:
    """One rendition: the source copied (height 0) or encoded to `height` lines."""

    height: int = 0

    @property
    def copied(self) -> bool:
        return self.height == 0

    @property
    def name(self) -> str:
        return SOURCE if self.copied else f"{self.height}p"

    @property
    def video_kbps(self) -> int:
        """The encoded rung's bitrate in the table, at TABLE_FPS (0 for the copy: whatever the
        camera sends); what recording profiles are matched on. ffmpeg gets kbps_at(fps)."""
        if self.copied:
            return 0
        return next((k for h, k in reversed(_BITRATES) if h <= self.height), _BITRATES[0][1])

    def kbps_at(self, fps: float) -> int:
        """The encoded rung's video bitrate for a source of `fps` frames a second (0: unknown,
        the table's rate)."""
        return round(self.video_kbps * rate_scale(fps))


def rate_scale(fps: float) -> float:
    """How much of the table's bitrates a source of `fps` gets: fps / TABLE_FPS, within
    [MIN_RATE_SCALE, 1]; 1 when the frame rate is unknown (0)."""
    if not fps > 0:
        return 1.0
    return min(1.0, max(MIN_RATE_SCALE, fps / TABLE_FPS))


def parse_rung(text: str) -> Rung | None:
    """The rung "source" or "<height>p" names; None for anything else."""
    if text == SOURCE:
        return Rung()
    match = _HEIGHT.match(text)
    if match is None:
        return None
    height = int(match[1])
    return Rung(height) if MIN_HEIGHT <= height <= MAX_HEIGHT and height % 2 == 0 else None


@dataclass(frozen=True)
class SourceInfo:
    """What ffprobe says of the camera's stream."""

    width: int
    height: int
    # ffprobe's names: "High", "Main", "Constrained Baseline"; level as 31 for 3.1.
    video_codec: str = "h264"
    profile: str = ""
    level: int = 0
    audio_codec: str = ""
    audio_profile: str = ""
    # Frames a second (ffprobe's avg_frame_rate); 0 when ffprobe does not say.
    fps: float = 0.0

    @property
    def has_audio(self) -> bool:
        return bool(self.audio_codec)


@dataclass(frozen=True)
class Skipped:
    """A rung of the camera's ladder that is not made, and why (a sentence)."""

    rung: str
    reason: str


@dataclass(frozen=True)
class LadderPlan:
    """The rungs ffmpeg makes, in the ladder's order, and those skipped."""

    rungs: tuple[Rung, ...]
    skipped: tuple[Skipped, ...] = ()

    @property
    def transcodes(self) -> int:
        """How many rungs are encoded (each costs CPU; the copy almost none)."""
        return sum(1 for r in self.rungs if not r.copied)


def plan_ladder(ladder: Sequence[str], source: SourceInfo) -> LadderPlan:
    """The rungs of `ladder` that make sense for `source`, highest first, and why others not."""
    rungs: list[Rung] = []
    skipped: list[Skipped] = []
    copied = SOURCE in ladder
    for text in dict.fromkeys(ladder):
        rung = parse_rung(text)
        if rung is None:
            skipped.append(Skipped(text, f"{text!r} is not a rung (source, or 144p to 2160p)"))
        elif source.video_codec != "h264":
            if rung.copied:
                rungs.append(rung)
            else:
                skipped.append(
                    Skipped(text, f"the source's video is {source.video_codec}, not H.264")
                )
        elif not rung.copied and rung.height > source.height:
            skipped.append(
                Skipped(text, f"above the source's {source.width}x{source.height} (no upscaling)")
            )
        elif not rung.copied and copied and rung.height == source.height:
            skipped.append(Skipped(text, "the copied source already has this height"))
        else:
            rungs.append(rung)
    rungs.sort(key=lambda r: -(source.height if r.copied else r.height))
    return LadderPlan(tuple(rungs), tuple(skipped))


def _encoded(i: int, rung: Rung, fps: float) -> list[str]:
    kbps = rung.kbps_at(fps)
    return [
        f"-c:v:{i}", "libx264",
        f"-preset:v:{i}", PRESET,
        f"-filter:v:{i}", f"scale=-2:{rung.height}",
        f"-b:v:{i}", f"{kbps}k",
        f"-maxrate:v:{i}", f"{kbps * 11 // 10}k",
        f"-bufsize:v:{i}", f"{kbps * 2}k",
        # Main, level chosen by x264: plays everywhere hls.js and Safari do.
        f"-profile:v:{i}", "main",
        f"-pix_fmt:v:{i}", "yuv420p",
        # Keyframes exactly where the source has them, and nowhere else.
        f"-force_key_frames:v:{i}", "source",
        f"-sc_threshold:v:{i}", "0",
        f"-g:v:{i}", "100000",
    ]  # fmt: skip


def ffmpeg_argv(
    ffmpeg: str,
    input_url: str,
    plan: LadderPlan,
    out_dir: Path,
    source: SourceInfo,
    *,
    fragment_s: float = 1.0,
    playlist_size: int = 6,
) -> list[str]:
    """One ffmpeg that reads the camera once and writes every rung's HLS into `out_dir`
    (v0.m3u8, v0_N.ts, v1.m3u8, ...; ffmpeg's master playlist as FFMPEG_MASTER)."""
    if not plan.rungs:
        raise ValueError("a ladder needs at least one rung")
    argv = [
        ffmpeg, "-hide_banner", "-loglevel", "warning", "-nostdin",
        "-fflags", "+genpts", "-i", input_url,
    ]  # fmt: skip
    for _ in plan.rungs:
        argv += ["-map", "0:v:0"] + (["-map", "0:a:0"] if source.has_audio else [])
    for i, rung in enumerate(plan.rungs):
        argv += [f"-c:v:{i}", "copy"] if rung.copied else _encoded(i, rung, source.fps)
    if source.has_audio:
        argv += ["-c:a", "copy"]
    stream_map = " ".join(
        f"v:{i},a:{i}" if source.has_audio else f"v:{i}" for i in range(len(plan.rungs))
    )
    argv += [
        "-f", "hls",
        "-hls_time", f"{fragment_s:g}",
        "-hls_list_size", str(playlist_size),
        # Segments stay a while after leaving the playlist: a player that read it late (a
        # busy tab, a slow link) still gets them.
        "-hls_delete_threshold", str(playlist_size),
        # program_date_time: each fragment's wall time, which a recorder taking a rung's
        # fragments (node_agent.recording.fragments.scan_stamped) times its segments by.
        "-hls_flags", "delete_segments+independent_segments+omit_endlist+program_date_time",
        "-hls_segment_type", "mpegts",
        "-hls_segment_filename", str(out_dir / "v%v_%d.ts"),
        "-master_pl_name", FFMPEG_MASTER,
        "-var_stream_map", stream_map,
        str(out_dir / "v%v.m3u8"),
    ]  # fmt: skip
    return argv
