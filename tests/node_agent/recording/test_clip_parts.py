"""Fetching a spread clip's parts and the concat list that joins them
(node_agent/recording/clip_parts.py), against a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from node_agent.recording.clip_parts import (
    PartFetchFailed,
    Piece,
    RemotePart,
    concat_plan,
    concat_text,
    fetch_parts,
    first_timestamp,
)
from tests.support.agent_node import FFMPEG, FFPROBE, run

T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
BODY = b"x" * 100_000


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_the_list_keeps_real_time_across_holes_and_overlaps(tmp_path: Path) -> None:
    pieces = [
        Piece(tmp_path / "a1.ts", at(0), at(2)),
        Piece(tmp_path / "a2.ts", at(2), at(4)),
        # a 3 s hole (a failover), then b overlapping itself with a late a segment
        Piece(tmp_path / "b1.ts", at(7), at(9)),
        Piece(tmp_path / "a3.ts", at(7.2), at(8.9)),  # inside b1: left out
        Piece(tmp_path / "b2.ts", at(8), at(11)),  # overlaps b1 by 1 s: starts at its end
    ]
    entries = concat_plan(pieces)
    assert [e.piece.path.name for e in entries] == ["a1.ts", "a2.ts", "b1.ts", "b2.ts"]
    # a2 lasts until b1 begins (the hole is kept as time); b1 stops where b2 begins, 1 s in,
    # which is a timestamp of its own (ffmpeg's outpoint): its first one (42.5) plus the second.
    text = concat_text(entries, {tmp_path / "b1.ts": 42.5})
    assert text.splitlines() == [
        "ffconcat version 1.0",
        f"file '{tmp_path}/a1.ts'",
        f"file '{tmp_path}/a2.ts'",
        "duration 5.000",
        f"file '{tmp_path}/b1.ts'",
        "outpoint 43.500",
        f"file '{tmp_path}/b2.ts'",
    ]
    # Its first timestamp unknown, b1 plays whole (the overlap plays twice).
    assert "outpoint" not in concat_text(entries, {})
    # Entered 0.5 s in: the first file's inpoint, also a timestamp of its own.
    text = concat_text(entries, {tmp_path / "a1.ts": 1.4}, 0.5)
    assert text.splitlines()[1:3] == [f"file '{tmp_path}/a1.ts'", "inpoint 1.900"]


async def _segments(directory: Path, prefix: str, offset_s: float) -> list[Path]:
    """Three 2 s MPEG-TS segments of one recording whose timestamps go on from `offset_s`
    (each recorder has its own timeline). Encoded apart, so without B-frames: each file's own
    reordering delay would overlap the next one's timestamps, which one recorder's segments
    never do."""
    paths = []
    for i in range(3):
        path = directory / f"{prefix}{i}.ts"
        code, out = await run(
            [
                FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                "-i", "testsrc=size=160x90:rate=15", "-t", "2", "-c:v", "libx264",
                "-g", "15", "-bf", "0", "-output_ts_offset", str(offset_s + 2 * i),
                "-f", "mpegts", str(path),
            ],
            60,
        )  # fmt: skip
        assert code == 0, out
        paths.append(path)
    return paths


async def test_two_recordings_overlapping_and_with_a_hole_join_in_real_time(
    tmp_path: Path,
) -> None:
    a = await _segments(tmp_path, "a", 0)
    b = await _segments(tmp_path, "b", 500)
    c = await _segments(tmp_path, "c", 9000)
    pieces = [
        *(Piece(p, at(2 * i), at(2 * i + 2)) for i, p in enumerate(a)),  # 0-6
        # b started at 5 (make-before-break): a's last second is cut, b plays whole
        *(Piece(p, at(5 + 2 * i), at(7 + 2 * i)) for i, p in enumerate(b)),  # 5-11
        # c after a 4 s hole
        *(Piece(p, at(15 + 2 * i), at(17 + 2 * i)) for i, p in enumerate(c)),  # 15-21
    ]
    entries = concat_plan(pieces)
    starts = {
        e.piece.path: t
        for e in entries
        if e.cut_s is not None and (t := await first_timestamp(FFPROBE, e.piece.path)) is not None
    }
    assert list(starts) == [a[2]] and starts[a[2]] > 4
    listing = tmp_path / "clip.ffconcat"
    listing.write_text(concat_text(entries, starts))
    clip = tmp_path / "clip.mp4"
    code, out = await run(
        [
            FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "concat",
            "-safe", "0", "-i", str(listing), "-c", "copy", "-f", "mp4", str(clip),
        ],
        60,
    )  # fmt: skip
    assert code == 0, out
    code, out = await run(
        [FFPROBE, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(clip)]
    )
    assert code == 0 and abs(float(out) - 21.0) <= 0.5, out
    code, out = await run([FFMPEG, "-v", "error", "-i", str(clip), "-f", "null", "-"], 60)
    assert code == 0 and not out.strip(), out


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def whole(_: web.Request) -> web.Response:
        return web.Response(body=BODY)

    async def missing(_: web.Request) -> web.Response:
        return web.Response(status=404, text="no such recording")

    async def moved(_: web.Request) -> web.Response:
        raise web.HTTPFound("http://127.0.0.1:9/elsewhere")

    async def dies(request: web.Request) -> web.StreamResponse:
        # Says 100,000 bytes, sends 1,000, then the node is gone.
        response = web.StreamResponse(headers={"Content-Length": str(len(BODY))})
        await response.prepare(request)
        await response.write(BODY[:1000])
        assert request.transport is not None
        request.transport.close()
        return response

    async def stalls(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(BODY[:10])
        await asyncio.sleep(3)
        return response

    app = web.Application()
    for path, handler in {
        "/whole": whole,
        "/missing": missing,
        "/moved": moved,
        "/dies": dies,
        "/stalls": stalls,
    }.items():
        app.router.add_get(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def part(url: str, size: int = len(BODY), i: int = 0) -> RemotePart:
    return RemotePart(f"r{i}", at(i * 2), at(i * 2 + 2), size, url, "node-b")


async def test_parts_are_fetched_in_order(server: str, tmp_path: Path) -> None:
    pieces = await fetch_parts(
        [part(f"{server}/whole", i=i) for i in range(4)], tmp_path / "p", budget=10**7
    )
    assert [p.start for p in pieces] == [at(0), at(2), at(4), at(6)]
    assert all(p.path.read_bytes() == BODY for p in pieces)


@pytest.mark.parametrize(
    ("path", "size", "says"),
    [
        ("/missing", len(BODY), "HTTP 404: no such recording"),
        ("/moved", len(BODY), "HTTP 302"),  # no redirect is followed
        ("/dies", len(BODY), "broke mid-file, after 1000 bytes"),
        ("/whole", 1000, "larger than the 1000 bytes indexed"),
        ("/whole", 200_000, "100000 of its 200000 bytes arrived"),
    ],
)
async def test_a_part_that_cannot_be_fetched_names_its_node(
    server: str, tmp_path: Path, path: str, size: int, says: str
) -> None:
    with pytest.raises(PartFetchFailed) as failed:
        await fetch_parts([part(server + path, size)], tmp_path / "p", budget=10**7)
    text = str(failed.value)
    assert "node node-b" in text and "2026-12-06T10:00:00Z" in text and says in text, text


async def test_a_stalled_node_times_out(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("node_agent.recording.clip_parts.READ_TIMEOUT_S", 0.5)
    with pytest.raises(PartFetchFailed, match="node node-b"):
        await fetch_parts([part(f"{server}/stalls")], tmp_path / "p", budget=10**7)


async def test_only_http_urls_and_within_the_budget(tmp_path: Path) -> None:
    with pytest.raises(PartFetchFailed, match="not http"):
        await fetch_parts([part("file:///etc/passwd")], tmp_path / "p", budget=10**7)
    with pytest.raises(PartFetchFailed, match="export cache"):
        await fetch_parts([part("http://127.0.0.1:9/x")], tmp_path / "p", budget=10)
