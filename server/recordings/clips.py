"""ExportClip, and the parts a node fetches to assemble a clip whose range lies on several
nodes (AgentService.GetClipParts).

A range on one node that can serve is a plain clip URL at that node, as before. A range spread
over nodes (a failover), or on a node that cannot serve with its segments in the cold tier, is a
*spread* clip (camfleet.playback.spread_clip_resource) at the node holding most of it
(clip_plan.py). That node, when the URL is first fetched, asks the control plane for the other
parts (GetClipParts, as the node, repeating the clip URL's signed parameters): each with a
signed download URL at its node (the signing of GetDownloadUrl, for the clip's own grant and
expiry, so revoking the user ends the parts too) or a presigned URL of its cold object. The node
fetches only those URLs (node_agent/recording/clip_parts.py), never one a caller sent.

What the clip cannot hold is never left out unsaid:
- a part on a node that cannot serve now and not in the cold tier: ExportClip (and later
  GetClipParts) is FAILED_PRECONDITION naming the node and the part's times, and a part whose
  fetch fails fails the whole clip with a sentence naming its node: the media exists, so an
  incomplete clip would misstate what was recorded; asking again once the node is back works;
- a gap (nothing recorded anywhere, e.g. the seconds a failover takes) stays in the clip as
  time: the picture holds across it, the clip's times stay the range's, and ExportClip lists it
  in `holes` with its cause.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from camfleet.playback import Grant, spread_clip_resource, verify_resource
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.common.validation import require_id
from server.db.models import NodeRow, RecordingGapRow, RecordingRow, utcnow
from server.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from server.recordings import clip_plan, timeline, urls
from server.recordings.causes import GapCause, stored_cause
from server.recordings.media import RecordingMedia, SignedUrl, file_name
from server.recordings.queries import RecordingRows, check_range, iso, require_camera
from server.recordings.timeline import Gap

# A hole shorter than this inside a clip is rounding between segments, not a gap.
HOLE_MIN_S = 1.0


@dataclass(frozen=True)
class Clip:
    """An export's URL, the range it covers (the request clipped to recorded media) and the
    holes in it."""

    url: SignedUrl
    start: datetime
    end: datetime
    holes: tuple[Gap, ...] = ()


@dataclass(frozen=True)
class SignedClip:
    """A spread clip URL's signed parameters, as the node assembling it received them."""

    camera_id: str
    start_ms: int
    end_ms: int
    grant: str
    expires: int
    signature: str


@dataclass(frozen=True)
class ClipPart:
    """One segment the assembling node fetches, and from where."""

    recording_id: str
    start: datetime
    end: datetime
    size_bytes: int
    url: str
    node_name: str


def _ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


class ClipExports(RecordingMedia):
    """RecordingMedia with clip exports, on one node or assembled across several."""

    async def export_clip(
        self, camera_id: str, start: datetime | None, end: datetime | None, grant: Grant
    ) -> Clip:
        """A signed URL of one MP4 of [start, end) (at most --export-max-clip)."""
        require_id(camera_id, "camera_id")
        lo, hi = check_range(start, end, None, required=True)
        if hi - lo > self._max_clip:
            raise InvalidArgument.for_field(
                "end_time",
                f"a clip may be at most {self._max_clip.total_seconds():g} seconds long "
                f"(this one is {(hi - lo).total_seconds():g}); export it in parts",
            )
        async with self._sessions() as session:
            await require_camera(session, camera_id)
            rows = await self._segments(session, camera_id, lo, hi)
            nodes = {n: await self._node_row(session, n) for n in {r.node_id for r in rows}}
            spans = timeline.merge(
                [(max(r.start_time, lo), min(r.end_time, hi)) for r in rows], HOLE_MIN_S
            )
            holes = tuple(
                [
                    await self._hole(session, camera_id, (a[1], b[0]))
                    for a, b in itertools.pairwise(spans)
                ]
            )
            assembler, spread = await self._assembler(session, rows, nodes, lo, hi)
            base = await self._node_url(session, assembler)
        clip_start, clip_end = spans[0][0], spans[-1][1]
        sign = urls.spread_clip_url if spread else urls.clip_url
        url, at = sign(
            base,
            self._secret,
            camera_id,
            urls.epoch_ms(clip_start),
            urls.epoch_ms(clip_end),
            ttl=self._ttl,
            grant=grant,
        )
        return Clip(SignedUrl(url, at), clip_start, clip_end, holes)

    async def clip_parts(self, node_id: str, clip: SignedClip) -> list[ClipPart]:
        """The parts node `node_id` fetches to assemble the spread clip whose URL it was given
        (checked here as the node checked it: a node asks only for clips it was asked for)."""
        camera_id = clip.camera_id
        require_id(camera_id, "camera_id")
        decoded = Grant.decode(clip.grant)
        resource = spread_clip_resource(camera_id, clip.start_ms, clip.end_ms)
        now = utcnow().timestamp()
        if (
            decoded is None
            or clip.end_ms <= clip.start_ms
            or not verify_resource(
                self._secret, resource, clip.expires, clip.signature, now, grant=decoded
            )
        ):
            raise PermissionDenied("this clip's link is not valid or has expired")
        lo, hi = _ms(clip.start_ms), _ms(clip.end_ms)
        until = datetime.fromtimestamp(clip.expires, UTC)
        async with self._sessions() as session:
            rows = await self._segments(session, camera_id, lo, hi)
            nodes = {n: await self._node_row(session, n) for n in {r.node_id for r in rows}}
            chosen = clip_plan.plan([_plan_segment(r) for r in rows], lo, hi, node_id)
            by_id = {r.id: r for r in rows}
            holders = {p.node_id for p in chosen.parts}
            bases = {n: await self._ready_url(session, n) for n in holders}
        parts: list[ClipPart] = []
        for part in chosen.parts:
            row = by_id[part.id]
            node = nodes[row.node_id]
            url = await self._part_url(row, bases[row.node_id], until, decoded)
            if url is None:
                raise FailedPrecondition(_unreachable(node, row.node_id, row))
            parts.append(
                ClipPart(
                    row.id,
                    row.start_time,
                    row.end_time,
                    row.size_bytes,
                    url,
                    node.name if node else row.node_id,
                )
            )
        return parts

    # --- helpers ----------------------------------------------------------------------------

    async def _assembler(
        self,
        session: AsyncSession,
        rows: RecordingRows,
        nodes: dict[str, NodeRow | None],
        lo: datetime,
        hi: datetime,
    ) -> tuple[str, bool]:
        """The node that assembles [lo, hi), and whether it fetches parts from elsewhere;
        FailedPrecondition naming a node whose part no one can serve now."""
        ready = {n for n, row in nodes.items() if _ready(row)}
        if len(nodes) == 1 and ready:
            return next(iter(ready)), False  # all on one node that serves: as before
        if not ready:
            # A cold range of nodes that are gone can be assembled by any node that serves.
            ready = set(
                await session.scalars(
                    select(NodeRow.id).where(NodeRow.state == "ready", NodeRow.http_url != "")
                )
            )
        segments = [_plan_segment(r) for r in rows]
        node = clip_plan.assembler(segments, lo, hi, ready)
        if node is None:
            names = ", ".join(sorted(_name(nodes.get(n), n) for n in nodes))
            raise FailedPrecondition(
                f"the nodes holding this range ({names}) cannot serve it now and no other node "
                "can assemble it; try again when one is back"
            )
        for part in clip_plan.plan(segments, lo, hi, node).parts:
            if not part.cold and part.node_id not in ready:
                row = next(r for r in rows if r.id == part.id)
                raise FailedPrecondition(_unreachable(nodes.get(part.node_id), part.node_id, row))
            if part.cold and self._cold is None:
                raise FailedPrecondition(
                    "part of this range is in the cold tier, which is not configured"
                )
        return node, True

    async def _part_url(
        self, row: RecordingRow, base: str | None, until: datetime, grant: Grant
    ) -> str | None:
        """Where the assembling node GETs `row` until `until` (the clip's own expiry): a
        presigned URL of its cold object (the node follows no redirect), else a signed download
        URL at its node; None when neither."""
        if row.tier == "cold" and row.object_key:
            ttl = max(timedelta(seconds=1), until - utcnow())
            cold = await self._cold_url(row, ttl)
            return cold.url if cold is not None else None
        if base is None:
            return None
        url, _ = urls.download_url(
            base, self._secret, row.id, file_name(row), ttl=until, grant=grant
        )
        return url

    async def _hole(
        self, session: AsyncSession, camera_id: str, hole: tuple[datetime, datetime]
    ) -> Gap:
        """A hole in a clip with the cause of the stored gap over it (UNKNOWN when none)."""
        row = await session.scalar(
            select(RecordingGapRow)
            .where(
                RecordingGapRow.camera_id == camera_id,
                RecordingGapRow.start_time < hole[1],
                or_(RecordingGapRow.end_time.is_(None), RecordingGapRow.end_time > hole[0]),
            )
            .order_by(RecordingGapRow.start_time)
            .limit(1)
        )
        if row is None:
            return Gap(hole[0], hole[1], GapCause.UNKNOWN, timeline.UNKNOWN)
        ids = tuple(n for n in (row.node_id, row.to_node_id) if n)
        return Gap(hole[0], hole[1], stored_cause(row.cause, row.reason), row.reason, ids)

    @staticmethod
    async def _node_row(session: AsyncSession, node_id: str) -> NodeRow | None:
        return await session.get(NodeRow, node_id)


def _plan_segment(row: RecordingRow) -> clip_plan.PlanSegment:
    return clip_plan.PlanSegment(
        row.id,
        row.node_id,
        row.start_time,
        row.end_time,
        cold=row.tier == "cold" and bool(row.object_key),
    )


def _ready(node: NodeRow | None) -> bool:
    return node is not None and node.state == "ready" and bool(node.http_url)


def _name(node: NodeRow | None, node_id: str) -> str:
    return node.name if node is not None else node_id


def _unreachable(node: NodeRow | None, node_id: str, row: RecordingRow) -> str:
    where = f"node {node.name}, which is {node.state}" if node else f"deleted node {node_id}"
    return (
        f"the part of this range from {iso(row.start_time)} to {iso(row.end_time)} is on "
        f"{where}, and not in the cold tier; export the clip again when the node is back, "
        "or export the parts before and after it"
    )
