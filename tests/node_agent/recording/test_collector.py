"""The `original` profile's recorder without nginx: which of a stream's HLS fragments count as
finished, where a resumed recorder takes up, how fragments are joined into segments, and what
the process prints and does on SIGTERM and on errors. Fragment files here are written by the
test in nginx-rtmp's layout (names are wall-clock milliseconds, index.m3u8 lists the closed
ones); tests/node_agent/recording/test_recorder.py runs it against a real nginx-rtmp."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from node_agent.recording.collector import SegmentWriter, collect
from node_agent.recording.fragments import Fragment, playlist_durations, scan, taken_from

T0 = 1_796_000_000.0  # 2026-12-01, a wall time in seconds


def approx(times: tuple[float, float]) -> object:
    """Wall times to the millisecond (pytest's relative default is ~30 min at this size)."""
    return pytest.approx(times, abs=1e-3)


def fragment_name(start: float) -> str:
    return f"{round(start * 1000)}.ts"


def write_stream(
    directory: Path, starts: list[float], listed: int, duration: float = 1.0
) -> list[Path]:
    """Fragment files starting at `starts` (each holding its own name as bytes), the first
    `listed` of them in index.m3u8 with `duration`."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for start in starts:
        path = directory / fragment_name(start)
        path.write_bytes(path.name.encode() + b";")
        paths.append(path)
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:1"]
    for start in starts[:listed]:
        lines += [f"#EXTINF:{duration:.3f},", fragment_name(start)]
    # As nginx does: a new playlist renamed into place.
    (directory / "index.m3u8.bak").write_text("\n".join(lines) + "\n")
    (directory / "index.m3u8.bak").replace(directory / "index.m3u8")
    return paths


def test_playlist_durations_read_extinf_and_ignore_junk() -> None:
    text = "#EXTM3U\n#EXTINF:1.000,\n1.ts\n#EXTINF:x,\n2.ts\n#EXTINF:0.480,\nsub/3.ts\n\n4.ts\n"
    assert playlist_durations(text) == {"1.ts": 1.0, "3.ts": 0.48}


def test_the_newest_unlisted_fragment_is_still_being_written(tmp_path: Path) -> None:
    starts = [T0, T0 + 1.0, T0 + 2.0, T0 + 3.02, T0 + 4.0]
    # Listed: the first three. The fourth is older than the newest, so finished (its
    # duration from the names); the fifth is the one nginx writes.
    write_stream(tmp_path, starts, listed=3)
    (tmp_path / "index.m3u8.bak").write_text("")
    (tmp_path / "stray.ts").write_bytes(b"x")
    found = scan(tmp_path)
    assert [f.start for f in found.closed] == starts[:4]
    assert [f.duration for f in found.closed][:3] == [1.0, 1.0, 1.0]
    assert found.closed[3].duration == pytest.approx(0.98)
    assert found.writing == tmp_path / fragment_name(starts[4])


def test_a_stream_that_ended_has_every_fragment_finished(tmp_path: Path) -> None:
    write_stream(tmp_path, [T0, T0 + 1.0], listed=2, duration=0.6)
    found = scan(tmp_path)
    assert [f.duration for f in found.closed] == [0.6, 0.6]
    assert found.writing is None


def test_a_missing_directory_has_nothing(tmp_path: Path) -> None:
    assert scan(tmp_path / "not-yet") == scan(tmp_path / "not-yet")
    assert scan(tmp_path / "not-yet").closed == []


@pytest.mark.parametrize("error", [-0.02, 0.0, 0.02])
def test_a_resumed_recorder_takes_the_next_fragment_whichever_side_its_clock_lands(
    error: float,
) -> None:
    fragments = [Fragment(Path(f"{i}.ts"), T0 + i, 1.0) for i in range(5)]
    # The previous file ended where fragment 2 begins, give or take clock noise.
    taken = taken_from(fragments, T0 + 2 + error)
    assert [f.path.name for f in taken] == ["2.ts", "3.ts", "4.ts"]


def test_segments_join_whole_fragments_and_follow_each_other(tmp_path: Path) -> None:
    paths = write_stream(tmp_path / "hls", [T0 + i * 1.001 for i in range(7)], listed=7)
    out = io.StringIO()
    writer = SegmentWriter(str(tmp_path / "seg-%05d.ts"), 3.0, out)
    for fragment in scan(tmp_path / "hls").closed:
        writer.add(fragment)
    writer.close()
    lines = [line.split(",") for line in out.getvalue().splitlines()]
    assert [name for name, _, _ in lines] == ["seg-00000.ts", "seg-00001.ts", "seg-00002.ts"]
    times = [(float(start), float(end)) for _, start, end in lines]
    # The clock is the media's: 3 + 3 + 1 s, back to back from the first fragment's start.
    assert times == [
        approx((T0, T0 + 3)),
        approx((T0 + 3, T0 + 6)),
        approx((T0 + 6, T0 + 7)),
    ]
    joined = b"".join(p.read_bytes() for p in paths)
    written = b"".join((tmp_path / name).read_bytes() for name, _, _ in lines)
    assert written == joined
    # A file's mtime is where its media ends: a crash before its line still dates it.
    assert (tmp_path / "seg-00001.ts").stat().st_mtime == pytest.approx(T0 + 6, abs=1e-3)


def test_a_hole_in_wall_time_ends_the_segment(tmp_path: Path) -> None:
    # The publisher stalled for 5 s between the second and third fragment.
    write_stream(tmp_path / "hls", [T0, T0 + 1, T0 + 7, T0 + 8], listed=4)
    out = io.StringIO()
    writer = SegmentWriter(str(tmp_path / "seg-%05d.ts"), 10.0, out)
    for fragment in scan(tmp_path / "hls").closed:
        writer.add(fragment)
    writer.close()
    times = [tuple(map(float, line.split(",")[1:])) for line in out.getvalue().splitlines()]
    assert times == [approx((T0, T0 + 2)), approx((T0 + 7, T0 + 9))]


def collector(hls: Path, out: Path, since: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "node_agent.recording.collector",
         "--fragments", str(hls), "--output", str(out / "seg-%05d.ts"),
         "--segment-seconds", "2", "--since", f"{since:.3f}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_until(predicate: object, what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_the_process_resumes_since_and_finishes_on_sigterm(tmp_path: Path) -> None:
    hls, out = tmp_path / "hls", tmp_path / "out"
    out.mkdir()
    starts = [T0 + i for i in range(6)]
    write_stream(hls, starts, listed=5)  # the sixth is being written
    proc = collector(hls, out, since=T0 + 1.0)
    try:
        wait_until(lambda: len(list(out.glob("*.ts"))) == 2, "two segments")
        # nginx closes the sixth fragment when the publish ends; SIGTERM finishes with it.
        write_stream(hls, starts, listed=6)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    lines = [line.split(",") for line in stdout.splitlines()]
    assert [(float(s), float(e)) for _, s, e in lines] == [
        approx((T0 + 1, T0 + 3)),
        approx((T0 + 3, T0 + 5)),
        approx((T0 + 5, T0 + 6)),
    ]
    assert (out / "seg-00000.ts").read_bytes() == b"".join(
        f"{fragment_name(s)};".encode() for s in starts[1:3]
    )


def test_a_write_error_exits_1_with_the_reason(tmp_path: Path) -> None:
    hls = tmp_path / "hls"
    write_stream(hls, [T0, T0 + 1], listed=2)
    proc = collector(hls, tmp_path / "no-such-dir", since=0)
    try:
        _, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1
    assert stderr.strip().splitlines()[-1].startswith("cannot record: [Errno 2]")


def test_it_starts_quickly(tmp_path: Path) -> None:
    # Stdlib only: a restarted recorder must not spend a second importing.
    code = "import node_agent.recording.collector, sys; print(sorted(sys.modules))"
    modules = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    for heavy in ("grpc", "camfleet", "aiohttp", "google.protobuf", "asyncio"):
        assert f"'{heavy}'" not in modules, heavy
    assert os.access(sys.executable, os.X_OK)


def test_finishing_stops_at_a_hole_left_for_the_next_publish(tmp_path: Path) -> None:
    # nginx restarted and the camera came back under the same key 6 s later: a run told to
    # stop leaves the new publish's fragments to the next recorder.
    hls = tmp_path / "hls"
    write_stream(hls, [T0, T0 + 1, T0 + 2, T0 + 8, T0 + 9], listed=5)
    out = io.StringIO()
    writer = SegmentWriter(str(tmp_path / "seg-%05d.ts"), 10.0, out)
    collect(hls, writer, since=T0, stopping=[True], idle_exit_s=30)
    times = [tuple(map(float, line.split(",")[1:])) for line in out.getvalue().splitlines()]
    assert times == [approx((T0, T0 + 3))]
    # Running, not stopping, it would have gone on into the new publish.
    out = io.StringIO()
    writer = SegmentWriter(str(tmp_path / "again-%05d.ts"), 10.0, out)
    collect(hls, writer, since=T0, stopping=[False], idle_exit_s=0.5)
    times = [tuple(map(float, line.split(",")[1:])) for line in out.getvalue().splitlines()]
    assert times == [approx((T0, T0 + 3)), approx((T0 + 8, T0 + 10))]


def test_finishing_takes_the_fragment_a_dead_nginx_left_unclosed(tmp_path: Path) -> None:
    # nginx died writing the fifth fragment (killed, or with the agent): it is never listed,
    # no newer one follows, and nothing writes to it any more. Finishing takes it, up to its
    # last write (its mtime), instead of losing up to a fragment of every camera.
    hls = tmp_path / "hls"
    paths = write_stream(hls, [T0 + i for i in range(5)], listed=4)
    os.utime(paths[4], (T0 + 4.6, T0 + 4.6))
    out = io.StringIO()
    writer = SegmentWriter(str(tmp_path / "seg-%05d.ts"), 10.0, out)
    collect(hls, writer, since=T0, stopping=[True], idle_exit_s=30)
    times = [tuple(map(float, line.split(",")[1:])) for line in out.getvalue().splitlines()]
    assert times == [approx((T0, T0 + 4.6))]
    assert (tmp_path / "seg-00000.ts").read_bytes() == b"".join(p.read_bytes() for p in paths)


def test_finishing_leaves_a_fragment_nginx_still_writes(tmp_path: Path) -> None:
    # Recording turned off while the camera goes on: nginx is still appending to the fragment
    # (a long GOP keeps it open past the finishing wait). It is the next recorder's, whole.
    hls = tmp_path / "hls"
    now = time.time()
    starts = [now - 4 + i for i in range(5)]
    paths = write_stream(hls, starts, listed=4)
    stop = threading.Event()

    def nginx_writing() -> None:
        while not stop.wait(0.05):
            with paths[4].open("ab") as fragment:
                fragment.write(b"+")

    writer_thread = threading.Thread(target=nginx_writing)
    writer_thread.start()
    try:
        out = io.StringIO()
        writer = SegmentWriter(str(tmp_path / "seg-%05d.ts"), 10.0, out)
        collect(hls, writer, since=starts[0], stopping=[True], idle_exit_s=30)
    finally:
        stop.set()
        writer_thread.join()
    times = [tuple(map(float, line.split(",")[1:])) for line in out.getvalue().splitlines()]
    assert times == [approx((starts[0], starts[0] + 4))]


def test_a_fragment_cut_off_by_nginx_death_ends_at_its_last_write(tmp_path: Path) -> None:
    # nginx died writing T0+2 (its last write at T0+2.5); a new nginx wrote T0+9 on when the
    # camera came back, and its playlist lists only its own fragments. The cut-off fragment
    # holds half a second, not the outage up to T0+9; fragments closed normally are unchanged.
    starts = [T0, T0 + 1, T0 + 2, T0 + 9, T0 + 10]
    paths = write_stream(tmp_path, starts, listed=0)
    for path, written in zip(paths, [T0 + 1, T0 + 1.96, T0 + 2.5, T0 + 10, T0 + 10.5], strict=True):
        os.utime(path, (written, written))
    (tmp_path / "index.m3u8").write_text(f"#EXTM3U\n#EXTINF:1.000,\n{fragment_name(T0 + 9)}\n")
    found = scan(tmp_path)
    assert [(f.start, f.duration) for f in found.closed] == [
        (T0, 1.0),
        (T0 + 1, 1.0),
        (T0 + 2, pytest.approx(0.5)),
        (T0 + 9, 1.0),
    ]
    assert found.writing == paths[4]
    # A run taking them ends its segment at the hole, and starts the next after it.
    out = io.StringIO()
    writer = SegmentWriter(str(tmp_path / "seg-%05d.ts"), 10.0, out)
    for fragment in found.closed:
        writer.add(fragment)
    writer.close()
    times = [tuple(map(float, line.split(",")[1:])) for line in out.getvalue().splitlines()]
    assert times == [approx((T0, T0 + 2.5)), approx((T0 + 9, T0 + 10))]
