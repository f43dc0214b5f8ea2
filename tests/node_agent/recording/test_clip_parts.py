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
    ConcatEntry,
    FileTimes,
    PartFetchFailed,
    Piece,
    RemotePart,
    concat_plan,
    concat_text,
    fetch_parts,
    file_times,
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
    # b1's frames every 0.25 s, its P-frame at 43.5 decoded before the B-frame at 43.25 (shown
    # after the junction: left out, and so the B-frame too); b2's first frame decodes 0.1 s
    # before it shows. b1 keeps its length: the junction stays at b2's start.
    b1 = FileTimes(
        42.5, ((42.25, 42.5), (42.5, 42.75), (42.75, 43.0), (43.0, 43.5), (43.25, 43.25))
    )
    b2 = FileTimes(7.0, ((6.9, 7.0), (7.0, 7.5)))
    text = concat_text(entries, {tmp_path / "b1.ts": b1, tmp_path / "b2.ts": b2})
    assert text.splitlines() == [
        "ffconcat version 1.0",
        f"file '{tmp_path}/a1.ts'",
        f"file '{tmp_path}/a2.ts'",
        "duration 5.000",
        f"file '{tmp_path}/b1.ts'",
        "outpoint 42.999500",
        "duration 1.000000",
        f"file '{tmp_path}/b2.ts'",
    ]
    # Its first timestamp unknown, b1 plays whole (the overlap plays twice).
    assert "outpoint" not in concat_text(entries, {})
    # Entered 0.5 s in: the first file's inpoint, also a timestamp of its own.
    text = concat_text(entries, {tmp_path / "a1.ts": FileTimes(1.4)}, 0.5)
    assert text.splitlines()[1:3] == [f"file '{tmp_path}/a1.ts'", "inpoint 1.900"]


def test_the_list_stays_on_one_node_while_its_recording_goes_on(tmp_path: Path) -> None:
    """What CI's failover clip met: node a came back and recorded two seconds more before it
    heard that the camera had moved to b. b's own next file goes on from where b is: a's late
    file is not switched to and from."""
    pieces = [
        Piece(tmp_path / "a1.ts", at(0), at(2), "a"),
        Piece(tmp_path / "b1.ts", at(4), at(6), "b"),  # after a 2 s hole
        Piece(tmp_path / "b2.ts", at(6), at(8), "b"),
        Piece(tmp_path / "a2.ts", at(6.65), at(8.65), "a"),  # a back, late
        Piece(tmp_path / "b3.ts", at(8), at(10), "b"),
        Piece(tmp_path / "a3.ts", at(8.65), at(8.7), "a"),
    ]
    entries = concat_plan(pieces)
    assert [e.piece.path.name for e in entries] == ["a1.ts", "b1.ts", "b2.ts", "b3.ts"]
    assert [(e.cut_s, e.length_s) for e in entries] == [(None, 4.0), (None, None)] + [
        (None, None)
    ] * 2
    # A make-before-break move: a goes on until its recording ends, then b takes over.
    pieces = [
        Piece(tmp_path / "a1.ts", at(0), at(2), "a"),
        Piece(tmp_path / "b1.ts", at(1), at(3), "b"),
        Piece(tmp_path / "a2.ts", at(2), at(4), "a"),
        Piece(tmp_path / "b2.ts", at(3), at(5), "b"),
        Piece(tmp_path / "a3.ts", at(4), at(4.4), "a"),  # stopped
        Piece(tmp_path / "b3.ts", at(5), at(7), "b"),
    ]
    entries = concat_plan(pieces)
    assert [e.piece.path.name for e in entries] == ["a1.ts", "a2.ts", "b2.ts", "b3.ts"]
    assert entries[1].cut_s == 1.0


async def _recording(directory: Path, prefix: str, offset_s: float) -> list[Path]:
    """Six 2 s MPEG-TS segments of one recording, as a recorder writes them: one encode of a
    camera-like stream (15 fps, a keyframe every 2 s, B-frames) cut into files, its timestamps
    going on from `offset_s` (each recorder has its own timeline)."""
    code, out = await run(
        [
            FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
            "-i", "testsrc=size=160x90:rate=15", "-t", "12", "-c:v", "libx264",
            "-preset", "veryfast", "-g", "30", "-bf", "3", "-output_ts_offset", str(offset_s),
            "-f", "segment", "-segment_time", "2", "-segment_format", "mpegts",
            str(directory / f"{prefix}%d.ts"),
        ],
        60,
    )  # fmt: skip
    assert code == 0, out
    return [directory / f"{prefix}{i}.ts" for i in range(6)]


async def _joined(entries: list[ConcatEntry], directory: Path) -> tuple[float, str]:
    """The clip the list makes (a stream copy, as the export's): its length, and what
    decoding it whole complains of."""
    times = {
        path: found
        for e in entries
        if (found := await file_times(FFPROBE, (path := e.piece.path))) is not None
    }
    listing = directory / "clip.ffconcat"
    listing.write_text(concat_text(entries, times))
    clip = directory / "clip.mp4"
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
    assert code == 0, out
    length = float(out)
    code, out = await run([FFMPEG, "-v", "error", "-i", str(clip), "-f", "null", "-"], 60)
    return length, out.strip() if code == 0 else f"exit {code}: {out}"


async def test_two_recordings_overlapping_and_with_a_hole_join_in_real_time(
    tmp_path: Path,
) -> None:
    """Node a recorded 0-8 s; node b began at a moment in a's last file (make-before-break:
    its files overlap a's); after a hole, node c from 20 s. For every such moment, the clip is
    24 s long in real time and decodes with no frame out of order or shown twice (B-frames on
    both sides of the junction, the junction off a's frame grid)."""
    a = await _recording(tmp_path, "a", 0)
    b = await _recording(tmp_path, "b", 500)
    c = await _recording(tmp_path, "c", 9000)
    assert (await file_times(FFPROBE, b[0])).lead > 0.05  # type: ignore[union-attr]
    complaints = []
    for takeover in (6.55, 6.65, 6.8, 7.0, 7.1, 7.25, 7.33, 7.45):  # overlaps over 0.5 s
        pieces = [
            *(Piece(p, at(2 * i), at(2 * i + 2), "a") for i, p in enumerate(a[:4])),  # 0-8
            *(
                Piece(p, at(takeover + 2 * i), at(takeover + 2 * i + 2), "b")
                for i, p in enumerate(b[:3])
            ),
            *(Piece(p, at(20 + 2 * i), at(22 + 2 * i), "c") for i, p in enumerate(c[:2])),  # 20-24
        ]
        entries = concat_plan(pieces)
        # a plays until its files end, then b (cutting a's last one short), and c after the hole.
        assert [e.piece.path for e in entries[:4]] == a[:4]
        assert entries[3].cut_s is not None and [e.piece.path for e in entries[-2:]] == c[:2]
        assert {e.piece.node for e in entries[4:-2]} == {"b"}
        length, complaint = await _joined(entries, tmp_path)
        assert abs(length - 24.0) <= 0.5, (takeover, length)
        if complaint:
            complaints.append(f"b from {takeover} s: {complaint}")
    assert not complaints, "\n".join(complaints)


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
