"""Recorded media over HTTP, behind signed URLs: segment downloads, VOD HLS playlists and
exported MP4 clips.

nginx proxies /recordings/, /vod/ and /exports/ to the agent's loopback API. The agent checks
the URL's shape, signature (camfleet.playback, a typed resource: a live-HLS signature opens
none of these, and each opens only its own kind), expiry and grant (node_agent.grants: not
revoked, no longer-lived than the control plane signs) before anything else, finds the
file only through the segment index (whichever tier it is in: a URL never names a path), and
answers with `X-Accel-Redirect` to nginx's internal /_media/ location. nginx then sends the
file itself, with Range requests (206, 416) for free and without the bytes passing through
Python. Playlists and errors are answered by the agent directly. A segment in the cold tier
(object storage) is answered with a 302 to a presigned URL of its object that lives at most
PRESIGNED_TTL_S (and never past the signed URL's own expiry), made per request after the
signed URL was checked; a clip fetches its cold segments from the store before assembling.

- /recordings/<id>/<grant>/<expires>/<sig>/<name>.ts — one segment's file (<name> is only the
  name a browser saves it under);
- /vod/<camera>/<start_ms>-<end_ms>/<grant>/<expires>/<sig>/index.m3u8 — a VOD playlist of the
  camera's segments overlapping the range, with discontinuities between non-contiguous ones;
  its segment URIs `seg/<recording id>.ts` resolve under the same signed prefix, and each must
  belong to that camera and range;
- /exports/<camera>/<start_ms>-<end_ms>/<grant>/<expires>/<sig>/clip.mp4 — the range as one
  MP4, assembled on first request with ffmpeg (concat demuxer over the segments, stream copy)
  and kept in DATA_DIR/exports until the URL expires, within the bounds of
  node_agent.recording.exports (429 when too many are under way, for the node or the user);
- /exports/<camera>/<start_ms>-<end_ms>/<grant>/<expires>/<sig>/spread/clip.mp4 — the same for a
  range that lies on several nodes (its own signed kind): the parts other nodes hold are asked
  of the control plane and fetched (node_agent.recording.clip_parts); 503 when the control
  plane cannot be asked or names a node that cannot serve, 502 naming the node when a part
  cannot be fetched.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from aiohttp import web
from camfleet import hls
from camfleet.playback import (
    GRANT_PATTERN,
    Grant,
    clip_resource,
    recording_resource,
    spread_clip_resource,
    verify_resource,
    vod_resource,
)

from node_agent.grants import GrantCheck
from node_agent.nginx.config import MEDIA_PREFIX
from node_agent.recording.clip_parts import (
    ClipPartSource,
    PartFetchFailed,
    PartsUnavailable,
    RemotePart,
    SpreadClip,
)
from node_agent.recording.cold_store import ColdStore, ColdStoreError
from node_agent.recording.exports import ClipRequest, ExportBusy, ExportCache, ExportTooLarge
from node_agent.recording.index import Segment
from node_agent.recording.tiers import StorageTier

log = logging.getLogger(__name__)

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_SIGNED = rf"(?P<grant>{GRANT_PATTERN})/(?P<expires>[0-9]{{1,12}})/(?P<sig>[A-Za-z0-9_-]{{16,100}})"
_RANGE = r"(?P<start>[0-9]{1,15})-(?P<end>[0-9]{1,15})"
# Matched against the raw request path: no percent-encoding, no dot segments, no query games.
DOWNLOAD_PATH = re.compile(
    rf"^/recordings/(?P<id>{_UUID})/{_SIGNED}/(?P<name>[A-Za-z0-9_-][A-Za-z0-9_.-]{{0,63}}\.(?:ts|mp4))$"
)
VOD_PATH = re.compile(
    rf"^/vod/(?P<camera>{_UUID})/{_RANGE}/{_SIGNED}/(?:index\.m3u8|seg/(?P<segment>{_UUID})\.ts)$"
)
EXPORT_PATH = re.compile(
    rf"^/exports/(?P<camera>{_UUID})/{_RANGE}/{_SIGNED}/(?P<spread>spread/)?clip\.mp4$"
)
_CONTENT_TYPES = {"mpegts": "video/mp2t", "mp4": "video/mp4"}
# Life of a presigned URL of a cold segment's object: one is made per request, after the
# platform's signed URL was checked, so it only has to outlive the redirect it is sent in.
PRESIGNED_TTL_S = 60


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
    grant: Grant


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


class RecordedMedia:
    """Serves recorded media for signed URLs; files are found only through the index."""

    def __init__(
        self,
        secret: Callable[[], bytes | None],
        index: SegmentLookup,
        exports_dir: Path,
        *,
        grants: GrantCheck | None = None,
        ffmpeg: str = "ffmpeg",
        ffprobe: str = "ffprobe",
        now: Callable[[], float] = time.time,
        cold: Callable[[], ColdStore | None] = lambda: None,
        parts: ClipPartSource | None = None,
    ) -> None:
        self._secret = secret
        # Asks the control plane for a spread clip's other parts (None: no control plane).
        self._parts = parts
        # The cold tier's store in force (None: none configured).
        self._cold = cold
        self._index = index
        # Without an assignment to follow: the default policy, nothing revoked.
        self._grants = grants or GrantCheck()
        self._now = now
        self.exports = ExportCache(
            exports_dir, lambda: self._grants.policy, ffmpeg=ffmpeg, ffprobe=ffprobe, now=now
        )

    # --- signatures -------------------------------------------------------------------------

    def _valid(self, resource: str, match: re.Match[str]) -> Grant | None:
        """The URL's grant when signature, expiry and grant hold, else None."""
        secret = self._secret()
        grant = Grant.decode(match["grant"])
        expires, now = int(match["expires"]), self._now()
        if (
            secret is None
            or grant is None
            or not verify_resource(secret, resource, expires, match["sig"], now, grant=grant)
            or not self._grants.allows(grant, expires, now)
        ):
            return None
        return grant

    def _range(self, match: re.Match[str], kind: Callable[[str, int, int], str]) -> _Range | None:
        """The signed camera range of a VOD or export URL, None when the signature is bad."""
        start_ms, end_ms = int(match["start"]), int(match["end"])
        grant = self._valid(kind(match["camera"], start_ms, end_ms), match)
        if grant is None or end_ms <= start_ms:
            return None
        return _Range(match["camera"], _ms(start_ms), _ms(end_ms), start_ms, end_ms, grant)

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

    def _from_cold(self, segment: Segment, expires: int) -> web.Response:
        """A redirect to a short-lived presigned URL of the segment's object, never living
        longer than the platform's signed URL that was checked for it."""
        store = self._cold()
        if store is None:
            return _text(503, "this recording is in the cold tier, which is not configured")
        ttl = max(1, min(PRESIGNED_TTL_S, expires - int(self._now())))
        url = store.presigned_get(segment.object_bucket, segment.object_key, ttl)
        return web.Response(status=302, headers={"Location": url, "Cache-Control": "no-store"})

    def _download(self, match: re.Match[str]) -> web.Response:
        if self._valid(recording_resource(match["id"]), match) is None:
            return _forbidden()
        segment = self._index.get(match["id"])
        if segment is not None and segment.tier == StorageTier.COLD:
            return self._from_cold(segment, int(match["expires"]))
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
        ):
            return _not_found()
        if segment.tier == StorageTier.COLD:
            return self._from_cold(segment, int(match["expires"]))
        if not segment.path.is_file():
            return _not_found()
        return _accel(segment.path, _CONTENT_TYPES.get(segment.container, "video/mp2t"))

    def _playlist(self, signed: _Range) -> web.Response:
        segments = self._index.for_camera(signed.camera_id, signed.start, signed.end)
        if not segments:
            return _not_found("no recordings in this range")
        return web.Response(
            text=vod_playlist(segments),
            content_type=hls.MEDIA_TYPE,
            headers={"Cache-Control": "no-cache"},
        )

    async def _export(self, match: re.Match[str]) -> web.Response:
        spread = match["spread"] is not None
        signed = self._range(match, spread_clip_resource if spread else clip_resource)
        if signed is None:
            return _forbidden()
        longest = self._grants.policy.max_clip_s
        if (signed.end_ms - signed.start_ms) / 1000 > longest:
            return _text(400, f"a clip may be at most {longest:g} seconds long on this node")
        self.exports.remove_expired()
        expires = int(match["expires"])
        target = self.exports.path_for(
            signed.camera_id, signed.start_ms, signed.end_ms, expires, spread=spread
        )
        if not self.exports.cached(target):
            remote: list[RemotePart] = []
            if spread:
                try:
                    remote = await self._remote(signed, match)
                except PartsUnavailable as exc:
                    return _text(503, f"the clip could not be assembled: {exc}")
            segments = self._index.for_camera(signed.camera_id, signed.start, signed.end)
            if not segments and not remote:
                return _not_found("no recordings in this range")
            fetched: list[Path] = []
            try:
                segments = await self._local(segments, fetched)
            except ColdStoreError as exc:
                _remove(fetched)
                return _text(503, f"the clip could not be assembled: {exc}")
            clip = ClipRequest(
                segments, signed.start, signed.end, target, signed.grant.user, tuple(remote)
            )
            try:
                if not await self.exports.get(clip):
                    return _text(503, "the clip could not be assembled; try again")
            except ExportBusy as busy:
                response = _text(429, str(busy))
                response.headers["Retry-After"] = str(busy.retry_after_s)
                return response
            except ExportTooLarge as large:
                return _text(507, str(large))
            except PartFetchFailed as failed:
                # Another node's part is missing: the clip is not made without it (502: what
                # failed is upstream of this node).
                return _text(502, f"the clip could not be assembled: {failed}")
            finally:
                _remove(fetched)
        return _accel(target, "video/mp4", f"clip-{signed.start_ms}-{signed.end_ms}.mp4")

    async def _remote(self, signed: _Range, match: re.Match[str]) -> list[RemotePart]:
        """The other nodes' parts of a spread clip, as the control plane gives them."""
        if self._parts is None:
            raise PartsUnavailable("this node has no control plane to ask for the other parts")
        return await self._parts.parts(
            SpreadClip(
                signed.camera_id,
                signed.start_ms,
                signed.end_ms,
                match["grant"],
                int(match["expires"]),
                match["sig"],
            )
        )

    async def _local(self, segments: list[Segment], fetched: list[Path]) -> list[Segment]:
        """`segments` with each cold one fetched into the export directory (its files are
        added to `fetched`, which the caller removes once the clip is assembled)."""
        cold = [s for s in segments if s.tier == StorageTier.COLD]
        if not cold:
            return segments
        store = self._cold()
        if store is None:
            raise ColdStoreError("part of the range is in the cold tier, which is not configured")
        cache = self.exports.directory / ".cold"
        await asyncio.to_thread(cache.mkdir, parents=True, exist_ok=True)
        local: list[Segment] = []
        for segment in segments:
            if segment.tier != StorageTier.COLD:
                local.append(segment)
                continue
            path = cache / f"{segment.id}-{id(fetched)}.ts"
            fetched.append(path)
            await asyncio.to_thread(store.download, segment.object_bucket, segment.object_key, path)
            local.append(dataclasses.replace(segment, path=path))
        return local

    def remove_expired_exports(self) -> None:
        """Delete cached clips whose URL has expired."""
        self.exports.remove_expired()

    async def close(self) -> None:
        """Stop clips being assembled (their ffmpeg is killed)."""
        await self.exports.close()

    def add_routes(self, app: web.Application) -> None:
        """Route the three URL families to `handle`."""
        for prefix in ("recordings", "vod", "exports"):
            app.router.add_route("*", f"/{prefix}/{{tail:.*}}", self.handle)


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def vod_playlist(segments: list[Segment]) -> str:
    """An HLS VOD playlist of `segments` (oldest first) as this node serves them (camfleet.hls:
    the control plane writes spread ranges the same way)."""
    return hls.vod_playlist(
        [hls.PlaylistEntry(s.start, s.end, s.duration_s, f"seg/{s.id}.ts") for s in segments]
    )
