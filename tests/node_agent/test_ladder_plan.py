"""The ladder's plan (which rungs, which skipped and why), its ffmpeg command, and the master
playlist's CODECS and BANDWIDTH: pure functions, checked on the values ffprobe gives."""

from __future__ import annotations

from pathlib import Path

from node_agent.ladder.master import (
    RungInfo,
    audio_codec,
    avc_codec,
    bandwidth,
    media_segments,
    render_master,
    source_from_ffprobe,
)
from node_agent.ladder.plan import (
    MIN_RATE_SCALE,
    TABLE_FPS,
    Rung,
    SourceInfo,
    ffmpeg_argv,
    parse_rung,
    plan_ladder,
)

HD = SourceInfo(1280, 720, "h264", "High", 31, "aac", "LC")


def test_rungs_parse_only_even_heights_in_range() -> None:
    assert parse_rung("source") == Rung(0)
    assert parse_rung("360p") == Rung(360)
    for bad in ("361p", "100p", "4320p", "360", "p", "Source", "0360p", ""):
        assert parse_rung(bad) is None, bad


def test_default_ladder_on_hd_source() -> None:
    plan = plan_ladder(("source", "360p"), HD)
    assert [r.name for r in plan.rungs] == ["source", "360p"]
    assert plan.skipped == ()
    assert plan.transcodes == 1


def test_rungs_above_or_at_the_copied_source_are_skipped_with_reasons() -> None:
    small = SourceInfo(641, 361, "h264", "High 4:4:4 Predictive", 30)
    plan = plan_ladder(("source", "1080p", "480p", "360p", "bogus"), small)
    assert [r.name for r in plan.rungs] == ["source", "360p"]
    reasons = {s.rung: s.reason for s in plan.skipped}
    assert reasons["1080p"] == "above the source's 641x361 (no upscaling)"
    assert reasons["480p"] == "above the source's 641x361 (no upscaling)"
    assert "not a rung" in reasons["bogus"]
    same = plan_ladder(("source", "720p", "360p"), HD)
    assert [s.rung for s in same.skipped] == ["720p"]
    # Without the copy, the source's own height is a rung worth encoding (720p + 360p).
    encoded = plan_ladder(("720p", "360p"), HD)
    assert [r.name for r in encoded.rungs] == ["720p", "360p"]


def test_a_non_h264_source_is_only_copied() -> None:
    plan = plan_ladder(("source", "360p"), SourceInfo(1280, 720, "hevc"))
    assert [r.name for r in plan.rungs] == ["source"]
    assert "not H.264" in plan.skipped[0].reason


def test_one_ffmpeg_keys_encoded_rungs_on_source_keyframes(tmp_path: Path) -> None:
    plan = plan_ladder(("source", "360p"), HD)
    argv = ffmpeg_argv("ffmpeg", "rtmp://x/live/c?rec=t", plan, tmp_path, HD, fragment_s=1.0)
    joined = " ".join(argv)
    assert argv.count("-i") == 1
    assert "-c:v:0 copy" in joined
    assert "-c:v:1 libx264 -preset:v:1 veryfast -filter:v:1 scale=-2:360" in joined
    assert "-force_key_frames:v:1 source" in joined
    assert "-sc_threshold:v:1 0" in joined
    assert argv[argv.index("-var_stream_map") + 1] == "v:0,a:0 v:1,a:1"
    assert "-master_pl_name" in argv
    silent = SourceInfo(1280, 720, "h264", "High", 31)
    argv = ffmpeg_argv("ffmpeg", "in", plan, tmp_path, silent)
    assert argv[argv.index("-var_stream_map") + 1] == "v:0 v:1"
    assert "0:a:0" not in argv


def _rates(argv: list[str], i: int) -> tuple[str, ...]:
    """Rung i's -b:v, -maxrate:v and -bufsize:v in the ffmpeg command."""
    return tuple(argv[argv.index(f"-{k}:v:{i}") + 1] for k in ("b", "maxrate", "bufsize"))


def test_encoded_rungs_bitrate_follows_the_source_frame_rate(tmp_path: Path) -> None:
    # The table's 800 kbit/s for 360p is for TABLE_FPS; a 5 fps camera's 360p rung would
    # otherwise cost a viewer a 30 fps rung's bytes for a sixth of the frames.
    assert TABLE_FPS == 30 and MIN_RATE_SCALE == 0.25
    plan = plan_ladder(("source", "720p", "360p"), SourceInfo(1920, 1080, "h264", "High", 40))
    expected = {
        0.0: (("2500k", "2750k", "5000k"), ("800k", "880k", "1600k")),  # unknown: the table
        60.0: (("2500k", "2750k", "5000k"), ("800k", "880k", "1600k")),  # never above 1x
        30.0: (("2500k", "2750k", "5000k"), ("800k", "880k", "1600k")),
        25.0: (("2083k", "2291k", "4166k"), ("667k", "733k", "1334k")),
        15.0: (("1250k", "1375k", "2500k"), ("400k", "440k", "800k")),
        5.0: (("625k", "687k", "1250k"), ("200k", "220k", "400k")),  # the 0.25x floor
        1.0: (("625k", "687k", "1250k"), ("200k", "220k", "400k")),
    }
    for fps, (hd, low) in expected.items():
        source = SourceInfo(1920, 1080, "h264", "High", 40, fps=fps)
        argv = ffmpeg_argv("ffmpeg", "in", plan, tmp_path, source)
        assert argv[argv.index("-c:v:0") + 1] == "copy"
        assert (_rates(argv, 1), _rates(argv, 2)) == (hd, low), fps
    # The nominal rate stays the table's (recording profiles match rungs on it).
    assert Rung(360).video_kbps == 800 and Rung(360).kbps_at(5) == 200


def test_codecs_from_ffprobe_names() -> None:
    assert avc_codec("High", 31) == "avc1.64001f"
    assert avc_codec("Main", 30) == "avc1.4d401e"
    assert avc_codec("Constrained Baseline", 31) == "avc1.42e01f"
    assert avc_codec("High 4:4:4 Predictive", 30) == "avc1.f4001e"
    assert avc_codec("Unknown", 31) is None
    assert avc_codec("High", 0) is None
    assert audio_codec("aac", "LC") == "mp4a.40.2"
    assert audio_codec("aac", "HE-AAC") == "mp4a.40.5"
    assert audio_codec("", "") is None


def test_source_from_ffprobe_ignores_nginx_declared_silent_audio() -> None:
    document = b"""{"streams": [
        {"codec_type": "video", "codec_name": "h264", "profile": "High", "level": 31,
         "width": 1280, "height": 720},
        {"codec_type": "audio", "codec_name": "aac", "profile": "LC", "sample_rate": "0"}]}"""
    source = source_from_ffprobe(document)
    assert source == SourceInfo(1280, 720, "h264", "High", 31)
    assert source_from_ffprobe(b"not json") is None
    rated = document.replace(b'"width"', b'"avg_frame_rate": "30000/1001", "width"')
    assert source_from_ffprobe(rated) == SourceInfo(1280, 720, "h264", "High", 31, fps=30000 / 1001)
    # ffprobe writes 0/0 for an average it could not take; r_frame_rate then tells.
    guessed = document.replace(
        b'"width"', b'"avg_frame_rate": "0/0", "r_frame_rate": "5/1", "width"'
    )
    assert source_from_ffprobe(guessed) == SourceInfo(1280, 720, "h264", "High", 31, fps=5.0)
    assert source_from_ffprobe(b'{"streams": [{"codec_type": "audio"}]}') is None


def test_master_lists_rungs_with_codecs_and_skips_as_comments() -> None:
    plan = plan_ladder(("source", "1080p", "360p"), HD)
    low = SourceInfo(640, 360, "h264", "Main", 30, "aac", "LC")
    text = render_master(
        [
            RungInfo(plan.rungs[0], "v0.m3u8", HD, 2_000_000),
            RungInfo(plan.rungs[1], "v1.m3u8", low, 900_000),
        ],
        plan.skipped,
    )
    assert text.splitlines() == [
        "#EXTM3U",
        "#EXT-X-VERSION:6",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        "# rung 1080p skipped: above the source's 1280x720 (no upscaling)",
        '#EXT-X-STREAM-INF:BANDWIDTH=2000000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2",'
        'NAME="source"',
        "v0.m3u8",
        '#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=640x360,CODECS="avc1.4d401e,mp4a.40.2",'
        'NAME="360p"',
        "v1.m3u8",
    ]


def test_bandwidth_is_the_peak_segment_rate_with_headroom() -> None:
    assert bandwidth([100_000, 250_000], [1.0, 1.0]) == 2_200_000
    assert bandwidth([], []) == 0
    playlist = "#EXTM3U\n#EXTINF:1.000000,\nv0_3.ts\n#EXTINF:0.960000,\nv0_4.ts\n"
    assert media_segments(playlist) == [("v0_3.ts", 1.0), ("v0_4.ts", 0.96)]
