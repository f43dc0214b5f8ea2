"""End to end: the live ladder. A camera publishes to the node agent's nginx-rtmp; the signed
ladder URL from GetStreamUrls starts one ffmpeg on the node that copies the source and encodes
360p; the master playlist lists every rung with CODECS; the rungs' segments start at the same
instants; unsigned or tampered URLs are refused; a rung above the source is skipped with a
reason, and an odd-sized source still gets its 360p rung.

Real processes throughout (control plane, node agent, nginx-rtmp, ffmpeg). One backend: the
ladder lives on the node, and the database only stores the camera's rungs.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest
from camfleet.v1 import camera_pb2
from google.protobuf import field_mask_pb2

from harness.processes import stop_by_pid
from tests.support.agent_node import FFMPEG, FFPROBE, run
from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.timeout(420)

_STREAM_INF = re.compile(r"^#EXT-X-STREAM-INF:(?P<attrs>.*)\n(?P<uri>\S+)$", re.MULTILINE)


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    async with running_stack("sqlite") as running:
        yield running
        # Shown by pytest only when the test failed: what the node and control plane said.
        print(running.log_text()[-6000:])


@asynccontextmanager
async def publishing(
    url: str, size: str, pix_fmt: str = "yuv420p", seconds: float = 300
) -> AsyncIterator[subprocess.Popen[bytes]]:
    """A camera: test pattern at 25 fps with a tone (AAC), a keyframe every second; `size`
    exactly (testsrc2 itself rounds odd sizes down, a crop does not)."""
    width, height = (int(v) for v in size.split("x"))
    argv = [
        FFMPEG,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-re",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={width + 1}x{height + 1}:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=44100",
        "-t",
        str(seconds),
        # In the output's pixel format: crop rounds to its input's chroma subsampling.
        "-vf",
        f"format={pix_fmt},crop={width}:{height}",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "25",
        "-pix_fmt",
        pix_fmt,
        "-c:a",
        "aac",
        "-b:a",
        "64k",
        "-f",
        "flv",
        url,
    ]  # fmt: skip
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        stop_by_pid(proc, grace_s=5)


async def fetch(url: str) -> tuple[int, bytes]:
    """GET `url` with a generous timeout (the first master request waits for the ladder)."""
    timeout = aiohttp.ClientTimeout(total=90)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as resp:
        return resp.status, await resp.read()


async def until_ok(url: str, within_s: float = 120.0, want: bytes = b"") -> bytes:
    """The body of `url` once it answers 200 (and holds `want`)."""
    async with asyncio.timeout(within_s):
        while True:
            status, body = await fetch(url)
            if status == 200 and want in body:
                return body
            await asyncio.sleep(0.5)


async def stream_urls(stack: Stack, camera_id: str) -> camera_pb2.GetStreamUrlsResponse:
    return await stack.cameras.GetStreamUrls(
        camera_pb2.GetStreamUrlsRequest(id=camera_id), metadata=stack.admin
    )


def variants(master: str) -> list[tuple[dict[str, str], str]]:
    """(attributes, URI) of each rung of a master playlist."""
    out = []
    for m in _STREAM_INF.finditer(master):
        attrs = dict(re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', m["attrs"]))
        out.append(({k: v.strip('"') for k, v in attrs.items()}, m["uri"]))
    return out


def segments(playlist: str) -> dict[int, str]:
    """Segment number (as ffmpeg names them, vN_<number>.ts) -> file name."""
    return {int(m[1]): m[0] for m in re.finditer(r"^v\d+_(\d+)\.ts$", playlist, re.MULTILINE)}


async def start_time(data: bytes, path: Path) -> float:
    """The first video packet's presentation time in a segment."""
    await asyncio.to_thread(path.write_bytes, data)
    code, out = await run(
        [FFPROBE, "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=start_time", "-of", "json", str(path)],
        limit_s=30,
    )  # fmt: skip
    assert code == 0, out
    return float(json.loads(out[out.index("{") :])["streams"][0]["start_time"])


async def test_master_lists_both_rungs_with_codecs_and_aligned_segments(
    stack: Stack, tmp_path: Path
) -> None:
    camera = await stack.new_camera("ladder-lobby")
    # Unset: the streaming settings' default, the source copied plus 360p.
    assert list(camera.live_ladder) == []
    async with publishing(stack.rtmp_url(camera.stream_key), "1280x720"):
        urls = await stream_urls(stack, camera.id)
        assert urls.hls_ladder_url.endswith("/master.m3u8"), urls
        # Signed exactly as the plain HLS URL: same camera, grant, expiry and signature.
        assert urls.hls_ladder_url.replace("/abr/", "/hls/").removesuffix(
            "master.m3u8"
        ) == urls.hls_playback_url.removesuffix("index.m3u8")
        master = (await until_ok(urls.hls_ladder_url, want=b"STREAM-INF")).decode()
        rungs = variants(master)
        assert [a["RESOLUTION"] for a, _ in rungs] == ["1280x720", "640x360"], master
        # The copied rung's CODECS come from ffprobe (ffmpeg leaves them out for a copy).
        for attrs, _ in rungs:
            assert re.fullmatch(r"avc1\.[0-9a-f]{6},mp4a\.40\.2", attrs["CODECS"]), master
        assert rungs[1][0]["CODECS"].startswith("avc1.4d"), master  # the 360p rung is Main
        # A player ranks rungs by BANDWIDTH: the copy must not look cheaper than 360p.
        assert int(rungs[0][0]["BANDWIDTH"]) > int(rungs[1][0]["BANDWIDTH"]), master

        base = urls.hls_ladder_url.rsplit("/", 1)[0]
        # Both rungs hold the same segment numbers, and each pair starts at the same instant.
        async with asyncio.timeout(120):
            while True:
                high = segments((await until_ok(f"{base}/{rungs[0][1]}")).decode())
                low = segments((await until_ok(f"{base}/{rungs[1][1]}")).decode())
                # The first segment may begin before the source's first keyframe reached the
                # encoder (it is cut from what arrived): judge the ones after it.
                common = sorted(n for n in set(high) & set(low) if n > 1)
                if len(common) >= 3:
                    break
                await asyncio.sleep(0.5)
        fetched = {}
        for number in common[-3:]:
            for name in (high[number], low[number]):
                status, data = await fetch(f"{base}/{name}")
                assert status == 200 and len(data) > 1000, (name, status)
                fetched[name] = data
        for number in common[-3:]:
            starts = [
                await start_time(fetched[name], tmp_path / name)
                for name in (high[number], low[number])
            ]
            # One frame at 25 fps is 40 ms: the rungs' segments begin on the same frame.
            assert abs(starts[0] - starts[1]) < 0.040, (number, starts)


async def test_ladder_url_refuses_unsigned_and_tampered(stack: Stack) -> None:
    camera = await stack.new_camera("ladder-guarded")
    async with publishing(stack.rtmp_url(camera.stream_key), "640x360"):
        urls = await stream_urls(stack, camera.id)
        await until_ok(urls.hls_ladder_url, want=b"STREAM-INF")
        url = urlsplit(urls.hls_ladder_url)
        origin = f"{url.scheme}://{url.netloc}"
        parts = url.path.split("/")  # "", abr, camera, grant, expires, signature, file
        signature = parts[5]
        tampered = [*parts[:5], ("A" if signature[0] != "A" else "B") + signature[1:], parts[6]]
        other_expiry = [*parts[:4], str(int(parts[4]) + 1), *parts[5:]]
        for path in (
            f"/abr/{camera.id}/master.m3u8",
            "/".join(tampered),
            "/".join(other_expiry),
            f"/abr/{camera.id}/../hls/master.m3u8",
        ):
            status, _ = await fetch(origin + path)
            assert status == 403, (path, status)
        # A signed URL of another camera does not open this one's ladder.
        other = await stack.new_camera("ladder-other")
        other_urls = await stream_urls(stack, other.id)
        swapped = urlsplit(other_urls.hls_ladder_url).path.replace(other.id, camera.id)
        status, _ = await fetch(origin + swapped)
        assert status == 403


async def test_rung_above_source_is_skipped_and_odd_source_scaled(stack: Stack) -> None:
    camera = await stack.new_camera("ladder-odd")
    await stack.cameras.UpdateCamera(
        camera_pb2.UpdateCameraRequest(
            camera=camera_pb2.Camera(id=camera.id, live_ladder=["source", "480p", "360p"]),
            update_mask=field_mask_pb2.FieldMask(paths=["live_ladder"]),
        ),
        metadata=stack.admin,
    )
    # 641x361, 4:4:4 (x264 allows odd sizes only without chroma subsampling).
    async with publishing(stack.rtmp_url(camera.stream_key), "641x361", pix_fmt="yuv444p"):
        urls = await stream_urls(stack, camera.id)
        master = (await until_ok(urls.hls_ladder_url, want=b"STREAM-INF")).decode()
        assert "# rung 480p skipped: above the source's 641x361 (no upscaling)" in master
        rungs = variants(master)
        assert [a["RESOLUTION"] for a, _ in rungs] == ["641x361", "640x360"], master
        # High 4:4:4 Predictive for the copy, Main for the even-sized 360p rung.
        assert rungs[0][0]["CODECS"].startswith("avc1.f4"), master
        assert rungs[1][0]["CODECS"].startswith("avc1.4d"), master


async def test_bad_ladders_are_refused_with_the_field_named(stack: Stack) -> None:
    for ladder, fragment in (
        (["source", "361p"], "is not a rung"),
        (["source", "360p", "360p"], "twice"),
        (["source", "240p", "360p", "480p", "720p"], "at most 4"),
    ):
        with pytest.raises(Exception) as caught:
            await stack.cameras.CreateCamera(
                camera_pb2.CreateCameraRequest(
                    camera=camera_pb2.Camera(name=f"bad-{len(ladder)}", live_ladder=ladder)
                ),
                metadata=stack.admin,
            )
        err = caught.value
        assert err.code().name == "INVALID_ARGUMENT", err  # type: ignore[attr-defined]
        details = err.details()  # type: ignore[attr-defined]
        assert "camera.live_ladder" in details and fragment in details, details
