"""Segment files and their index kept in step: a finished file is measured, indexed and
reported; a deletion or tier move updates files, index and control plane together; and on
start, what a crash left behind is reconciled (unindexed files finalized, moves finished,
rows without files dropped, unreported segments reported).

Order matters for crash safety: a file is indexed only once complete; a move copies and syncs
before the index points at the copy, and only then removes the original; a deletion drops the
row before the file, so the index never names a file that is gone for good. A COLD segment's
object is deleted before its row (node_agent.recording.cold says why).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from node_agent.desired import RecordingProfile
from node_agent.outbox import Outbox
from node_agent.recording import wire
from node_agent.recording.index import Segment, SegmentIndex
from node_agent.recording.media import (
    CONTAINER,
    PROFILE_BY_NAME,
    ProbeFailed,
    digest,
    probe_duration,
)
from node_agent.recording.run import SegmentFile
from node_agent.recording.tiers import StorageTier, Tier

log = logging.getLogger(__name__)

HOT = StorageTier.HOT
FILE_MISSING = "the file was gone from disk"


@dataclass(frozen=True)
class Unindexed:
    """A segment file no index row names, found by the start-up rescan."""

    tier: StorageTier
    relative_path: str


@dataclass(frozen=True)
class Recovery:
    """What the start-up rescan did."""

    finalized: int = 0
    discarded: int = 0
    moves_finished: int = 0
    rows_dropped: int = 0


def describe_path(relative: str) -> tuple[str, RecordingProfile] | None:
    """Camera id and profile of a recorder's file `camera/day/stamp-profile-n.ts`."""
    parts = relative.split("/")
    if len(parts) != 3:
        return None
    fields = parts[2].rsplit("-", 2)
    if len(fields) != 3:
        return None
    return parts[0], PROFILE_BY_NAME.get(fields[1], RecordingProfile.ORIGINAL)


class ColdObjects(Protocol):
    """The cold tier's objects (node_agent.recording.cold.ColdMover)."""

    async def remove(self, segment: Segment) -> bool:
        """Delete `segment`'s object (gone already is fine); False if the store refused."""
        ...


class SegmentStore:
    """Files, index and events of this node's segments."""

    def __init__(
        self,
        index: SegmentIndex,
        tiers: dict[StorageTier, Tier],
        outbox: Outbox,
        ffprobe: str,
        epoch_of: Callable[[str], int] = lambda camera_id: 0,
    ):
        self.index = index
        # The placement epoch a camera runs (or last ran) under here, stamped on its segments.
        self._epoch_of = epoch_of
        self.tiers = tiers
        self._outbox = outbox
        self._ffprobe = ffprobe
        # Events that could not be spooled (a full disk): retried by retry().
        self._unsent: list[tuple[str, str, str]] = []
        # Files ffprobe did not answer about in time: retried by retry().
        self._unmeasured: list[tuple[SegmentFile, StorageTier]] = []
        # Deletes COLD segments' objects (node_agent.recording.cold; None: no cold tier).
        self.cold: ColdObjects | None = None

    # ----- new segments -----------------------------------------------------------------------

    async def add(
        self, file: SegmentFile, tier: StorageTier = HOT, measured: float | None = None
    ) -> Segment | None:
        """Measure `file` (unless `measured` says its duration), index it and report it; None
        (file removed) if it holds no media."""
        place = self.tiers[tier]
        duration = measured
        if duration is None:
            try:
                duration = await probe_duration(self._ffprobe, file.path)
            except ProbeFailed as exc:
                # Never delete what could not be measured: try again later.
                log.warning("%s; measured again later", exc)
                self._unmeasured.append((file, tier))
                return None
        if duration is None:
            log.warning("%s holds no playable media; removed", file.path)
            await asyncio.to_thread(place.remove, file.relative_path)
            return None
        try:
            size, sha = await asyncio.to_thread(digest, file.path)
        except OSError as exc:
            log.error("cannot read %s to index it: %s", file.path, exc)
            return None
        start, end = file.start, file.end or file.start + timedelta(seconds=duration)
        if file.end is not None and file.end - timedelta(seconds=duration + 0.1) > start:
            # ffmpeg drops what comes before the first keyframe: the media starts later than
            # the run's clock says, by what the measured duration lacks.
            start = file.end - timedelta(seconds=duration)
        if file.not_before is not None and start < file.not_before:
            # The previous run's clock ran ahead (its publisher caught up in a burst): trim the
            # overlap here rather than push this run later, which would carry the error on.
            start = min(file.not_before, end)
        segment = Segment(
            id=str(uuid.uuid4()),
            camera_id=file.camera_id,
            start=start,
            end=end,
            duration_s=round(duration, 3),
            size_bytes=size,
            sha256=sha,
            tier=tier,
            profile=file.profile,
            container=CONTAINER,
            recovered=file.recovered,
            relative_path=file.relative_path,
            path=file.path,
            epoch=self._epoch_of(file.camera_id),
        )
        try:
            added = await asyncio.to_thread(self.index.add, segment)
        except sqlite3.Error as exc:
            # Left on disk: the next start's rescan indexes it.
            log.error("cannot index %s (%s); it is indexed at the next start", file.path, exc)
            return None
        if not added:
            # Another path indexed this file first, under its own id, and reported that (chaos
            # soak: after an nginx kill one file was reported twice with two ids, and the
            # control plane listed the same media twice). The index holds it once: so does
            # the report.
            log.info("%s is indexed already; not reported again", file.path)
            return await asyncio.to_thread(self.index.by_path, tier, file.relative_path)
        await self._report(segment)
        return segment

    async def _report(self, segment: Segment) -> None:
        try:
            await wire.segment_closed(self._outbox, segment)
            await asyncio.to_thread(self.index.mark_reported, segment.id)
        except (sqlite3.Error, OSError) as exc:
            log.error("cannot spool segment %s yet (%s); retried later", segment.id, exc)

    async def report_unreported(self) -> int:
        """Spool the CLOSED event of every segment not reported yet (same event ids as any
        earlier attempt, so none is stored twice); how many."""
        pending = await asyncio.to_thread(self.index.unreported)
        for segment in pending:
            await self._report(segment)
        return len(pending)

    # ----- deletions and moves ----------------------------------------------------------------

    async def delete(self, segment: Segment, reason: str) -> bool:
        """Delete `segment` (row, then file) and report it; False if it could not be done."""
        # Where the file is now (a move may have come in between).
        current = await asyncio.to_thread(self.index.get, segment.id)
        if current is None:
            return False
        segment = current
        # A COLD object goes first: a store that is down keeps the row, and this deletion is
        # retried (by retention's next pass, or the control plane's pending deletion).
        if segment.tier == StorageTier.COLD and (
            self.cold is None or not await self.cold.remove(segment)
        ):
            return False
        place = self.tiers.get(segment.tier)
        try:
            if not await asyncio.to_thread(self.index.remove, segment.id):
                return False  # deleted already (retention and a request at once)
        except sqlite3.Error as exc:
            if place is None:
                return False
            # Probably a full disk, which this deletion is meant to cure: free the file's
            # space first and try again; a row left behind is dropped by the next rescan.
            log.warning("cannot drop segment %s from the index (%s); file first", segment.id, exc)
            await asyncio.to_thread(place.remove, segment.relative_path)
            try:
                await asyncio.to_thread(self.index.remove, segment.id)
            except sqlite3.Error:
                return False
        if place is not None:
            await asyncio.to_thread(place.remove, segment.relative_path)
        await self._send_deleted(segment.id, segment.camera_id, reason)
        return True

    async def _send_deleted(self, segment_id: str, camera_id: str, reason: str) -> None:
        try:
            await wire.segment_deleted(self._outbox, segment_id, camera_id, reason)
        except (sqlite3.Error, OSError) as exc:
            log.error("cannot spool the deletion of %s yet (%s)", segment_id, exc)
            self._unsent.append((segment_id, camera_id, reason))

    async def move(self, segment: Segment, tier: StorageTier) -> Segment | None:
        """Move `segment`'s file to `tier`: copy and sync, point the index at the copy, then
        remove the original; the moved Segment."""
        source, target = self.tiers[segment.tier], self.tiers[tier]
        await asyncio.to_thread(target.store, segment.path, segment.relative_path)
        moved = await asyncio.to_thread(self.index.moved, segment.id, tier, segment.relative_path)
        if moved is None:
            # Deleted while it was being copied: the copy must not outlive it.
            await asyncio.to_thread(target.remove, segment.relative_path)
            return None
        await asyncio.to_thread(source.remove, segment.relative_path)
        try:
            await wire.segment_moved(self._outbox, moved)
        except (sqlite3.Error, OSError) as exc:
            log.error("cannot spool the move of %s (%s)", segment.id, exc)
        return moved

    async def retry(self) -> None:
        """Spool what could not be spooled before."""
        unmeasured, self._unmeasured = self._unmeasured, []
        for file, tier in unmeasured:
            await self.add(file, tier)
        unsent, self._unsent = self._unsent, []
        for segment_id, camera_id, reason in unsent:
            await self._send_deleted(segment_id, camera_id, reason)
        await self.report_unreported()

    # ----- after a crash ------------------------------------------------------------------------

    async def recover(self) -> Recovery:
        """Reconcile disk and index after a start, every unindexed file finalized in turn (no
        recorder may be running yet). The agent runs reconcile() and indexes in the background
        instead (node_agent.recording.backfill), so that it never waits for this."""
        recovery, unindexed = await self.reconcile()
        finalized = 0
        for file in unindexed:
            finalized += await self.finalize(file)
        return replace(recovery, finalized=finalized, discarded=len(unindexed) - finalized)

    async def reconcile(self) -> tuple[Recovery, list[Unindexed]]:
        """The quick part of the start-up rescan (no file is measured): interrupted moves
        finished, rows without files dropped, unreported segments spooled; and the files no
        row names, for finalize(). Taken before any recorder starts, so every file listed is
        one a stopped recorder left (a new run writes under new names)."""
        moves = dropped = 0
        unindexed: list[Unindexed] = []
        for tier_value, tier in self.tiers.items():
            await asyncio.to_thread(tier.discard_incomplete)
            files = await asyncio.to_thread(tier.files)
            indexed = await asyncio.to_thread(self.index.paths, tier_value)
            for relative in files:
                if relative in indexed:
                    continue
                if await self._finish_move(tier_value, relative):
                    moves += 1
                    continue
                unindexed.append(Unindexed(tier_value, relative))
            if indexed and not files:
                # Every indexed file gone at once is an unmounted share, not a deletion: keep
                # the rows and say so.
                log.error(
                    "no segment files in the %s tier although %d are indexed there; is it "
                    "mounted? The index is kept as it is",
                    tier_value.name.lower(),
                    len(indexed),
                )
                continue
            for relative in indexed - set(files):
                segment = await asyncio.to_thread(self.index.by_path, tier_value, relative)
                if segment is None or await asyncio.to_thread(segment.path.exists):
                    continue
                log.warning("segment %s is indexed but %s is gone", segment.id, segment.path)
                await asyncio.to_thread(self.index.remove, segment.id)
                await self._send_deleted(segment.id, segment.camera_id, FILE_MISSING)
                dropped += 1
        await self.report_unreported()
        result = Recovery(moves_finished=moves, rows_dropped=dropped)
        if result != Recovery():
            log.info("recordings rescanned: %s", result)
        return result, unindexed

    async def _finish_move(self, tier: StorageTier, relative: str) -> bool:
        """If another tier's row names `relative`, a move was interrupted after its copy: keep
        the indexed file if it is there, else point the row at this one. Whether it was so."""
        for other in self.tiers:
            if other == tier:
                continue
            found = await asyncio.to_thread(self.index.by_path, other, relative)
            if found is None:
                continue
            if await asyncio.to_thread(found.path.exists):
                await asyncio.to_thread(self.tiers[tier].remove, relative)
            else:
                await asyncio.to_thread(self.index.moved, found.id, tier, relative)
            return True
        return False

    async def finalize(self, file: Unindexed, nice: int = 0) -> bool:
        """Index and report a file no index row names (the one being written when the agent
        died, or any a crash left behind); whether it is indexed now. `nice`: ffprobe's CPU
        priority (the background backfill runs it at the lowest, behind live work)."""
        place = self.tiers[file.tier]
        relative = file.relative_path
        described = describe_path(relative)
        path = place.path_for(relative)
        if described is None:
            log.warning("%s is not a recorder's file; left alone", path)
            return False
        if await asyncio.to_thread(self.index.by_path, file.tier, relative) is not None:
            return True  # indexed meanwhile (never twice: the index is unique by path)
        camera_id, profile = described
        try:
            modified = (await asyncio.to_thread(path.stat)).st_mtime
        except OSError:
            return False
        try:
            duration = await probe_duration(self._ffprobe, path, nice=nice)
        except ProbeFailed:
            duration = None  # add() measures again, and keeps the file if it fails again
        # Its last write is its end; measured media before that is its start.
        end = datetime.fromtimestamp(modified, UTC)
        start = end - timedelta(seconds=duration or 0.0)
        segment = SegmentFile(camera_id, profile, relative, path, start, end, recovered=True)
        return await self.add(segment, file.tier, measured=duration) is not None
