"""The recorder's pieces that need no process: its command per profile, the segment list lines
it reads, exit reasons, and what a file name says."""

from __future__ import annotations

from pathlib import Path

import pytest

from node_agent.desired import RecordingProfile
from node_agent.recording.media import (
    PROFILES,
    collector_argv,
    collector_env,
    encoder_argv,
)
from node_agent.recording.run import exit_reason, parse_segment_line
from node_agent.recording.store import describe_path

SOURCE = "rtmp://127.0.0.1:1935/live/key"


def test_original_joins_the_live_fragments_from_where_it_resumes() -> None:
    argv = collector_argv("/venv/bin/python", "/d/x-%05d.ts", 10, 1764590400.25)
    assert argv[:3] == ["/venv/bin/python", "-m", "node_agent.recording.collector"]
    # The fragments' directory is named by the stream key: in the environment, which only the
    # collector's owner can read, never in the arguments, which everyone can.
    assert "--fragments" not in argv
    env = collector_env(Path("/hls/key"), {"PATH": "/bin"})
    assert env == {"PATH": "/bin", "CAMFLEET_FRAGMENTS": "/hls/key"}
    assert argv[argv.index("--output") + 1] == "/d/x-%05d.ts"
    assert argv[argv.index("--segment-seconds") + 1] == "10"
    assert argv[argv.index("--since") + 1] == "1764590400.250"


@pytest.mark.parametrize(
    ("profile", "height", "rate"),
    [
        (RecordingProfile.LOW, 360, "800k"),
        (RecordingProfile.MEDIUM, 720, "2500k"),
        (RecordingProfile.HIGH, 1080, "5000k"),
        (RecordingProfile.ULTRA, 2160, "16000k"),
    ],
)
def test_profiles_reencode_at_their_size_with_keyframes_on_the_cuts(
    profile: RecordingProfile, height: int, rate: str
) -> None:
    argv = encoder_argv("ffmpeg", SOURCE, "/d/x-%05d.ts", 4, PROFILES[profile])
    assert argv[argv.index("-i") + 1] == SOURCE
    assert "-f segment -segment_time 4 -segment_format mpegts" in " ".join(argv)
    assert "-segment_list pipe:1 -segment_list_type csv" in " ".join(argv)
    assert argv[-1] == "/d/x-%05d.ts"
    assert argv[argv.index("-c:v") + 1] == "libx264"
    assert argv[argv.index("-preset") + 1] == "veryfast"
    assert argv[argv.index("-vf") + 1] == f"scale=-2:{height}"
    assert argv[argv.index("-b:v") + 1] == rate
    assert argv[argv.index("-force_key_frames") + 1] == "expr:gte(t,n_forced*4)"


def test_segment_list_lines() -> None:
    assert parse_segment_line(b"20261201T120000.000Z-original-00001.ts,2.080000,4.080000\n") == (
        "20261201T120000.000Z-original-00001.ts",
        2.08,
        4.08,
    )
    for junk in (b"", b"\n", b"name-only.ts\n", b"a.ts,x,y\n", b",1,2\n"):
        assert parse_segment_line(junk) is None


def test_exit_reasons() -> None:
    assert exit_reason(-9) == "recorder exited (signal 9)"
    assert exit_reason(1, "No space left on device") == (
        "recorder exited with code 1: No space left on device"
    )
    assert exit_reason(1) == "recorder exited with code 1"


def test_file_names_say_camera_and_profile() -> None:
    camera = "0b5c4a36-5a4c-4f55-9f0e-2b7a9d1c0e11"
    assert describe_path(f"{camera}/20261201/20261201T120000.000Z-low-00003.ts") == (
        camera,
        RecordingProfile.LOW,
    )
    assert describe_path(f"{camera}/20261201/odd.ts") is None
    assert describe_path("stray.ts") is None
