"""Exported clips: assembled with ffmpeg on first request, kept in a cache of their own.

Work a viewer can trigger is bounded (DESIGN §6):
- assemblies at once, per node and per user (from the signed URL's grant): over either limit
  the request is refused with ExportBusy (HTTP 429 with Retry-After) rather than queued, so a
  burst of URLs never starts a burst of ffmpeg;
- the cache has its own byte budget: least recently used clips are evicted to make room, and a
  clip larger than the whole budget is not kept (ExportTooLarge, HTTP 507);
- the cache sits on the recordings disk, so the free-space floor reclaims it first (reclaim(),
  called by node_agent.recording.retention before it deletes any recording): an export never
  costs a recording.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from node_agent.desired import PlaybackPolicy
from node_agent.recording.clip_parts import (
    Piece,
    RemotePart,
    concat_plan,
    concat_text,
    fetch_parts,
    file_times,
    remove_tree,
)
from node_agent.recording.index import Segment
from node_agent.recording.media import has_audio
from node_agent.tasks import cancel_and_wait

log = logging.getLogger(__name__)

EXPORT_TIMEOUT_S = 900.0
# What a refused request is told to wait before trying again.
RETRY_AFTER_S = 10


class ExportBusy(Exception):
    """Too many clips are being assembled (on the node, or for this user); try again later."""

    retry_after_s = RETRY_AFTER_S


class ExportTooLarge(Exception):
    """The clip would not fit in the node's export cache."""


@dataclass(frozen=True)
class ClipRequest:
    """One clip to assemble: the segments holding it (this node's, and the parts it fetches
    from other nodes for a clip spanning a failover), its range, its file and its user."""

    segments: list[Segment]
    start: datetime
    end: datetime
    target: Path
    user: str
    remote: tuple[RemotePart, ...] = ()

    @property
    def estimated_bytes(self) -> int:
        """At most the bytes the clip will take: the overlapping share of each segment (a
        stream copy; MPEG-TS carries more overhead than MP4)."""
        total = 0.0
        for s in self.segments:
            span = (s.end - s.start).total_seconds()
            inside = (min(s.end, self.end) - max(s.start, self.start)).total_seconds()
            total += s.size_bytes * (max(0.0, inside) / span if span > 0 else 1.0)
        return int(total) + sum(p.size_bytes for p in self.remote)


@dataclass
class _Build:
    task: asyncio.Task[bool]
    user: str
    estimate: int


class ExportCache:
    """Clips of this node, within the policy's budget and concurrency."""

    def __init__(
        self,
        directory: Path,
        policy: Callable[[], PlaybackPolicy],
        *,
        ffmpeg: str = "ffmpeg",
        ffprobe: str = "ffprobe",
        now: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self._policy = policy
        self._ffmpeg = ffmpeg
        self._ffprobe = ffprobe
        self._now = now
        self._building: dict[Path, _Build] = {}

    def path_for(
        self, camera_id: str, start_ms: int, end_ms: int, expires: int, *, spread: bool = False
    ) -> Path:
        """The file of one clip URL (the expiry is in the name: removed once it passed); a
        clip assembled across nodes has a name of its own."""
        kind = "_spread" if spread else ""
        return self.directory / f"{camera_id}_{start_ms}_{end_ms}{kind}_{expires}.mp4"

    def cached(self, target: Path) -> bool:
        """True when `target` is assembled; marks it used (the cache evicts by last use)."""
        try:
            os.utime(target)
        except OSError:
            return False
        return True

    # --- assembling -------------------------------------------------------------------------

    async def get(self, clip: ClipRequest) -> bool:
        """Assemble `clip` (or wait for the assembly already under way); False if ffmpeg
        failed. ExportBusy before anything starts; ExportTooLarge when the clip turned out
        larger than the whole cache (it is not kept)."""
        build = self._building.get(clip.target)
        if build is None:
            build = self._start(clip)
        try:
            # Shielded: a client that gives up does not stop the clip for the next request.
            return await asyncio.shield(build.task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if build.task.cancelled() and not (current and current.cancelling()):
                return False  # stopped to free disk space, not this request cancelled
            raise

    def _start(self, clip: ClipRequest) -> _Build:
        policy = self._policy()
        users = sum(1 for b in self._building.values() if b.user == clip.user)
        if users >= policy.exports_per_principal:
            raise ExportBusy(
                f"you are already exporting {users} clip{'s' * (users != 1)} on this node (the "
                f"limit per user is {policy.exports_per_principal}); try again when "
                f"{'it is' if users == 1 else 'they are'} done"
            )
        if len(self._building) >= policy.exports_per_node:
            raise ExportBusy(
                f"this node is already exporting {len(self._building)} clips (its limit is "
                f"{policy.exports_per_node}); try again in a moment"
            )
        # Room for it first (the estimate is an upper bound: MPEG-TS carries more overhead
        # than MP4); whether it fits at all is known once it is assembled.
        estimate = min(clip.estimated_bytes, policy.export_cache_bytes)
        pending = sum(b.estimate for b in self._building.values())
        self._evict(policy.export_cache_bytes - pending - estimate)
        build = _Build(asyncio.create_task(self._assemble(clip)), clip.user, estimate)
        self._building[clip.target] = build
        build.task.add_done_callback(lambda _: self._building.pop(clip.target, None))
        return build

    async def _assemble(self, clip: ClipRequest) -> bool:
        """ffmpeg stream copy of the segments (and the parts fetched from other nodes first),
        trimmed to the range, into the clip's file."""
        self.directory.mkdir(parents=True, exist_ok=True)
        target = clip.target
        parts_dir = self.directory / ".parts" / target.stem
        try:
            return await self._join(clip, parts_dir)
        finally:
            await asyncio.to_thread(remove_tree, parts_dir)

    async def _join(self, clip: ClipRequest, parts_dir: Path) -> bool:
        target = clip.target
        pieces = [Piece(s.path, s.start, s.end) for s in clip.segments]
        if clip.remote:
            # Within the same budget as the clip itself: the parts are on this disk meanwhile.
            pieces += await fetch_parts(
                clip.remote, parts_dir, budget=self._policy().export_cache_bytes
            )
        entries = concat_plan(pieces)
        kept = [e.piece for e in entries]
        first = kept[0].start
        offset = max(0.0, (clip.start - first).total_seconds())
        # ffconcat's inpoint and outpoint are timestamps of their file: its first one, probed.
        # (No -ss: ffmpeg's seek in a concat input whose files do not all carry a duration,
        # as a hole's file does, makes an empty clip.)
        # A cut file and the one after it (its lead), and the first one when entered midway.
        cuts = [
            (e.piece.path, entries[i + 1].piece.path)
            for i, e in enumerate(entries)
            if e.cut_s is not None
        ]
        entered = [kept[0].path] if offset else []
        probed = dict.fromkeys([*entered, *(path for pair in cuts for path in pair)])
        times = {
            path: found
            for path in probed
            if (found := await file_times(self._ffprobe, path)) is not None
        }
        if offset and kept[0].path not in times:
            log.warning("export %s: the first segment's timestamps cannot be read", target.name)
            return False
        listing = target.with_suffix(".ffconcat")
        partial = target.with_suffix(".part.mp4")
        listing.write_text(concat_text(entries, times, offset))
        duration = (clip.end - max(clip.start, first)).total_seconds()
        audio = ["-map", "0:a"] if await has_audio(self._ffprobe, kept[0].path) else []
        argv = [
            self._ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
            # The first file's inpoint: the copy starts at the keyframe at or before the start.
            "-f", "concat", "-safe", "0", "-i", str(listing),
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
        except BaseException:  # timeout, shutdown or reclaimed: no ffmpeg outlives its clip
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
        budget = self._policy().export_cache_bytes
        if partial.stat().st_size > budget:
            partial.unlink(missing_ok=True)
            raise ExportTooLarge(
                f"this clip is larger than the node's export cache ({budget / 1e6:.0f} MB); "
                "export a shorter range"
            )
        os.replace(partial, target)  # whole or absent: nginx never serves half a clip
        # The cache holds to its budget for what is on disk: least recently used clips go.
        self._evict(budget, keep=target)
        return True

    # --- the budget -------------------------------------------------------------------------

    def _clips(self) -> list[tuple[float, int, Path]]:
        """Assembled clips as (last use, bytes, path), least recently used first."""
        found = []
        if not self.directory.is_dir():
            return []
        for path in self.directory.glob("*.mp4"):
            if path.name.endswith(".part.mp4"):
                continue
            with contextlib.suppress(OSError):
                stat = path.stat()
                found.append((stat.st_mtime, stat.st_size, path))
        return sorted(found)

    def usage(self) -> int:
        """Bytes the cache holds on disk (partial clips included)."""
        if not self.directory.is_dir():
            return 0
        total = 0
        for path in self.directory.iterdir():
            with contextlib.suppress(OSError):
                total += path.stat().st_size
        return total

    def _evict(self, allowed: int, keep: Path | None = None) -> int:
        """Delete least recently used clips until the cache holds at most `allowed` bytes;
        bytes freed. nginx keeps sending a file it opened already."""
        freed = 0
        used = self.usage()
        for _, size, path in self._clips():
            if used - freed <= allowed:
                break
            if path == keep:
                continue
            path.unlink(missing_ok=True)
            freed += size
            log.info("export cache: evicted %s (%d bytes)", path.name, size)
        return freed

    async def reclaim(self, needed: int) -> int:
        """Free at least `needed` bytes if the cache holds them: least recently used clips
        first, then clips being assembled (their ffmpeg is stopped); bytes freed. Called when
        the disk is short, before any recording is deleted."""
        used = await asyncio.to_thread(self.usage)
        freed = await asyncio.to_thread(self._evict, max(0, used - needed))
        if freed < needed and self._building:
            log.warning("disk short: stopping %d clip export(s) under way", len(self._building))
            before = await asyncio.to_thread(self.usage)
            await self._cancel_builds()
            freed += max(0, before - await asyncio.to_thread(self.usage))
        return freed

    def remove_expired(self) -> None:
        """Delete cached clips whose URL has expired (the expiry is in the file name)."""
        now = self._now()
        for _, _, path in self._clips():
            expires = path.stem.rsplit("_", 1)[-1]
            if expires.isdigit() and int(expires) <= now and path not in self._building:
                path.unlink(missing_ok=True)

    async def _cancel_builds(self) -> None:
        await cancel_and_wait([b.task for b in self._building.values()], quiet=True)

    async def close(self) -> None:
        """Stop clips being assembled (their ffmpeg is killed)."""
        await self._cancel_builds()
