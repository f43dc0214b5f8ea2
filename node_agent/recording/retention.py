"""Retention and disk safety: each camera's maximum age and bytes, a free-space floor on every
tier (the export cache on that disk goes first, then the oldest segments of the node), and
moves from hot to warm by age."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from node_agent.desired import AssignedCamera
from node_agent.recording.index import Segment
from node_agent.recording.store import SegmentStore
from node_agent.recording.tiers import StorageTier, Tier

log = logging.getLogger(__name__)

HOT = StorageTier.HOT
WARM = StorageTier.WARM


@dataclass(frozen=True)
class Limits:
    """One camera's retention (0: no limit)."""

    max_age_s: float = 0.0
    max_bytes: int = 0

    @classmethod
    def of(cls, camera: AssignedCamera) -> Limits:
        """The limits an assignment sets for `camera`."""
        return cls(camera.retention_max_age_s, camera.retention_max_bytes)


class SpaceReclaimer(Protocol):
    """Disk space that is worth less than recordings (node_agent.recording.exports)."""

    directory: Path

    async def reclaim(self, needed: int) -> int:
        """Free up to `needed` bytes; how many were freed."""
        ...


def _same_disk(directory: Path, place: Tier) -> bool:
    """True when `directory` is on the filesystem of the tier (always for the hot tier's data
    directory; a warm share is elsewhere)."""
    root = getattr(place, "root", None)
    if root is None:
        return False
    try:
        probe = directory if directory.exists() else directory.parent
        return os.stat(probe).st_dev == os.stat(root).st_dev
    except OSError:
        return False


@dataclass(frozen=True)
class FreeSpace:
    """The outcome of enforcing the free-space floor on one tier."""

    tier: StorageTier
    deleted: int
    freed_bytes: int
    free_bytes: int
    # True when everything deletable is gone and the floor is still not met.
    exhausted: bool


class Housekeeper:
    """Applies retention, the free-space floor and tier moves to a SegmentStore."""

    def __init__(self, store: SegmentStore, min_free_bytes: int, warm_after_s: float) -> None:
        self.store = store
        self.min_free_bytes = min_free_bytes
        self.warm_after_s = warm_after_s
        # Reclaimed before any segment is deleted for space (set by the agent).
        self.exports: SpaceReclaimer | None = None

    async def retain(self, camera_id: str, limits: Limits, reserve_bytes: int = 0) -> int:
        """Delete `camera_id`'s segments older than its age limit, then its oldest while its
        bytes plus `reserve_bytes` (room for the segment being written) exceed its quota;
        how many went."""
        index = self.store.index
        deleted = 0
        if limits.max_age_s > 0:
            cutoff = datetime.now(UTC) - timedelta(seconds=limits.max_age_s)
            reason = f"retention: older than {limits.max_age_s:g}s"
            while old := [
                s for s in await asyncio.to_thread(index.oldest, camera_id) if s.end < cutoff
            ]:
                for segment in old:
                    deleted += await self.store.delete(segment, reason)
                if len(old) < 100:
                    break
        if limits.max_bytes > 0:
            reason = f"retention: over {limits.max_bytes} bytes"
            total = await asyncio.to_thread(index.bytes_for, camera_id)
            while total + reserve_bytes > limits.max_bytes:
                oldest = await asyncio.to_thread(index.oldest, camera_id, 1)
                if not oldest or not await self.store.delete(oldest[0], reason):
                    break
                total -= oldest[0].size_bytes
                deleted += 1
        return deleted

    async def free_space(self, tier: StorageTier, floor: int | None = None) -> FreeSpace:
        """Delete the tier's oldest segments until it has `floor` (default: --min-free-bytes)
        bytes free; exported clips on the same disk go first, and may be all that goes."""
        place = self.store.tiers[tier]
        floor = self.min_free_bytes if floor is None else floor
        deleted = freed = 0
        free = await asyncio.to_thread(place.free_bytes)
        if free < floor and self.exports is not None and _same_disk(self.exports.directory, place):
            reclaimed = await self.exports.reclaim(floor - free)
            if reclaimed:
                log.warning("disk space low: dropped %d bytes of exported clips", reclaimed)
                free = await asyncio.to_thread(place.free_bytes)
        reason = f"disk space: less than {floor} bytes free"
        while free < floor:
            oldest = await asyncio.to_thread(
                self.store.index.ended_before, datetime.max.replace(tzinfo=UTC), tier, 1
            )
            if not oldest:
                return FreeSpace(tier, deleted, freed, free, exhausted=True)
            if not await self.store.delete(oldest[0], reason):
                return FreeSpace(tier, deleted, freed, free, exhausted=True)
            deleted += 1
            freed += oldest[0].size_bytes
            free = await asyncio.to_thread(place.free_bytes)
        if deleted:
            log.warning(
                "tier %s was below %d bytes free: deleted the %d oldest segments (%d bytes)",
                tier.name.lower(),
                floor,
                deleted,
                freed,
            )
        return FreeSpace(tier, deleted, freed, free, exhausted=False)

    async def move_old(self, now: datetime | None = None) -> list[Segment]:
        """Move hot segments older than --warm-after to the warm tier (if there is one and it
        has room); the moved ones."""
        if WARM not in self.store.tiers:
            return []
        now = now or datetime.now(UTC)
        warm = self.store.tiers[WARM]
        cutoff = now - timedelta(seconds=self.warm_after_s)
        moved: list[Segment] = []
        for segment in await asyncio.to_thread(self.store.index.ended_before, cutoff, HOT, 200):
            free = await asyncio.to_thread(warm.free_bytes)
            if free - segment.size_bytes < self.min_free_bytes:
                log.warning("the warm tier is full; segments stay hot for now")
                break
            try:
                done = await self.store.move(segment, WARM)
            except OSError as exc:
                log.error("cannot move segment %s to the warm tier: %s", segment.id, exc)
                break
            if done is not None:
                moved.append(done)
        return moved
