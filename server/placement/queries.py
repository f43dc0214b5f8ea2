"""Reads of placement history (CameraService.ListPlacements): a camera's placements, newest
first.

Paged by keyset on the row id, not by offset: the scheduler appends placements while someone
pages through them, and an offset would then show a row twice. Ids only grow, so "newest first"
is "highest id first" (two decisions of one millisecond keep the order they were made in).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.common.listing import (
    decode_position,
    encode_position,
    query_fingerprint,
    resolve_page_size,
)
from server.common.validation import require_id
from server.db.models import CameraRow, PlacementRow
from server.errors import NotFound
from server.placement.model import Placement, PlacementReason


@dataclass(frozen=True)
class PlacementPage:
    """One page of a camera's placement history."""

    placements: list[Placement]
    next_page_token: str


def placement_of(row: PlacementRow) -> Placement:
    """The domain form of a stored placement (an unknown stored reason reads as PLACED rather
    than failing a read of history written by a newer version)."""
    try:
        reason = PlacementReason(row.reason)
    except ValueError:
        reason = PlacementReason.PLACED
    return Placement(
        camera_id=row.camera_id,
        from_node_id=row.from_node_id,
        to_node_id=row.to_node_id,
        reason=reason,
        message=row.message,
        epoch=row.epoch,
        time=row.time,
    )


def _read_after(position: Mapping[str, Any]) -> int | None:
    """The id of the last placement of the previous page, None if the token holds no such."""
    last = position.get("i")
    if not isinstance(last, int) or isinstance(last, bool) or last < 0:
        return None
    return last


class PlacementQueries:
    """Placement history reads."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def list(self, camera_id: str, page_size: int, page_token: str) -> PlacementPage:
        """The camera's placements, newest first; NotFound for a camera that does not exist."""
        require_id(camera_id, "camera_id")
        size = resolve_page_size(page_size)
        fingerprint = query_fingerprint("placements", camera_id)
        after = decode_position(page_token, fingerprint, _read_after, query="camera_id")
        stmt = select(PlacementRow).where(PlacementRow.camera_id == camera_id)
        if after is not None:
            stmt = stmt.where(PlacementRow.id < after)
        async with self._sessions() as session:
            if await session.scalar(select(CameraRow.id).where(CameraRow.id == camera_id)) is None:
                raise NotFound(f"camera {camera_id} does not exist")
            rows = list(
                await session.scalars(stmt.order_by(PlacementRow.id.desc()).limit(size + 1))
            )
        more = len(rows) > size
        del rows[size:]
        token = encode_position({"i": rows[-1].id}, fingerprint) if more else ""
        return PlacementPage([placement_of(r) for r in rows], token)
