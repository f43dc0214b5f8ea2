"""Recording from a ladder rung, without processes: which profile equals which rung, how a rung's
ffmpeg playlist (program date times, `v1_N.ts`) is read as fragments and joined into segments,
and which recorder spec a camera gets while its ladder starts, runs, restarts or cannot make the
rung. tests/e2e/test_recording_rung.py runs it with a real agent."""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from node_agent.desired import AssignedCamera, RecordingProfile
from node_agent.ladder.plan import SourceInfo, ffmpeg_argv, plan_ladder
from node_agent.recording.collector import SegmentWriter, collect
from node_agent.recording.fragments import scan_stamped
from node_agent.recording.rungs import RungReuse, matching_rung
from node_agent.recording.spec import RecorderSpec

T0 = 1_796_000_000.0


def stamp(at: float) -> str:
    """ffmpeg's way: milliseconds and a +0000 zone."""
    moment = datetime.fromtimestamp(at, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def write_rung(directory: Path, first: int, count: int, duration: float = 1.0) -> list[Path]:
    """A rung's playlist `v1.m3u8` listing `count` fragments from number `first`, each stamped."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-TARGETDURATION:1"]
    paths = []
    for n in range(first, first + count):
        path = directory / f"v1_{n}.ts"
        path.write_bytes(path.name.encode() + b";")
        paths.append(path)
        lines += [
            f"#EXT-X-PROGRAM-DATE-TIME:{stamp(T0 + n * duration)}",
            f"#EXTINF:{duration:.6f},",
            path.name,
        ]
    (directory / "v1.m3u8").write_text("\n".join(lines) + "\n")
    return paths


def test_profiles_match_the_rungs_of_the_same_height_and_bitrate() -> None:
    def camera(profile: RecordingProfile, ladder: Iterable[str]) -> AssignedCamera:
        return AssignedCamera("c", record=True, record_profile=profile, ladder=tuple(ladder))

    assert matching_rung(camera(RecordingProfile.LOW, ["source", "360p"])) == "360p"
    assert matching_rung(camera(RecordingProfile.MEDIUM, ["720p", "360p"])) == "720p"
    assert matching_rung(camera(RecordingProfile.MEDIUM, ["source", "360p"])) is None
    assert matching_rung(camera(RecordingProfile.ORIGINAL, ["source", "360p"])) is None
    # 2160p rungs are encoded at 5000 kbit/s, the ultra profile at 16000: not the same encode.
    assert matching_rung(camera(RecordingProfile.ULTRA, ["2160p"])) is None


def test_the_ladder_stamps_every_fragment_with_its_wall_time() -> None:
    source = SourceInfo(1280, 720)
    argv = ffmpeg_argv(
        "ffmpeg", "rtmp://x", plan_ladder(("source", "360p"), source), Path("/o"), source
    )
    assert "program_date_time" in argv[argv.index("-hls_flags") + 1]


def test_a_rungs_listed_fragments_are_closed_and_timed_by_their_stamps(tmp_path: Path) -> None:
    paths = write_rung(tmp_path, first=5, count=4)
    paths[0].unlink()  # deleted by ffmpeg already: not offered
    found = scan_stamped(tmp_path, "v1.m3u8")
    assert found.writing is None
    assert [f.path.name for f in found.closed] == ["v1_6.ts", "v1_7.ts", "v1_8.ts"]
    assert [f.start for f in found.closed] == pytest.approx([T0 + 6, T0 + 7, T0 + 8], abs=1e-3)
    assert scan_stamped(tmp_path / "none", "v1.m3u8").closed == []


def test_a_rung_is_joined_into_segments_like_nginx_fragments(tmp_path: Path) -> None:
    paths = write_rung(tmp_path / "ladder", first=0, count=6)
    out = io.StringIO()
    writer = SegmentWriter(str(tmp_path / "seg-%05d.ts"), 3.0, out)
    collect(tmp_path / "ladder", writer, T0, [True], 30.0, playlist="v1.m3u8")
    lines = [line.split(",") for line in out.getvalue().splitlines()]
    assert [name for name, _, _ in lines] == ["seg-00000.ts", "seg-00001.ts"]
    times = [float(t) for _, a, b in lines for t in (a, b)]
    assert times == pytest.approx([T0, T0 + 3, T0 + 3, T0 + 6], abs=1e-3)
    written = b"".join((tmp_path / name).read_bytes() for name, _, _ in lines)
    assert written == b"".join(p.read_bytes() for p in paths)


class Ladders:
    """What RungReuse asks of the node's ladders, set by the test."""

    def __init__(self) -> None:
        self.pinned: list[str] = []
        self.state: tuple[str, Path | None] = ("starting", None)

    def pin(self, camera_ids: Iterable[str]) -> None:
        self.pinned = list(camera_ids)

    def rung_output(self, camera_id: str, rung: str) -> tuple[str, Path | None]:
        assert rung == "360p"
        return self.state


def test_a_recorder_waits_for_its_ladder_then_keeps_the_rung_through_a_restart() -> None:
    camera = AssignedCamera(
        "cam", record=True, record_profile=RecordingProfile.LOW, ladder=("source", "360p")
    )
    own = RecorderSpec("cam", "rtmp://x/live/cam", RecordingProfile.LOW, fragments=Path("/hls/k"))
    reuse = RungReuse()
    assert reuse.spec(camera, own) == own  # no ladders on this agent: the profile encodes
    ladders = Ladders()
    reuse.source = ladders
    reuse.pin([camera, AssignedCamera("orig", record=True, ladder=("source", "360p"))])
    assert ladders.pinned == ["cam"]
    assert reuse.spec(camera, own) is None  # the ladder is starting: no recorder yet
    ladders.state = ("ready", Path("/ladder/cam/v1.m3u8"))
    taken = reuse.spec(camera, own)
    assert taken is not None
    assert (taken.fragments, taken.playlist) == (Path("/ladder/cam"), "v1.m3u8")
    ladders.state = ("starting", None)  # restarting: the same spec, the recorder keeps going
    assert reuse.spec(camera, own) == taken
    ladders.state = ("none", None)  # the source is below 360p now: the profile's own ffmpeg
    assert reuse.spec(camera, own) == own
    reuse.pin([])
    assert ladders.pinned == []
