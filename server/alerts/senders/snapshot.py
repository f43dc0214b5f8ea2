"""A camera's snapshot for an alert e-mail: one JPEG frame that ffmpeg grabs from the camera's
live HLS stream at its node, through the same signed, expiring URL a viewer gets
(CameraService.stream_urls), signed for the control plane's alerting (grant principal
"alerts"). A camera that is not live (an offline camera's alert is the usual one) is shown as
it was when it went dark: the last keyframe of its newest recorded segment, fetched through the
segment's signed download URL at the node that holds it (RecordingMedia.download_url).

The e-mail sender takes a `SnapshotSource` (camera id -> JPEG bytes); the wiring builds it
with `camera_snapshots(cameras)` from the CameraService it already has. A source says why it
has no snapshot by raising `NoSnapshot` with a sentence (the mail then says "no snapshot:
<why>"); the sender bounds the wait (SNAPSHOT_TIMEOUT_S)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from camfleet.playback import Grant

from server.cameras.model import CameraStatus
from server.errors import FailedPrecondition, InvalidArgument, NotFound

# camera id -> one JPEG frame (None: no snapshot, no reason given). Raises NoSnapshot(why).
SnapshotSource = Callable[[str], Awaitable[bytes | None]]

SNAPSHOT_TIMEOUT_S = 10.0
# The principal of the alerting's playback URLs (a node checks it against revoked grants; no
# user or token has this id).
ALERTS_PRINCIPAL = "alerts"
# A frame larger than this is not a camera's JPEG.
MAX_JPEG_BYTES = 8 * 1024 * 1024
# Only what an HLS URL of a node needs: never file:, concat: or subfile: from a playlist.
PROTOCOLS = "http,https,tcp,tls,crypto"
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
RETRY_S = 0.5
MAX_GRABS_AT_ONCE = 4
REUSE_S = 5.0
# A recorded segment's frame: its last keyframe within this many final seconds.
LAST_SECONDS = 10


class NoSnapshot(Exception):
    """No snapshot of a camera; the message says why, as a sentence."""


class CameraView(Protocol):
    """What the snapshot needs of a camera (server.cameras.reads.CameraRecord has it)."""

    @property
    def name(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def node_id(self) -> str | None: ...


class LiveUrls(Protocol):
    @property
    def hls_playback_url(self) -> str: ...


class CameraStreams(Protocol):
    """The cameras' reads and URLs (server.cameras.service.CameraService)."""

    async def get(self, camera_id: str) -> CameraView: ...

    async def stream_urls(
        self, camera_id: str, include_publish_url: bool, grant: Grant
    ) -> LiveUrls: ...


class RecordedSegments(Protocol):
    """A camera's newest recorded segment as a signed download URL at the node that holds it
    (None: it recorded nothing); NotFound or FailedPrecondition with a sentence when it cannot
    be read now (its node is not READY)."""

    async def newest_segment_url(self, camera_id: str, grant: Grant) -> str | None: ...


async def grab_frame(
    url: str, *, timeout_s: float = SNAPSHOT_TIMEOUT_S, ffmpeg: str = "ffmpeg"
) -> bytes:
    """One JPEG frame of the live stream at `url` (HLS, or anything ffmpeg reads over
    http/https), at most 1280 pixels wide; NoSnapshot with the reason otherwise. The ffmpeg
    process is killed (by its PID) when `timeout_s` passes."""
    argv = [
        ffmpeg,
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-protocol_whitelist",
        PROTOCOLS,
        "-rw_timeout",
        str(int(timeout_s * 1_000_000)),
        # A node's HLS declares an AAC track even without audio: ffmpeg's default probing
        # (5 s) would wait that long for audio that never comes; the video's parameters are in
        # the first segment.
        "-analyzeduration",
        "500000",
        "-probesize",
        "1000000",
        "-i",
        url,
        "-map",
        "0:v:0",
        "-frames:v",
        "1",
        "-vf",
        "scale='min(1280,iw)':-2",
        "-q:v",
        "3",
        "-f",
        "image2",
        "-c:v",
        "mjpeg",
        "pipe:1",
    ]
    # A camera that just went live may not have its first playlist yet (404): tried again
    # until the time is up.
    deadline = time.monotonic() + timeout_s
    while True:
        jpeg, why = await _run(argv, max(0.1, deadline - time.monotonic()))
        if jpeg is not None:
            return jpeg
        # ffmpeg names the URL, whose signature opens the stream: never pass it on.
        why = why.replace(url, "the stream")
        if "404" not in why or time.monotonic() + RETRY_S >= deadline:
            raise NoSnapshot(why)
        await asyncio.sleep(RETRY_S)


async def last_frame(
    url: str, *, timeout_s: float = SNAPSHOT_TIMEOUT_S, ffmpeg: str = "ffmpeg"
) -> bytes:
    """One JPEG of the recorded segment at `url` (a file served with Range): its last keyframe
    in the final LAST_SECONDS (only keyframes are decoded, each written over the one before),
    at most 1280 pixels wide; NoSnapshot with the reason otherwise."""
    with tempfile.TemporaryDirectory(prefix="camfleet-snapshot-") as tmp:
        out = Path(tmp) / "last.jpg"
        argv = [
            ffmpeg,
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-protocol_whitelist",
            PROTOCOLS,
            "-rw_timeout",
            str(int(timeout_s * 1_000_000)),
            "-skip_frame",
            "nokey",
            "-sseof",
            f"-{LAST_SECONDS}",
            "-i",
            url,
            "-map",
            "0:v:0",
            "-fps_mode",
            "passthrough",
            "-vf",
            "scale='min(1280,iw)':-2",
            "-q:v",
            "3",
            "-update",
            "1",
            "-f",
            "image2",
            "-c:v",
            "mjpeg",
            str(out),
        ]
        jpeg, why = await _run(argv, timeout_s, output=out, source="its last recording")
    if jpeg is None:
        raise NoSnapshot(why.replace(url, "the recording"))
    return jpeg


async def _run(
    argv: list[str],
    timeout_s: float,
    *,
    output: Path | None = None,
    source: str = "the live stream",
) -> tuple[bytes | None, str]:
    """ffmpeg's JPEG (its standard output, or the `output` file it wrote), or None and why
    not."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as error:
        return None, f"ffmpeg could not be started ({error.strerror or error})"
    try:
        async with asyncio.timeout(timeout_s):
            out, err = await proc.communicate()
    except TimeoutError:
        return None, f"no frame from {source} within {timeout_s:.0f} s"
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    if output is not None and proc.returncode == 0:
        try:
            out = await asyncio.to_thread(output.read_bytes)
        except OSError:
            return None, f"{source} has no keyframe in its last {LAST_SECONDS} s"
    if proc.returncode != 0 or not out.startswith(b"\xff\xd8"):
        last = err.decode(errors="replace").strip().splitlines()
        why = last[-1] if last else f"ffmpeg exited with status {proc.returncode}"
        return None, f"no frame could be read from {source} ({why[:300]})"
    if len(out) > MAX_JPEG_BYTES:
        return None, f"the frame was larger than {MAX_JPEG_BYTES // (1024 * 1024)} MiB"
    return out, ""


def camera_snapshots(
    cameras: CameraStreams,
    *,
    ffmpeg: str = "ffmpeg",
    timeout_s: float = SNAPSHOT_TIMEOUT_S,
    at_once: int = MAX_GRABS_AT_ONCE,
    reuse_s: float = REUSE_S,
    recordings: RecordedSegments | None = None,
) -> SnapshotSource:
    """The wiring's snapshot source: a camera that is ONLINE on a node -> a frame of its live
    stream at that node; any other -> with `recordings`, the last keyframe of its newest
    recorded segment (how it looked when it went dark), else NoSnapshot saying why. At most
    `at_once` ffmpeg run together (a burst of alerts waits its turn), and a camera's frame is
    reused for `reuse_s` (the same alert mailed to several channels grabs once)."""
    turns = asyncio.Semaphore(at_once)
    recent: dict[str, tuple[float, bytes]] = {}

    async def snapshot(camera_id: str) -> bytes:
        if not _ID.match(camera_id):
            raise NoSnapshot("the alert names no valid camera id")
        try:
            camera = await cameras.get(camera_id)
        except NotFound:
            raise NoSnapshot("the camera no longer exists") from None
        except InvalidArgument:
            raise NoSnapshot("the alert names no valid camera id") from None
        live = camera.status == CameraStatus.ONLINE.value and bool(camera.node_id)
        not_live = f"camera {camera.name} is not live (it is {camera.status})"
        if not live and recordings is None:
            raise NoSnapshot(not_live)
        async with turns:
            now = time.monotonic()
            for cid, (at, _) in list(recent.items()):
                if now - at > reuse_s:
                    del recent[cid]
            if camera_id in recent:
                return recent[camera_id][1]
            grant = Grant((ALERTS_PRINCIPAL,), int(time.time()))
            if live:
                urls = await cameras.stream_urls(camera_id, False, grant)
                jpeg = await grab_frame(urls.hls_playback_url, timeout_s=timeout_s, ffmpeg=ffmpeg)
            else:
                assert recordings is not None
                jpeg = await recorded(recordings, camera_id, grant, not_live)
            recent[camera_id] = (time.monotonic(), jpeg)
            return jpeg

    async def recorded(
        recordings: RecordedSegments, camera_id: str, grant: Grant, not_live: str
    ) -> bytes:
        try:
            url = await recordings.newest_segment_url(camera_id, grant)
        except (NotFound, FailedPrecondition) as error:
            why = f"{not_live}, and its last recording cannot be read: {error}"
            raise NoSnapshot(why) from None
        if url is None:
            raise NoSnapshot(f"{not_live} and has recorded nothing")
        return await last_frame(url, timeout_s=timeout_s, ffmpeg=ffmpeg)

    return snapshot
