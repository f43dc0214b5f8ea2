"""Signed URLs to recorded media for RecordingService's RPCs: one segment's file, a VOD
playlist (clip exports: clips.py, which builds on this class). Each is served by the node that
holds the media, so each first finds that node and checks it can serve.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from camfleet import hls
from camfleet.playback import Grant
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.common.validation import require_id
from server.db.models import NodeRow, RecordingRow
from server.errors import FailedPrecondition, NotFound
from server.recordings import urls, vod
from server.recordings.cold_urls import ColdUrls
from server.recordings.queries import (
    RecordingRows,
    check_range,
    find_recording,
    iso,
    overlapping,
    require_camera,
)

# The longest clip ExportClip signs unless configured (--export-max-clip): assembling one costs
# the node an ffmpeg and disk in its export cache.
EXPORT_MAX_SPAN = timedelta(hours=1)
PLAYBACK_MAX_SPAN = timedelta(hours=24)
_READY = "ready"
_EXTENSIONS = {"mpegts": "ts", "mp4": "mp4"}


@dataclass(frozen=True)
class SignedUrl:
    """A URL at a node and when it stops working."""

    url: str
    expires_at: datetime


class RecordingMedia:
    """Signs URLs to recorded media at the node that holds it."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        playback_secret: bytes,
        url_ttl: timedelta,
        export_max_clip: timedelta = EXPORT_MAX_SPAN,
        cold: ColdUrls | None = None,
    ) -> None:
        self._sessions = sessions
        # Presigned GETs of cold objects whose node cannot serve them (None: never).
        self._cold = cold
        self._secret = playback_secret
        self._ttl = url_ttl
        self._max_clip = export_max_clip

    async def download_url(self, recording_id: str, grant: Grant) -> SignedUrl:
        """A signed URL of one segment's file at its node, for `grant`."""
        require_id(recording_id)
        async with self._sessions() as session:
            row = await find_recording(session, recording_id)
            try:
                base = await self._node_url(session, row.node_id)
            except FailedPrecondition:
                # In the cold tier, the object outlives its node: signed here instead.
                direct = await self._cold_url(row)
                if direct is None:
                    raise
                return direct
        url, at = urls.download_url(
            base, self._secret, row.id, file_name(row), ttl=self._ttl, grant=grant
        )
        return SignedUrl(url, at)

    async def playback_url(
        self, camera_id: str, start: datetime | None, end: datetime | None, grant: Grant
    ) -> SignedUrl:
        """A signed URL of a VOD HLS playlist over [start, end) (at most 24 hours)."""
        require_id(camera_id, "camera_id")
        lo, hi = check_range(start, end, PLAYBACK_MAX_SPAN, required=True)
        async with self._sessions() as session:
            await require_camera(session, camera_id)
            rows = await self._segments(session, camera_id, lo, hi)
            bases = {n: await self._ready_url(session, n) for n in {r.node_id for r in rows}}
        if len(bases) > 1 or None in bases.values():
            # Spread over nodes, or on a node that cannot serve: each segment where it lives.
            return await self._spread_playlist(rows, bases, grant)
        # One node serves the playlist from its own index.
        [base] = bases.values()
        assert base is not None
        url, at = urls.vod_url(
            base,
            self._secret,
            camera_id,
            urls.epoch_ms(lo),
            urls.epoch_ms(hi),
            ttl=self._ttl,
            grant=grant,
        )
        return SignedUrl(url, at)

    # --- helpers ----------------------------------------------------------------------------

    async def _spread_playlist(
        self, rows: RecordingRows, bases: dict[str, str | None], grant: Grant
    ) -> SignedUrl:
        """The control plane's playlist of segments on several nodes or in the cold tier of a
        node that is gone (server/recordings/vod.py); a segment no one can serve is left out
        (a discontinuity), and FailedPrecondition when that is all of them."""
        entries: list[hls.PlaylistEntry] = []
        expiries: list[datetime] = []
        missing: set[str] = set()
        for row in rows:
            base = bases[row.node_id]
            if base is not None:
                url, at = urls.download_url(
                    base, self._secret, row.id, file_name(row), ttl=self._ttl, grant=grant
                )
            elif (cold := await self._cold_url(row, self._ttl)) is not None:
                url, at = cold.url, cold.expires_at
            else:
                missing.add(row.node_id)
                continue
            entries.append(
                hls.PlaylistEntry(row.start_time, row.end_time, row.duration_s or 0.001, url)
            )
            expiries.append(at)
        if not entries:
            raise FailedPrecondition(
                f"the nodes holding this range ({', '.join(sorted(missing))}) cannot serve it "
                "now and none of it is in the cold tier; try again when they are back"
            )
        return SignedUrl(vod.data_url(hls.vod_playlist(entries)), min(expiries))

    async def _ready_url(self, session: AsyncSession, node_id: str) -> str | None:
        """The node's URL when it can serve now, else None."""
        try:
            return await self._node_url(session, node_id)
        except FailedPrecondition:
            return None

    async def _cold_url(self, row: RecordingRow, ttl: timedelta | None = None) -> SignedUrl | None:
        """A presigned GET of the segment's cold object (for `ttl`, else the short default);
        None when it is not in the cold tier or no cold tier is configured."""
        if self._cold is None or row.tier != "cold" or not row.object_key:
            return None
        seconds = int(ttl.total_seconds()) if ttl is not None else None
        signed = await self._cold.presigned_get(row.object_bucket, row.object_key, seconds)
        return SignedUrl(signed.url, signed.expires_at) if signed is not None else None

    @staticmethod
    async def _segments(
        session: AsyncSession, camera_id: str, lo: datetime, hi: datetime
    ) -> RecordingRows:
        rows = list(
            (
                await session.scalars(
                    select(RecordingRow)
                    .where(*overlapping(camera_id, lo, hi))
                    .order_by(RecordingRow.start_time)
                )
            ).all()
        )
        if not rows:
            raise NotFound(f"camera {camera_id} has no recordings between {iso(lo)} and {iso(hi)}")
        return rows

    @staticmethod
    async def _node_url(session: AsyncSession, node_id: str) -> str:
        node = await session.get(NodeRow, node_id)
        if node is None:
            raise FailedPrecondition(f"the node that recorded this ({node_id}) was deleted")
        if node.state != _READY or not node.http_url:
            raise FailedPrecondition(
                f"node {node.name}, which holds the recording, is {node.state}; try again when "
                "it is back"
            )
        return node.http_url


def file_name(row: RecordingRow) -> str:
    """The name a browser saves a segment under."""
    ext = _EXTENSIONS.get(row.container, "ts")
    return f"{row.camera_id[:8]}-{row.start_time:%Y%m%dT%H%M%S}Z.{ext}"
