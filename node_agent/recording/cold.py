"""Moves segments to the cold tier (an S3-compatible object store) by age, deletes them there,
and finishes a move a crash interrupted.

A segment older than the cold tier's age moves from the node's disks (warm, or hot on a node
without a warm tier; oldest first) in this order:

1. upload the file to `<prefix><relative path>` with its MD5 (the store refuses a corrupt
   body), then read back the object's size, ETag and SHA-256 and compare them with the index;
2. point the index row at the object (tier COLD, bucket, key) — SQLite, synced;
3. spool the MOVED event (tier COLD, bucket, key) in the outbox, which keeps it until the
   control plane has stored it (its event id derives from the segment: a re-spool is no
   duplicate);
4. delete the local file.

The invariant: **a segment's local file is deleted only after the index names a verified
object and the MOVED event is spooled.** So whenever the agent or the store dies:
- before 2, the index still names the local file, which is intact; an object left by an
  interrupted upload is overwritten by the next attempt under the same key;
- between 2 and 4, the row says COLD while the local file is still there: `recover()` (run at
  start, before the store's own rescan, needing no store) spools MOVED again and deletes the file;
- a store that fails in 1 leaves everything as it was; the pass stops (one failure, not one per
  segment), a MOVES_BLOCKED event says why once, the store is tried again after 10 s, doubling
  up to 2 min (at once after a settings change), and a pass that succeeds sends MOVES_RESUMED.
Deleting a COLD segment deletes the object first, then the row: a store that is down keeps the
row, so retention (or the control plane's pending deletion) tries again and nothing is left
behind in the bucket that the index forgot.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from datetime import UTC, datetime, timedelta

from node_agent.desired import ColdStorage
from node_agent.outbox import Outbox
from node_agent.recording import wire
from node_agent.recording.cold_store import ColdStore, ColdStoreError
from node_agent.recording.index import Segment
from node_agent.recording.store import SegmentStore
from node_agent.recording.tiers import StorageTier

log = logging.getLogger(__name__)

COLD = StorageTier.COLD
# Segments looked at per pass.
_BATCH = 200
# After a failed pass, the store is tried again after this long, doubling up to the cap (an
# upload refused for its keys would otherwise send the same file every housekeeping pass).
RETRY_AFTER_S = 10.0
RETRY_CAP_S = 120.0


class ColdMover:
    """The cold tier of one node: moves, deletions, crash recovery; None store: no cold tier."""

    def __init__(self, store: SegmentStore, outbox: Outbox, lock: asyncio.Lock) -> None:
        self._segments = store
        self._outbox = outbox
        # The recording manager's lock: no deletion slips between the index switch and the
        # local file's removal.
        self._lock = lock
        self.store: ColdStore | None = None
        # Why moves are blocked now ("" when they are not).
        self.blocked = ""
        self._failures = 0
        self._retry_at = 0.0
        store.cold = self

    def configure(self, config: ColdStorage | None) -> None:
        """Use the store `config` names from the next pass on (None: no cold tier)."""
        self.store = ColdStore(config) if config is not None else None
        # New keys or another store: try at once.
        self._failures, self._retry_at = 0, 0.0
        if config is None and self.blocked:
            self.blocked = ""

    async def move_old(self, now: datetime | None = None) -> list[Segment]:
        """Move segments older than the cold tier's age to the store; the moved ones."""
        store = self.store
        if store is None or time.monotonic() < self._retry_at:
            return []
        now = now or datetime.now(UTC)
        cutoff = now - timedelta(seconds=store.config.after_s)
        candidates: list[Segment] = []
        for tier in self._segments.tiers:
            candidates += await asyncio.to_thread(
                self._segments.index.ended_before, cutoff, tier, _BATCH
            )
        candidates.sort(key=lambda s: s.end)
        moved: list[Segment] = []
        for segment in candidates[:_BATCH]:
            try:
                done = await self._move(store, segment)
            except ColdStoreError as exc:
                self._failures += 1
                wait = min(RETRY_CAP_S, RETRY_AFTER_S * 2 ** (self._failures - 1))
                self._retry_at = time.monotonic() + wait
                await self._block(str(exc))
                return moved
            except OSError as exc:
                # The local file went (deleted meanwhile) or cannot be read: the next pass.
                log.warning("cannot move segment %s to the cold tier: %s", segment.id, exc)
                continue
            if done is not None:
                moved.append(done)
        if candidates:
            self._failures = 0
            await self._unblock()
        return moved

    async def _move(self, store: ColdStore, segment: Segment) -> Segment | None:
        key = store.key_for(segment.relative_path)
        await asyncio.to_thread(store.upload, segment.path, key, segment.size_bytes, segment.sha256)
        async with self._lock:
            index = self._segments.index
            current = await asyncio.to_thread(index.get, segment.id)
            if current is None or current.tier != segment.tier:
                # Deleted (or moved) while it was uploading: the object must not outlive it.
                if current is None:
                    await asyncio.to_thread(store.delete, store.config.bucket, key)
                return None
            moved = await asyncio.to_thread(
                index.moved, segment.id, COLD, segment.relative_path, store.config.bucket, key
            )
            if moved is None:
                return None
            await self._finish(moved, segment.tier)
        return moved

    async def _finish(self, moved: Segment, local: StorageTier) -> None:
        """Steps 3 and 4: spool MOVED, then delete the local copy."""
        try:
            await wire.segment_moved(self._outbox, moved)
        except (sqlite3.Error, OSError) as exc:
            # The local file stays, so recover() spools MOVED again at the next start.
            log.error("cannot spool the move of %s (%s); the local copy stays", moved.id, exc)
            return
        place = self._segments.tiers.get(local)
        if place is not None:
            await asyncio.to_thread(place.remove, moved.relative_path)

    async def recover(self) -> int:
        """Finish moves a crash interrupted after the index switch: spool MOVED again and delete
        the local copy. Needs no store. Run before SegmentStore.recover(); how many."""
        index = self._segments.index
        finished = 0
        for relative in await asyncio.to_thread(index.paths, COLD):
            segment = await asyncio.to_thread(index.by_path, COLD, relative)
            if segment is None:
                continue
            for tier, place in self._segments.tiers.items():
                if await asyncio.to_thread(place.path_for(relative).is_file):
                    await self._finish(segment, tier)
                    finished += 1
        if finished:
            log.info("finished %d moves to the cold tier a crash interrupted", finished)
        return finished

    async def remove(self, segment: Segment) -> bool:
        """Delete a COLD segment's object; False (the row stays) when the store refuses."""
        store = self.store
        if store is None:
            log.warning(
                "segment %s is in the cold tier, which is no longer configured: kept", segment.id
            )
            return False
        try:
            await asyncio.to_thread(store.delete, segment.object_bucket, segment.object_key)
        except ColdStoreError as exc:
            log.warning("cannot delete segment %s from the cold tier yet: %s", segment.id, exc)
            return False
        return True

    async def _block(self, reason: str) -> None:
        if reason == self.blocked:
            return
        self.blocked = reason
        log.error("moves to the cold tier stopped; segments stay on the node's disks: %s", reason)
        await self._tell(True, f"segments stay on the node's disks: {reason}")

    async def _unblock(self) -> None:
        if not self.blocked:
            return
        self.blocked = ""
        log.info("moves to the cold tier go again")
        await self._tell(False, "moves to the cold tier go again")

    async def _tell(self, blocked: bool, reason: str) -> None:
        try:
            await wire.tier_moves_changed(self._outbox, COLD, blocked, reason)
        except (sqlite3.Error, OSError) as exc:
            log.error("cannot spool the cold tier's state (%s): %s", exc, reason)
