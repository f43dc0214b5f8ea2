"""`camfleet recordings` against the streaming stack (`python -m server` and
`python -m node_agent` with nginx and ffmpeg, tests/support/stack.py): a camera publishes, its
segments are listed and downloaded byte for byte from the node, a download interrupted by Ctrl-C
or by a full disk (a small tmpfs) keeps its .part and the same command resumes it to identical
bytes, a clip is exported. On SQLite (recording and its index are tested on both backends in
tests/e2e/test_recording.py)."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sqlite3
import subprocess
import time
from collections.abc import AsyncIterator
from datetime import UTC
from pathlib import Path

import pytest
from camfleet.v1 import camera_pb2, recording_pb2

from tests.cli.cli_process import Cli, end
from tests.e2e.test_recording import ffprobe_duration, settled, until_listed
from tests.support.platform import ADMIN_PASSWORD, Platform
from tests.support.recording_node import camera as publishing
from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.timeout(600)

SEGMENT_S = 2
STREAM_S = 14


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    async with running_stack("sqlite", ["--segment-seconds", str(SEGMENT_S)]) as running:
        yield running


def node_file(stack: Stack, recording_id: str) -> Path:
    """The segment's file on the node (hot tier), from the node's own index."""
    db = sqlite3.connect(f"file:{stack.node_dir / 'recordings.db'}?mode=ro", uri=True)
    try:
        (path,) = db.execute("SELECT path FROM segments WHERE id = ?", (recording_id,)).fetchone()
    finally:
        db.close()
    return stack.node_dir / "recordings" / path


def iso(ts: object) -> str:
    return ts.ToDatetime(UTC).isoformat()  # type: ignore[attr-defined]


async def recorded(stack: Stack) -> tuple[str, list[recording_pb2.Recording]]:
    """A camera that published STREAM_S seconds, and its segments once all are indexed."""
    resp = await stack.cameras.CreateCamera(
        camera_pb2.CreateCameraRequest(
            camera=camera_pb2.Camera(name="cli-rec", recording_enabled=True)
        ),
        metadata=stack.admin,
    )
    camera = resp.camera
    async with publishing(stack.rtmp_url(camera.stream_key), seconds=STREAM_S) as publisher:
        await until_listed(stack, camera.id, 2)
        await asyncio.to_thread(publisher.wait, STREAM_S + 60)
    # Settled, and still so a segment's length later (the last segment closes after the
    # publisher has gone).
    found = await settled(stack, camera.id)
    deadline = time.monotonic() + 60
    while True:
        await asyncio.sleep(SEGMENT_S * 1.5)
        again = await settled(stack, camera.id)
        if [r.id for r in again] == [r.id for r in found]:
            return camera.id, found
        assert time.monotonic() < deadline, "the segments never stopped changing"
        found = again


def size_of(path: Path) -> int:
    return path.stat().st_size if path.exists() else -1


def same_bytes(a: Path, b: Path) -> bool:
    return a.read_bytes() == b.read_bytes()


async def until_size(path: Path, at_least: int, within_s: float = 60.0) -> None:
    deadline = time.monotonic() + within_s
    while size_of(path) < at_least:
        assert time.monotonic() < deadline, f"{path} did not reach {at_least} bytes"
        await asyncio.sleep(0.05)


async def test_recordings_listed_downloaded_resumed_and_exported(
    stack: Stack, tmp_path: Path
) -> None:
    cli = Cli(tmp_path / "cli")
    await cli.login(stack.target, "admin", ADMIN_PASSWORD)
    camera_id, found = await recorded(stack)

    # list: every indexed segment, oldest first.
    listed = await cli.run("-o", "json", "recordings", "list", camera_id, "--start", "1h")
    assert listed.code == 0, listed
    assert [r["id"] for r in json.loads(listed.stdout)] == [r.id for r in found]
    table = await cli.run("recordings", "list", camera_id, "--start", "1h")
    assert found[0].id in table.stdout and "HOT" in table.stdout, table

    # timeline: spans and the coverage line.
    line = await cli.run(
        "recordings", "timeline", camera_id, "--start", iso(found[0].start_time),
        "--end", iso(found[-1].end_time),
    )  # fmt: skip
    assert line.code == 0, line
    assert "recorded" in line.stdout and "coverage" in line.stdout, line

    # download: byte for byte the node's file.
    target = max(found, key=lambda r: r.size_bytes)
    original = node_file(stack, target.id).read_bytes()
    assert len(original) == target.size_bytes > 200_000
    whole = tmp_path / "whole.ts"
    got = await cli.run("recordings", "download", target.id, "-O", str(whole))
    assert got.code == 0, got
    assert whole.read_bytes() == original
    assert "SHA-256 checked" in got.stdout, got

    # Ctrl-C halfway: exit code 130, the .part kept, and the same command finishes it.
    dest = tmp_path / "interrupted.ts"
    part = tmp_path / "interrupted.ts.part"
    args = ("recordings", "download", target.id, "-O", str(dest))
    child = await cli.start(*args, "--limit-rate", "64KiB")
    try:
        await until_size(part, 70_000)
        child.send_signal(signal.SIGINT)
        async with asyncio.timeout(60):
            _, err = await child.communicate()
    finally:
        end(child)
    assert child.returncode == 130, err.decode()
    assert "run the same command again to resume" in err.decode(), err.decode()
    assert not dest.exists()
    kept = part.stat().st_size
    assert 70_000 <= kept < len(original)
    assert part.read_bytes() == original[:kept]
    resumed = await cli.run(*args)
    assert resumed.code == 0, resumed
    assert f"resumed at byte {kept}" in resumed.stdout, resumed
    assert dest.read_bytes() == original
    assert not part.exists()

    # A full disk (a 64 KiB tmpfs; we are root): the .part is kept with a sentence saying so;
    # with room again (the same filesystem grown), the same command finishes it.
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "camfleet-test", small], check=True)
    try:
        full = small / "full.ts"
        limited = await cli.run("recordings", "download", target.id, "-O", str(full))
        assert limited.code == 1, limited
        assert "No room left to write full.ts" in limited.stderr, limited
        assert "Traceback" not in limited.stderr
        kept_text = re.search(r"(\d+) bytes are kept in full\.ts\.part", limited.stderr)
        assert kept_text, limited
        kept = int(kept_text.group(1))
        assert 0 < kept < len(original)
        assert (small / "full.ts.part").read_bytes() == original[:kept]
        subprocess.run(["mount", "-o", "remount,size=64m", small], check=True)
        finished = await cli.run("recordings", "download", target.id, "-O", str(full))
        assert finished.code == 0, finished
        assert f"resumed at byte {kept}" in finished.stdout, finished
        assert full.read_bytes() == original
    finally:
        subprocess.run(["umount", "--lazy", small], check=False)

    # Every segment of a range into a directory; run again, nothing is fetched twice.
    folder = tmp_path / "all"
    many = await cli.run(
        "-o", "json", "recordings", "download", "--camera", camera_id, "--start",
        iso(found[0].start_time), "--end", iso(found[-1].end_time), "-O", str(folder),
    )  # fmt: skip
    assert many.code == 0, many
    rows = json.loads(many.stdout)
    assert [r["recording_id"] for r in rows] == [r.id for r in found]
    for row, recording in zip(rows, found, strict=True):
        assert same_bytes(Path(row["path"]), node_file(stack, recording.id))
    again = await cli.run(
        "-o", "json", "recordings", "download", "--camera", camera_id, "--start",
        iso(found[0].start_time), "--end", iso(found[-1].end_time), "-O", str(folder),
    )  # fmt: skip
    assert all(r["skipped"] for r in json.loads(again.stdout)), again

    # export: an MP4 of the asked range (the middle segments' span).
    clip = tmp_path / "clip.mp4"
    empty = await cli.run(
        "recordings", "export", camera_id, "--start", iso(found[1].start_time),
        "--end", iso(found[1].start_time), "-O", str(clip),
    )  # fmt: skip
    assert empty.code == 2 and "--end must be after --start" in empty.stderr, empty
    t0 = found[1].start_time.ToDatetime(UTC)
    t1 = found[-2].end_time.ToDatetime(UTC)
    exported = await cli.run(
        "recordings", "export", camera_id, "--start", t0.isoformat(), "--end", t1.isoformat(),
        "-O", str(clip),
    )  # fmt: skip
    assert exported.code == 0, exported
    duration = await ffprobe_duration(str(clip))
    assert abs(duration - (t1 - t0).total_seconds()) <= 1.0, duration


async def test_download_mistakes_are_sentences(platform: Platform, tmp_path: Path) -> None:
    cli = Cli(tmp_path / "cli")
    await cli.login(platform.target, "admin", ADMIN_PASSWORD)
    missing = await cli.run("recordings", "download", "00000000-0000-4000-8000-000000000000")
    assert missing.code == 5, missing
    both = await cli.run("recordings", "download", "x", "--camera", "y")
    assert both.code == 2 and "either a recording id or --camera" in both.stderr, both
    rate = await cli.run("recordings", "download", "x", "--limit-rate", "fast")
    assert rate.code == 2 and "--limit-rate" in rate.stderr, rate
    when = await cli.run("recordings", "list", "x", "--start", "yesterday-ish")
    assert when.code == 2 and "is not a time" in when.stderr, when
