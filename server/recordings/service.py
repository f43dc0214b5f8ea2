"""RecordingService's domain: list and read the segment index, build timelines, delete
segments (through their node), and hand out signed URLs for downloads, clips and VOD playback.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from camfleet.playback import Grant
from sqlalchemy import ColumnElement, and_, case, delete, extract, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.audit.log import add_audit
from server.common.listing import query_fingerprint, resolve_page_size
from server.common.validation import require_id
from server.db.models import (
    CameraRow,
    NodeRow,
    PendingSegmentDeletionRow,
    RecordingEventRow,
    RecordingGapRow,
    RecordingRow,
    StreamEventRow,
    utcnow,
)
from server.errors import FailedPrecondition, InvalidArgument, NotFound
from server.recordings import timeline, urls
from server.recordings.ingest import MAX_SEGMENT
from server.recordings.timeline import StoredGap, Timeline

LIST_DEFAULT_SPAN = timedelta(hours=24)
TIMELINE_MAX_SPAN = timedelta(days=31)
# The longest clip ExportClip signs unless configured (--export-max-clip): assembling one costs
# the node an ffmpeg and disk in its export cache.
EXPORT_MAX_SPAN = timedelta(hours=1)
PLAYBACK_MAX_SPAN = timedelta(hours=24)
# A hole longer than this inside an export is a gap the clip would hide: refused.
EXPORT_MAX_HOLE_S = 1.0
_READY = "ready"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EXTENSIONS = {"mpegts": "ts", "mp4": "mp4"}
# Stream events after which a camera was not publishing (so nothing was expected).
_STOPPED = ("unpublish", "error")

# Told which segments a node must delete (the hub sends them if the node is connected here).
DeletionListener = Callable[[str, Sequence[str]], None]


def _ignore_deletion(node_id: str, recording_ids: Sequence[str]) -> None:
    return None


@dataclass(frozen=True)
class SignedUrl:
    """A URL at a node and when it stops working."""

    url: str
    expires_at: datetime


@dataclass(frozen=True)
class Clip:
    """An export's URL and the range it covers (the request clipped to recorded media)."""

    url: SignedUrl
    start: datetime
    end: datetime


# The class below has a method called `list`, which hides the builtin in its annotations.
RecordingRows = list[RecordingRow]
Times = list[datetime]


@dataclass(frozen=True)
class RecordingPage:
    """One page of ListRecordings."""

    items: RecordingRows
    next_page_token: str


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def check_range(
    start: datetime | None, end: datetime | None, max_span: timedelta | None, *, required: bool
) -> tuple[datetime, datetime]:
    """[start, end) of a request, or InvalidArgument naming the field to fix."""
    if required and start is None:
        raise InvalidArgument.for_field("start_time", "is required")
    if required and end is None:
        raise InvalidArgument.for_field("end_time", "is required")
    hi = end or utcnow()
    lo = start or hi - LIST_DEFAULT_SPAN
    if hi <= lo:
        raise InvalidArgument.for_field(
            "end_time", f"must be after start_time ({_iso(hi)} is not after {_iso(lo)})"
        )
    if max_span is not None and hi - lo > max_span:
        raise InvalidArgument.for_field(
            "end_time",
            f"the range may span at most {_span(max_span)}, got {_span(hi - lo)}; ask in parts",
        )
    # Nothing was recorded before 1970; clamping keeps index arithmetic (lo - MAX_SEGMENT)
    # away from the year 1 that a Timestamp may name.
    return max(lo, _EPOCH), max(hi, _EPOCH)


def _span(delta: timedelta) -> str:
    if delta >= timedelta(days=2):
        return f"{delta.total_seconds() / 86_400:.1f} days"
    return f"{delta.total_seconds() / 3600:.1f} hours"


def _overlapping(camera_id: str, lo: datetime, hi: datetime) -> list[ColumnElement[bool]]:
    """Conditions for a camera's segments overlapping [lo, hi), bounded for the index."""
    return [
        RecordingRow.camera_id == camera_id,
        RecordingRow.start_time < hi,
        RecordingRow.start_time > lo - MAX_SEGMENT,
        RecordingRow.end_time > lo,
    ]


def _seconds_between(session: AsyncSession, later: Any, earlier: Any) -> ColumnElement[Any]:
    """`later - earlier` in seconds, in SQL (SQLite keeps times as text)."""
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86_400.0
    return extract("epoch", later - earlier)


async def _spans(
    session: AsyncSession, camera_id: str, lo: datetime, hi: datetime
) -> list[tuple[datetime, datetime]]:
    """The camera's segments overlapping [lo, hi) merged into spans (holes up to MERGE_S
    closed) by the database: gaps and islands, so a month of segments comes back as a handful
    of rows instead of hundreds of thousands."""
    ordered = RecordingRow.start_time
    previous_end = (
        func.max(RecordingRow.end_time)
        .over(order_by=ordered, rows=(None, -1))
        .label("previous_end")
    )
    rows = (
        select(RecordingRow.start_time, RecordingRow.end_time, previous_end)
        .where(*_overlapping(camera_id, lo, hi))
        .subquery()
    )
    starts_island = case(
        (rows.c.previous_end.is_(None), 1),
        (_seconds_between(session, rows.c.start_time, rows.c.previous_end) > timeline.MERGE_S, 1),
        else_=0,
    )
    flagged = select(
        rows.c.start_time,
        rows.c.end_time,
        func.sum(starts_island).over(order_by=rows.c.start_time, rows=(None, 0)).label("island"),
    ).subquery()
    result = await session.execute(
        select(func.min(flagged.c.start_time), func.max(flagged.c.end_time))
        .group_by(flagged.c.island)
        .order_by(func.min(flagged.c.start_time))
    )
    return [(start, end) for start, end in result.all()]


def _encode_token(row: RecordingRow, fingerprint: str) -> str:
    # Microseconds, as stored: a coarser time would show rows of the same millisecond twice.
    payload = {"t": row.start_time.isoformat(), "i": row.id, "f": fingerprint}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str, fingerprint: str) -> tuple[datetime, str] | None:
    if not token:
        return None
    garbage = "is not a token this server issued; start again without page_token"
    try:
        if len(token) > 512:
            raise ValueError
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        at = datetime.fromisoformat(str(data["t"]).replace("Z", "+00:00"))
        last_id = str(data["i"])
        given = str(data["f"])
    except (ValueError, KeyError, TypeError, binascii.Error, RecursionError):
        raise InvalidArgument.for_field("page_token", garbage) from None
    if given != fingerprint:
        raise InvalidArgument.for_field(
            "page_token", "belongs to another camera or range; start again without page_token"
        )
    if at.tzinfo is None:
        raise InvalidArgument.for_field("page_token", garbage)
    return at, last_id


class RecordingService:
    """Domain logic of camfleet.v1.RecordingService."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        playback_secret: bytes,
        url_ttl: timedelta,
        export_max_clip: timedelta = EXPORT_MAX_SPAN,
        on_delete: DeletionListener = _ignore_deletion,
    ) -> None:
        self._sessions = sessions
        self._secret = playback_secret
        self._ttl = url_ttl
        self._max_clip = export_max_clip
        self._on_delete = on_delete

    # --- reads ------------------------------------------------------------------------------

    async def list(
        self,
        camera_id: str,
        start: datetime | None,
        end: datetime | None,
        page_size: int,
        page_token: str,
    ) -> RecordingPage:
        """Segments overlapping [start, end) (default: the last 24 hours), oldest first."""
        require_id(camera_id, "camera_id")
        lo, hi = check_range(start, end, None, required=False)
        size = resolve_page_size(page_size)
        fingerprint = query_fingerprint("recordings", camera_id, _iso(lo), _iso(hi))
        after = _decode_token(page_token, fingerprint)
        stmt = select(RecordingRow).where(*_overlapping(camera_id, lo, hi))
        if after is not None:
            stmt = stmt.where(
                or_(
                    RecordingRow.start_time > after[0],
                    and_(RecordingRow.start_time == after[0], RecordingRow.id > after[1]),
                )
            )
        async with self._sessions() as session:
            await self._camera(session, camera_id)
            rows = list(
                (
                    await session.scalars(
                        stmt.order_by(RecordingRow.start_time, RecordingRow.id).limit(size + 1)
                    )
                ).all()
            )
        more = len(rows) > size
        del rows[size:]
        return RecordingPage(rows, _encode_token(rows[-1], fingerprint) if more else "")

    async def get(self, recording_id: str) -> RecordingRow:
        """One segment or NotFound."""
        require_id(recording_id)
        async with self._sessions() as session:
            row = await session.get(RecordingRow, recording_id)
        if row is None:
            raise NotFound(f"recording {recording_id} does not exist")
        return row

    async def timeline(
        self, camera_id: str, start: datetime | None, end: datetime | None
    ) -> Timeline:
        """Spans, gaps and coverage of one camera over at most 31 days."""
        require_id(camera_id, "camera_id")
        lo, hi = check_range(start, end, TIMELINE_MAX_SPAN, required=True)
        async with self._sessions() as session:
            await self._camera(session, camera_id)
            segments = await _spans(session, camera_id, lo, hi)
            gaps = (
                await session.scalars(
                    select(RecordingGapRow).where(
                        RecordingGapRow.camera_id == camera_id,
                        RecordingGapRow.start_time < hi,
                        or_(RecordingGapRow.end_time.is_(None), RecordingGapRow.end_time > lo),
                    )
                )
            ).all()
            stops = await self._stops(session, camera_id, lo, hi)
        return timeline.build(
            lo,
            hi,
            segments=segments,
            stored_gaps=[StoredGap(g.start_time, g.end_time, g.reason) for g in gaps],
            stops=stops,
            now=utcnow(),
        )

    @staticmethod
    async def _stops(session: AsyncSession, camera_id: str, lo: datetime, hi: datetime) -> Times:
        """When the camera stopped publishing, or its recorder went idle, within the range."""
        window = (lo - MAX_SEGMENT, hi)
        unpublished = (
            await session.scalars(
                select(StreamEventRow.time).where(
                    StreamEventRow.camera_id == camera_id,
                    StreamEventRow.type.in_(_STOPPED),
                    StreamEventRow.time.between(*window),
                )
            )
        ).all()
        idle = (
            await session.scalars(
                select(RecordingEventRow.time).where(
                    RecordingEventRow.camera_id == camera_id,
                    RecordingEventRow.kind == "recorder",
                    RecordingEventRow.state == "idle",
                    RecordingEventRow.time.between(*window),
                )
            )
        ).all()
        return sorted([*unpublished, *idle])

    # --- mutations --------------------------------------------------------------------------

    async def delete(self, recording_id: str) -> None:
        """Remove a segment from the index now; its node deletes the file when told (at once
        if connected, else on its next Hello)."""
        require_id(recording_id)
        async with self._sessions.begin() as session:
            row = await session.get(RecordingRow, recording_id, with_for_update=True)
            if row is None:
                raise NotFound(f"recording {recording_id} does not exist")
            await session.execute(delete(RecordingRow).where(RecordingRow.id == recording_id))
            session.add(
                PendingSegmentDeletionRow(
                    recording_id=row.id,
                    node_id=row.node_id,
                    camera_id=row.camera_id,
                    requested_at=utcnow(),
                )
            )
            add_audit(
                session,
                "recording.delete",
                f"recordings/{row.id}",
                details={
                    "camera_id": row.camera_id,
                    "node_id": row.node_id,
                    "start_time": _iso(row.start_time),
                },
            )
        self._on_delete(row.node_id, [row.id])

    # --- signed URLs ------------------------------------------------------------------------

    async def download_url(self, recording_id: str, grant: Grant) -> SignedUrl:
        """A signed URL of one segment's file at its node, for `grant`."""
        row = await self.get(recording_id)
        async with self._sessions() as session:
            base = await self._node_url(session, row.node_id)
        ext = _EXTENSIONS.get(row.container, "ts")
        name = f"{row.camera_id[:8]}-{row.start_time:%Y%m%dT%H%M%S}Z.{ext}"
        url, at = urls.download_url(base, self._secret, row.id, name, ttl=self._ttl, grant=grant)
        return SignedUrl(url, at)

    async def export_clip(
        self, camera_id: str, start: datetime | None, end: datetime | None, grant: Grant
    ) -> Clip:
        """A signed URL of one MP4 of [start, end) (at most --export-max-clip, no gap over 1 s)."""
        require_id(camera_id, "camera_id")
        lo, hi = check_range(start, end, None, required=True)
        if hi - lo > self._max_clip:
            raise InvalidArgument.for_field(
                "end_time",
                f"a clip may be at most {self._max_clip.total_seconds():g} seconds long "
                f"(this one is {(hi - lo).total_seconds():g}); export it in parts",
            )
        async with self._sessions() as session:
            await self._camera(session, camera_id)
            rows = await self._segments(session, camera_id, lo, hi)
            node_id = self._one_node(rows, "export")
            clipped = [(max(r.start_time, lo), min(r.end_time, hi)) for r in rows]
            spans = timeline.merge(clipped, EXPORT_MAX_HOLE_S)
            if len(spans) > 1:
                hole = (spans[0][1], spans[1][0])
                reason = await self._gap_reason(session, camera_id, hole)
                raise FailedPrecondition(
                    f"the recording of camera {camera_id} has a gap from {_iso(hole[0])} to "
                    f"{_iso(hole[1])} ({reason}); export the parts before and after it "
                    "separately",
                    metadata={"gap_start": _iso(hole[0]), "gap_end": _iso(hole[1])},
                )
            base = await self._node_url(session, node_id)
        clip_start, clip_end = spans[0]
        url, at = urls.clip_url(
            base,
            self._secret,
            camera_id,
            urls.epoch_ms(clip_start),
            urls.epoch_ms(clip_end),
            ttl=self._ttl,
            grant=grant,
        )
        return Clip(SignedUrl(url, at), clip_start, clip_end)

    async def playback_url(
        self, camera_id: str, start: datetime | None, end: datetime | None, grant: Grant
    ) -> SignedUrl:
        """A signed URL of a VOD HLS playlist over [start, end) (at most 24 hours)."""
        require_id(camera_id, "camera_id")
        lo, hi = check_range(start, end, PLAYBACK_MAX_SPAN, required=True)
        async with self._sessions() as session:
            await self._camera(session, camera_id)
            rows = await self._segments(session, camera_id, lo, hi)
            # One node serves the playlist from its own index: the one holding most of it.
            counts: dict[str, int] = {}
            for row in rows:
                counts[row.node_id] = counts.get(row.node_id, 0) + 1
            node_id = max(counts, key=lambda n: counts[n])
            base = await self._node_url(session, node_id)
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

    @staticmethod
    async def _camera(session: AsyncSession, camera_id: str) -> None:
        if await session.scalar(select(CameraRow.id).where(CameraRow.id == camera_id)) is None:
            raise NotFound(f"camera {camera_id} does not exist")

    @staticmethod
    async def _segments(
        session: AsyncSession, camera_id: str, lo: datetime, hi: datetime
    ) -> RecordingRows:
        rows = list(
            (
                await session.scalars(
                    select(RecordingRow)
                    .where(*_overlapping(camera_id, lo, hi))
                    .order_by(RecordingRow.start_time)
                )
            ).all()
        )
        if not rows:
            raise NotFound(
                f"camera {camera_id} has no recordings between {_iso(lo)} and {_iso(hi)}"
            )
        return rows

    @staticmethod
    def _one_node(rows: RecordingRows, what: str) -> str:
        nodes = sorted({r.node_id for r in rows})
        if len(nodes) > 1:
            raise FailedPrecondition(
                f"the range is recorded on {len(nodes)} nodes ({', '.join(nodes)}); an {what} "
                "is assembled on one node: ask for the part each node holds"
            )
        return nodes[0]

    @staticmethod
    async def _gap_reason(
        session: AsyncSession, camera_id: str, hole: tuple[datetime, datetime]
    ) -> str:
        reason = await session.scalar(
            select(RecordingGapRow.reason)
            .where(
                RecordingGapRow.camera_id == camera_id,
                RecordingGapRow.start_time < hole[1],
                or_(RecordingGapRow.end_time.is_(None), RecordingGapRow.end_time > hole[0]),
            )
            .limit(1)
        )
        return reason or timeline.UNKNOWN

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
