"""Recorded media over HTTP, behind signed URLs: segment downloads, VOD HLS playlists and
exported MP4 clips.

nginx proxies /recordings/, /vod/ and /exports/ to the agent's loopback API. The agent checks
the URL's shape, signature (camfleet.playback, a typed resource: a live-HLS signature opens
none of these, and each opens only its own kind) and expiry before anything else, finds the
file only through the segment index (whichever tier it is in: a URL never names a path), and
answers with `X-Accel-Redirect` to nginx's internal /_media/ location. nginx then sends the
file itself, with Range requests (206, 416) for free and without the bytes passing through
Python. Playlists and errors are answered by the agent directly.

- /recordings/<id>/<expires>/<sig>/<name>.ts — one segment's file (<name> is only the name a
  browser saves it under);
- /vod/<camera>/<start_ms>-<end_ms>/<expires>/<sig>/index.m3u8 — a VOD playlist of the
  camera's segments overlapping the range, with discontinuities between non-contiguous ones;
  its segment URIs `seg/<recording id>.ts` resolve under the same signed prefix, and each must
  belong to that camera and range;
- /exports/<camera>/<start_ms>-<end_ms>/<expires>/<sig>/clip.mp4 — the range as one MP4,
  assembled on first request with ffmpeg (concat demuxer over the segments, stream copy) and
  kept in DATA_DIR/exports until the URL expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from aiohttp import web
from camfleet.playback import clip_resource, recording_resource, verify_resource, vod_resource

from node_agent.recording.index import Segment
from node_agent.recording.media import has_audio

log = logging.getLogger(__name__)

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_SIGNED = r"(?P<expires>[0-9]{1,12})/(?P<sig>[A-Za-z0-9_-]{16,100})"
_RANGE = r"(?P<start>[0-9]{1,15})-(?P<end>[0-9]{1,15})"
# Matched against the raw request path: no percent-encoding, no dot segments, no query games.
DOWNLOAD_PATH = re.compile(
    rf"^/recordings/(?P<id>{_UUID})/{_SIGNED}/(?P<name>[A-Za-z0-9_-][A-Za-z0-9_.-]{{0,63}}\.(?:ts|mp4))$"
)
VOD_PATH = re.compile(
    rf"^/vod/(?P<camera>{_UUID})/{_RANGE}/{_SIGNED}/(?:index\.m3u8|seg/(?P<segment>{_UUID})\.ts)$"
)
EXPORT_PATH = re.compile(rf"^/exports/(?P<camera>{_UUID})/{_RANGE}/{_SIGNED}/clip\.mp4$")
# nginx serves what the agent names under this internal prefix (node_agent/nginx/config.py).
MEDIA_PREFIX = "/_media"
# Segments closer than this count as contiguous in a VOD playlist (no discontinuity).
_CONTIGUOUS_S = 0.5
EXPORT_TIMEOUT_S = 900.0
_CONTENT_TYPES = {"mpegts": "video/mp2t", "mp4": "video/mp4"}


class SegmentLookup(Protocol):
    """What serving needs of the node's segment index (node_agent.recording.index)."""

    def get(self, segment_id: str) -> Segment | None:
        """The segment `segment_id`, or None."""
        ...

    def for_camera(self, camera_id: str, start: datetime, end: datetime) -> list[Segment]:
        """Segments of `camera_id` overlapping [start, end), oldest first."""
        ...


@dataclass(frozen=True)
class _Range:
    camera_id: str
    start: datetime
    end: datetime
    start_ms: int
    end_ms: int


def _text(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text + "\n", headers={"Cache-Control": "no-store"})


def _forbidden() -> web.Response:
    # One answer for every bad signature, so a prober learns nothing about which part was off.
    return _text(403, "this link is not valid or has expired")


def _not_found(what: str = "no such recording") -> web.Response:
    return _text(404, what)


def _ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


def _accel(path: Path, content_type: str, download_name: str = "") -> web.Response:
    """Hand the file to nginx: it serves it (with Range) from the internal location."""
    headers = {
        "X-Accel-Redirect": MEDIA_PREFIX + quote(str(path), safe="/"),
        "Content-Type": content_type,
        "Cache-Control": "private, max-age=300",
    }
    if download_name:
        headers["Content-Disposition"] = f'attachment; filename="{download_name}"'
    return web.Response(status=200, headers=headers)


def _concat_line(path: Path) -> str:
    # ffconcat quoting: a single quote ends the string, so it is closed, escaped and reopened.
    return "file '" + str(path).replace("'", "'\\''") + "'\n"


class RecordedMedia:
    """Serves recorded media for signed URLs; files are found only through the index."""

    def __init__(
        self,
        secret: Callable[[], bytes | None],
        index: SegmentLookup,
        exports_dir: Path,
        *,
        ffmpeg: str = "ffmpeg",
        ffprobe: str = "ffprobe",
        now: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret
        self._index = index
        self._exports = exports_dir
        self._ffmpeg = ffmpeg
        self._ffprobe = ffprobe
        self._now = now
        self._building: dict[Path, asyncio.Task[bool]] = {}

    # --- signatures -------------------------------------------------------------------------

    def _valid(self, resource: str, match: re.Match[str]) -> bool:
        secret = self._secret()
        return secret is not None and verify_resource(
            secret, resource, int(match["expires"]), match["sig"], self._now()
        )

    def _range(self, match: re.Match[str], kind: Callable[[str, int, int], str]) -> _Range | None:
        """The signed camera range of a VOD or export URL, None when the signature is bad."""
        start_ms, end_ms = int(match["start"]), int(match["end"])
        if not self._valid(kind(match["camera"], start_ms, end_ms), match):
            return None
        if end_ms <= start_ms:
            return None
        return _Range(match["camera"], _ms(start_ms), _ms(end_ms), start_ms, end_ms)

    # --- handlers ---------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Every /recordings/, /vod/ and /exports/ request nginx passes on."""
        if request.method == "OPTIONS":
            return web.Response(
                status=204,
                headers={
                    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
                    "Access-Control-Allow-Headers": "Range",
                    "Access-Control-Max-Age": "600",
                },
            )
        if request.method not in ("GET", "HEAD"):
            return _text(405, "only GET and HEAD")
        # The raw path as the client sent it; a query string is not part of any signed URL.
        path = request.raw_path.split("?", 1)[0]
        if match := DOWNLOAD_PATH.match(path):
            return self._download(match)
        if match := VOD_PATH.match(path):
            return self._vod(match)
        if match := EXPORT_PATH.match(path):
            return await self._export(match)
        return _not_found("not a recording URL")

    def _download(self, match: re.Match[str]) -> web.Response:
        if not self._valid(recording_resource(match["id"]), match):
            return _forbidden()
        segment = self._index.get(match["id"])
        if segment is None or not segment.path.is_file():
            return _not_found()
        return _accel(
            segment.path, _CONTENT_TYPES.get(segment.container, "video/mp2t"), match["name"]
        )

    def _vod(self, match: re.Match[str]) -> web.Response:
        signed = self._range(match, vod_resource)
        if signed is None:
            return _forbidden()
        if match["segment"] is None:
            return self._playlist(signed)
        segment = self._index.get(match["segment"])
        if (
            segment is None
            or segment.camera_id != signed.camera_id
            or not (segment.start < signed.end and segment.end > signed.start)
            or not segment.path.is_file()
        ):
            return _not_found()
        return _accel(segment.path, _CONTENT_TYPES.get(segment.container, "video/mp2t"))

    def _playlist(self, signed: _Range) -> web.Response:
        segments = self._index.for_camera(signed.camera_id, signed.start, signed.end)
        if not segments:
            return _not_found("no recordings in this range")
        return web.Response(
            text=vod_playlist(segments),
            content_type="application/vnd.apple.mpegurl",
            headers={"Cache-Control": "no-cache"},
        )

    async def _export(self, match: re.Match[str]) -> web.Response:
        signed = self._range(match, clip_resource)
        if signed is None:
            return _forbidden()
        self.remove_expired_exports()
        expires = int(match["expires"])
        target = (
            self._exports / f"{signed.camera_id}_{signed.start_ms}_{signed.end_ms}_{expires}.mp4"
        )
        if not target.is_file():
            segments = self._index.for_camera(signed.camera_id, signed.start, signed.end)
            if not segments:
                return _not_found("no recordings in this range")
            task = self._building.get(target)
            if task is None:
                task = asyncio.create_task(self._assemble(segments, signed, target))
                self._building[target] = task
                task.add_done_callback(lambda _: self._building.pop(target, None))
            # Shielded: a client that gives up does not stop the clip for the next request.
            if not await asyncio.shield(task):
                return _text(503, "the clip could not be assembled; try again")
        return _accel(target, "video/mp4", f"clip-{signed.start_ms}-{signed.end_ms}.mp4")

    # --- exports ----------------------------------------------------------------------------

    async def _assemble(self, segments: list[Segment], signed: _Range, target: Path) -> bool:
        """ffmpeg stream copy of the segments, trimmed to the range, into `target`."""
        self._exports.mkdir(parents=True, exist_ok=True)
        listing = target.with_suffix(".ffconcat")
        partial = target.with_suffix(".part.mp4")
        listing.write_text(
            "ffconcat version 1.0\n" + "".join(_concat_line(s.path) for s in segments)
        )
        first = segments[0].start
        offset = max(0.0, (signed.start - first).total_seconds())
        duration = (signed.end - max(signed.start, first)).total_seconds()
        audio = ["-map", "0:a"] if await has_audio(self._ffprobe, segments[0].path) else []
        argv = [
            self._ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
            # Input-side seek: the copy starts at the keyframe at or before the start.
            "-ss", f"{offset:.3f}", "-f", "concat", "-safe", "0", "-i", str(listing),
            "-t", f"{duration:.3f}", "-map", "0:v?", *audio,
            "-c", "copy", "-bsf:a", "aac_adtstoasc", "-movflags", "+faststart",
            "-f", "mp4", str(partial),
        ]  # fmt: skip
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(EXPORT_TIMEOUT_S):
                _, err = await proc.communicate()
        except BaseException:  # timeout or agent shutdown: no ffmpeg outlives its request
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            partial.unlink(missing_ok=True)
            raise
        finally:
            listing.unlink(missing_ok=True)
        if proc.returncode != 0 or not partial.is_file():
            log.warning("export %s failed: %s", target.name, err.decode(errors="replace")[-500:])
            partial.unlink(missing_ok=True)
            return False
        os.replace(partial, target)  # whole or absent: nginx never serves half a clip
        return True

    def remove_expired_exports(self) -> None:
        """Delete cached clips whose URL has expired (the expiry is in the file name)."""
        if not self._exports.is_dir():
            return
        now = self._now()
        for path in self._exports.glob("*.mp4"):
            expires = path.stem.rsplit("_", 1)[-1]
            if expires.isdigit() and int(expires) <= now and path not in self._building:
                path.unlink(missing_ok=True)

    async def close(self) -> None:
        """Stop clips being assembled (their ffmpeg is killed)."""
        tasks = list(self._building.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def add_routes(self, app: web.Application) -> None:
        """Route the three URL families to `handle`."""
        for prefix in ("recordings", "vod", "exports"):
            app.router.add_route("*", f"/{prefix}/{{tail:.*}}", self.handle)


def vod_playlist(segments: list[Segment]) -> str:
    """An HLS VOD playlist of `segments` (oldest first), discontinuities between those that do
    not follow each other, each with its wall-clock time so players can show and seek by it."""
    target = max(1, math.ceil(max(s.duration_s for s in segments)))
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-MEDIA-SEQUENCE:0",
    ]
    previous: Segment | None = None
    for segment in segments:
        if previous is not None and (
            abs((segment.start - previous.end).total_seconds()) > _CONTIGUOUS_S
        ):
            lines.append("#EXT-X-DISCONTINUITY")
        if previous is None or lines[-1] == "#EXT-X-DISCONTINUITY":
            when = segment.start.astimezone(UTC).isoformat(timespec="milliseconds")
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{when.replace('+00:00', 'Z')}")
        lines += [f"#EXTINF:{segment.duration_s:.3f},", f"seg/{segment.id}.ts"]
        previous = segment
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"
