"""The ladder's master playlist, written by the agent rather than taken from ffmpeg.

ffmpeg's own master (`-master_pl_name`) leaves CODECS out for a copied rung and gives it the
audio's bitrate as BANDWIDTH (it cannot know a copied stream's rate), so a player would take
the full-resolution rung for the cheapest and skip it (hls.js and Safari drop variants whose
CODECS is wrong or missing). Here each rung's CODECS comes from ffprobe's profile and level of
the rung's own first segment, and its BANDWIDTH from the bytes of its segments.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from node_agent.ladder.plan import Rung, Skipped, SourceInfo

# profile_idc and constraint flags of avc1.PPCCLL by ffprobe's profile name (RFC 6381).
_AVC_PROFILES = {
    "constrained baseline": (0x42, 0xE0),
    "baseline": (0x42, 0x00),
    "main": (0x4D, 0x40),
    "extended": (0x58, 0x00),
    "high": (0x64, 0x00),
    "high 10": (0x6E, 0x00),
    "high 4:2:2": (0x7A, 0x00),
    "high 4:4:4 predictive": (0xF4, 0x00),
}
# mp4a object types by ffprobe's AAC profile name.
_AAC_OBJECT = {"lc": 2, "he-aac": 5, "he-aacv2": 29, "ld": 23, "main": 1}


def avc_codec(profile: str, level: int) -> str | None:
    """RFC 6381's avc1.PPCCLL for ffprobe's H.264 profile name and level; None if unknown."""
    known = _AVC_PROFILES.get(profile.strip().lower())
    if known is None or not 0 < level < 256:
        return None
    return f"avc1.{known[0]:02x}{known[1]:02x}{level:02x}"


def audio_codec(codec: str, profile: str) -> str | None:
    """The CODECS entry of an audio track ffprobe names; None when there is none or unknown."""
    if codec == "aac":
        return f"mp4a.40.{_AAC_OBJECT.get(profile.strip().lower(), 2)}"
    if codec == "mp3":
        return "mp4a.40.34"
    return None


def source_from_ffprobe(document: bytes) -> SourceInfo | None:
    """The first video (and audio) stream of `ffprobe -show_streams -of json`; None without
    video."""
    try:
        streams = json.loads(document).get("streams", [])
    except (ValueError, AttributeError):
        return None
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    # nginx-rtmp declares AAC in every fragment; only one with a sample rate carries audio.
    audio = next(
        (
            s
            for s in streams
            if s.get("codec_type") == "audio" and str(s.get("sample_rate", "0")) not in ("", "0")
        ),
        None,
    )
    if video is None or not video.get("width") or not video.get("height"):
        return None
    return SourceInfo(
        width=int(video["width"]),
        height=int(video["height"]),
        video_codec=str(video.get("codec_name", "")),
        profile=str(video.get("profile", "")),
        level=int(video.get("level") or 0),
        audio_codec=str(audio.get("codec_name", "")) if audio else "",
        audio_profile=str(audio.get("profile", "")) if audio else "",
        fps=_frame_rate(video),
    )


def _frame_rate(video: dict[str, object]) -> float:
    """ffprobe's average frame rate ("25/1", "30000/1001"), else its r_frame_rate; 0 if
    neither is a rate (ffprobe writes "0/0" when it cannot tell)."""
    for key in ("avg_frame_rate", "r_frame_rate"):
        num, _, den = str(video.get(key, "")).partition("/")
        try:
            rate = float(num) / float(den or 1)
        except (ValueError, ZeroDivisionError):
            continue
        if 0 < rate <= 1000:
            return rate
    return 0.0


@dataclass(frozen=True)
class RungInfo:
    """What the master playlist says of one rung, measured on its segments."""

    rung: Rung
    uri: str
    probed: SourceInfo
    bandwidth_bps: int

    @property
    def codecs(self) -> str | None:
        video = avc_codec(self.probed.profile, self.probed.level)
        if video is None:
            return None
        audio = audio_codec(self.probed.audio_codec, self.probed.audio_profile)
        return f"{video},{audio}" if audio else video


def render_master(rungs: Sequence[RungInfo], skipped: Sequence[Skipped] = ()) -> str:
    """The master playlist: every rung with BANDWIDTH, RESOLUTION and CODECS; skipped rungs
    as comments (a player ignores them; a person reading the playlist sees why)."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-INDEPENDENT-SEGMENTS"]
    lines += [f"# rung {s.rung} skipped: {s.reason}" for s in skipped]
    for info in rungs:
        attributes = [
            f"BANDWIDTH={max(info.bandwidth_bps, 1)}",
            f"RESOLUTION={info.probed.width}x{info.probed.height}",
        ]
        codecs = info.codecs
        if codecs is not None:
            attributes.append(f'CODECS="{codecs}"')
        attributes.append(f'NAME="{info.rung.name}"')
        lines += [f"#EXT-X-STREAM-INF:{','.join(attributes)}", info.uri]
    return "\n".join(lines) + "\n"


def bandwidth(segment_bytes: Sequence[int], durations_s: Sequence[float]) -> int:
    """Peak bits per second over the segments (10 % headroom), as HLS's BANDWIDTH means."""
    rates = [b * 8 / d for b, d in zip(segment_bytes, durations_s, strict=True) if d > 0]
    return int(max(rates, default=0) * 1.1)


def media_segments(playlist: str) -> list[tuple[str, float]]:
    """(segment URI, duration) of a media playlist, in order."""
    out: list[tuple[str, float]] = []
    duration: float | None = None
    for raw in playlist.splitlines():
        line = raw.strip()
        if line.startswith("#EXTINF:"):
            try:
                duration = float(line[len("#EXTINF:") :].split(",", 1)[0])
            except ValueError:
                duration = None
        elif line and not line.startswith("#") and duration is not None:
            out.append((line, duration))
            duration = None
    return out
