"""End to end: WebRTC through WHEP on a real node (control plane, agent, nginx-rtmp, ffmpeg),
watched by an aiortc peer connection: the camera's H.264 arrives as it was published (no
re-encode), one ffmpeg per camera serves every viewer and ends with the last one, the number
of sessions is bounded, and bad offers and second DELETEs get a sentence."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import subprocess
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from camfleet.v1 import camera_pb2

from harness.processes import process_tree, stop_by_pid
from node_agent.nginx.config import WHEP_BUSY
from tests.support.agent_node import FFMPEG
from tests.support.stack import Stack, running_stack
from tests.support.whep_client import Viewer, delete, post_offer, until

pytestmark = pytest.mark.timeout(300)

MAX_SESSIONS = 2


@dataclass
class Live:
    """The module's stack and one camera publishing to it."""

    stack: Stack
    camera: camera_pb2.Camera
    whep_url: str
    publisher: subprocess.Popen[bytes]


def publisher_argv(url: str, *, audio: bool = False) -> list[str]:
    """A camera's kind of H.264 (no B-frames, a keyframe a second) at 640x360, 25 fps; with
    `audio`, a 440 Hz tone as AAC too."""
    tone = ["-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"] if audio else []
    return [
        FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error",
        "-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", *tone,
        "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-g", "25",
        *(["-c:a", "aac", "-b:a", "64k"] if audio else []),
        "-f", "flv", url,
    ]  # fmt: skip


async def whep_url(stack: Stack, camera_id: str) -> str:
    """The camera's signed WHEP URL, as the control plane gives it."""
    urls = await stack.cameras.GetStreamUrls(
        camera_pb2.GetStreamUrlsRequest(id=camera_id), metadata=stack.admin
    )
    # Beside the HLS URL, on the same node, under the same signature.
    hls = urlsplit(urls.hls_playback_url)
    whep = urlsplit(urls.whep_url)
    assert (whep.scheme, whep.netloc) == (hls.scheme, hls.netloc) == ("http", stack.http_listen)
    assert whep.path == hls.path.replace("/hls/", "/whep/", 1).removesuffix("/index.m3u8")
    return urls.whep_url


@pytest.fixture(scope="module")
async def live() -> AsyncIterator[Live]:
    async with running_stack("sqlite", ["--webrtc-max-sessions", str(MAX_SESSIONS)]) as stack:
        camera = await stack.new_camera("whep-lobby")
        proc = subprocess.Popen(
            publisher_argv(stack.rtmp_url(camera.stream_key)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = await whep_url(stack, camera.id)
            yield Live(stack, camera, url, proc)
        finally:
            stop_by_pid(proc, grace_s=5)


def feed_pids(stack: Stack) -> list[int]:
    """PIDs of the agent's WebRTC feed ffmpegs (the ones remuxing to Annex B on a pipe)."""
    assert stack.agent is not None
    pids = []
    for pid in process_tree(stack.agent.pid):
        with contextlib.suppress(OSError):
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if argv and argv[0].endswith(b"ffmpeg") and b"h264_mp4toannexb" in argv:
                pids.append(pid)
    return pids


def agent_log(stack: Stack) -> str:
    """Everything the agent logged so far, then what its feed ffmpegs said."""
    logs = [p for p in stack.logs if p.name.startswith("agent")]
    logs += sorted((stack.node_dir / "logs").glob("webrtc-*.log"))
    return "".join(p.read_text(errors="replace") for p in logs)


async def viewer_of(live: Live) -> Viewer:
    """A connected viewer, once the camera is live on the node (404 until then)."""
    for _ in range(120):
        viewer = Viewer(live.whep_url)
        offer = await viewer.offer()
        status, headers, body = await post_offer(live.whep_url, offer)
        if status == 201:
            await viewer.accept(headers["Location"], body)
            return viewer
        await viewer.close()
        assert status == 404, (status, body)
        await asyncio.sleep(0.5)
    raise AssertionError("the camera never went live on the node")


async def test_frames_arrive_over_h264_and_the_last_viewer_stops_the_feed(live: Live) -> None:
    viewer = await viewer_of(live)
    try:
        await viewer.until_frames(25)
        video = viewer.answer.split("m=video", 1)[1]
        assert "H264/90000" in video and "VP8" not in video, viewer.answer
        assert viewer.sizes == {(640, 360)}
        (pid,) = feed_pids(live.stack)
        status, text = await delete(viewer.session_url())
        assert status == 200, text
        status, text = await delete(viewer.session_url())
        assert status == 404 and "no such session" in text, (status, text)
        await until(lambda: not Path(f"/proc/{pid}").exists(), 30, "end of the feed's ffmpeg")
        assert feed_pids(live.stack) == []
    finally:
        await viewer.close()


async def test_one_feed_serves_every_viewer_up_to_the_limit(live: Live) -> None:
    first = await viewer_of(live)
    second = await viewer_of(live)
    try:
        await first.until_frames(25)
        await second.until_frames(25)
        (pid,) = feed_pids(live.stack)

        third = Viewer(live.whep_url)
        status, headers, body = await post_offer(live.whep_url, await third.offer())
        await third.close()
        assert status == 503, (status, body)
        assert f"already serves {MAX_SESSIONS} WebRTC viewers" in body
        assert headers["Retry-After"].isdigit()

        # The first leaving leaves the feed to the second; the second leaving ends it.
        assert (await delete(first.session_url()))[0] == 200
        frames = second.frames
        await second.until_frames(frames + 25)
        assert feed_pids(live.stack) == [pid]
        assert (await delete(second.session_url()))[0] == 200
        await until(lambda: not Path(f"/proc/{pid}").exists(), 30, "end of the feed's ffmpeg")
    finally:
        await first.close()
        await second.close()


async def test_bad_offers_and_links_get_a_sentence(live: Live) -> None:
    url = live.whep_url
    status, _, body = await post_offer(url, b"hello, is this WebRTC?")
    assert (status, body.strip()) == (
        400,
        "The offer is not an SDP session description (no v=0 and o= lines).",
    )
    status, _, body = await post_offer(url, b"\xff\xfe\x00garbage")
    assert status == 400 and "not SDP text" in body

    vp8 = Viewer(url, codecs=("VP8",))
    status, _, body = await post_offer(url, await vp8.offer())
    await vp8.close()
    assert status == 400 and "allows VP8 but not H.264" in body, body

    audio_only = Viewer(url)
    audio_only.pc.addTransceiver("audio", direction="recvonly")
    await audio_only.pc.setLocalDescription(await audio_only.pc.createOffer())
    status, _, body = await post_offer(url, audio_only.pc.localDescription.sdp)
    await audio_only.close()
    assert status == 400 and "no video section" in body, body

    viewer = Viewer(url)
    offer = await viewer.offer()
    await viewer.close()
    status, _, body = await post_offer(url, offer, content_type="text/plain")
    assert status == 415 and "application/sdp" in body

    # A tampered signature, and a link of a camera that is not publishing.
    *head, sig = url.split("/")
    tampered = "/".join([*head, ("A" if sig[0] != "A" else "B") + sig[1:]])
    status, _, body = await post_offer(tampered, offer)
    assert status == 403 and "not valid or has expired" in body
    idle = await live.stack.new_camera("whep-idle")
    status, _, body = await post_offer(await whep_url(live.stack, idle.id), offer)
    assert status == 404 and "not publishing on this node" in body

    # A session that never existed; a path that is no endpoint.
    base = f"http://{urlsplit(url).netloc}"
    status, body = await delete(f"{base}/whep/sessions/{'x' * 32}")
    assert status == 404 and "no such session" in body
    status, _, body = await post_offer(f"{base}/whep/not-a-camera", offer)
    assert status in (403, 404), (status, body)
    assert feed_pids(live.stack) == []


async def test_a_flood_of_offers_gets_the_limit_and_503s_with_a_reason(live: Live) -> None:
    first = await viewer_of(live)  # the camera is live; this viewer only proves it
    assert (await delete(first.session_url()))[0] == 200
    await first.close()
    # The offer's ICE candidates point at a UDP port that reads and never answers, so every
    # session stays up (checking) through the flood. Aimed at its maker's own port, the
    # agent's checks were refused at once (a viewer that never took the answer), the session
    # ended and freed its slot within milliseconds, and more or fewer offers than the limit
    # got 201 depending on timing.
    offer_from = Viewer(live.whep_url)
    offer = await offer_from.offer()
    await offer_from.close()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        offer = re.sub(r"(a=candidate:\S+ \d+ udp \d+ 127\.0\.0\.1 )\d+", rf"\g<1>{port}", offer)
        assert f"127.0.0.1 {port} typ host" in offer, offer
        answers = await asyncio.gather(*(post_offer(live.whep_url, offer) for _ in range(200)))
        # The sessions made end first, so a failure here leaves no feed to the next test.
        base = f"http://{urlsplit(live.whep_url).netloc}"
        ended = [
            (await delete(base + headers["Location"]))[0]
            for status, headers, _ in answers
            if status == 201
        ]
    await until(lambda: feed_pids(live.stack) == [], 30, "end of the feed's ffmpeg")
    statuses = [status for status, _, _ in answers]
    said = Counter((status, body.strip()) for status, _, body in answers)
    assert set(statuses) <= {201, 503}, said
    # (the agent's log says what became of the offers that held a slot)
    assert statuses.count(201) == MAX_SESSIONS, f"{said}\n{agent_log(live.stack)[-4000:]}"
    assert ended == [200] * MAX_SESSIONS
    refusals = {body.strip() for status, _, body in answers if status == 503}
    # The agent's refusal; nginx's when the flood overran the agent's socket (a loaded host).
    assert refusals - {WHEP_BUSY} == {
        f"This node already serves {MAX_SESSIONS} WebRTC viewers, its limit; "
        "try again later or watch over HLS."
    }
    assert all(h["Retry-After"].isdigit() for status, h, _ in answers if status == 503)


async def test_a_publish_that_ends_ends_its_viewers_sessions(live: Live) -> None:
    stack = live.stack
    camera = await stack.new_camera("whep-short")
    proc = subprocess.Popen(
        publisher_argv(stack.rtmp_url(camera.stream_key)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    viewer: Viewer | None = None
    try:
        other = Live(stack, camera, await whep_url(stack, camera.id), proc)
        viewer = await viewer_of(other)
        await viewer.until_frames(10)
        (pid,) = feed_pids(stack)
        stop_by_pid(proc, grace_s=5)
        await until(lambda: not Path(f"/proc/{pid}").exists(), 60, "end of the feed's ffmpeg")
        closed = f"WebRTC session for camera {camera.id} closed"
        await until(lambda: closed in agent_log(stack), 60, "the agent closing the session")
        # The session ended with the publish: nothing is left to delete.
        status, text = await delete(viewer.session_url())
        assert status == 404 and "no such session" in text, (status, text)
    finally:
        stop_by_pid(proc, grace_s=5)
        if viewer is not None:
            await viewer.close()


async def test_a_cameras_aac_audio_arrives_as_opus(live: Live) -> None:
    stack = live.stack
    camera = await stack.new_camera("whep-audio")
    proc = subprocess.Popen(
        publisher_argv(stack.rtmp_url(camera.stream_key), audio=True),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    viewer: Viewer | None = None
    try:
        url = await whep_url(stack, camera.id)
        for _ in range(120):
            viewer = Viewer(url, audio=True)
            status, headers, body = await post_offer(url, await viewer.offer())
            if status == 201:
                await viewer.accept(headers["Location"], body)
                break
            await viewer.close()
            viewer = None
            assert status == 404, (status, body)
            await asyncio.sleep(0.5)
        assert viewer is not None, "the camera never went live on the node"
        audio = viewer.answer.split("m=audio", 1)[1]
        assert "opus/48000/2" in audio.lower(), viewer.answer
        await viewer.until_frames(25)
        await until(lambda: viewer is not None and viewer.audio_frames >= 50, 60, "audio")
        assert (await delete(viewer.session_url()))[0] == 200
    finally:
        stop_by_pid(proc, grace_s=5)
        if viewer is not None:
            await viewer.close()
