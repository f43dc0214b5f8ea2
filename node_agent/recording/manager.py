"""Recording on this node, assembled: one Recorder per camera whose assignment says `record`
and whose stream is live here, their segments indexed and reported, retention, free space and
tier moves applied periodically, and DeleteSegments requests carried out.

Everything here runs from the assignment and streams the agent already has, so recording goes
on while the control plane is away; its events wait in the spool.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import re
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from node_agent.assignment import CurrentAssignment
from node_agent.outbox import Outbox
from node_agent.recording import wire
from node_agent.recording.backfill import Backfill
from node_agent.recording.cold import ColdMover
from node_agent.recording.index import Segment, SegmentIndex
from node_agent.recording.recorder import Recorder
from node_agent.recording.retention import HOT, Housekeeper, Limits
from node_agent.recording.run import SegmentFile
from node_agent.recording.rungs import RungReuse
from node_agent.recording.spec import Gap, RecorderSpec, RecorderState
from node_agent.recording.store import Recovery, SegmentStore, Unindexed
from node_agent.recording.tiers import DirectoryTier
from node_agent.state import write_private
from node_agent.streams import StreamTracker
from node_agent.tasks import cancel_and_wait

log = logging.getLogger(__name__)

DELETED_BY_REQUEST = "deleted by request"
# Camera ids become directory names.
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
# A publish is recorded once media flows, or this long after it was accepted.
_START_AFTER_S = 1.0


@dataclass(frozen=True)
class RecordingSettings:
    """What the recording side needs from the agent's configuration."""

    rtmp_source: str  # loopback host:port of nginx's RTMP
    hls_root: Path  # nginx's live HLS, a directory per stream key
    ffmpeg: str
    ffprobe: str
    segment_s: float
    min_free_bytes: int
    warm_after_s: float
    log_dir: Path
    reconcile_interval_s: float = 0.5
    housekeeping_interval_s: float = 5.0
    # A one-time token for a recorder's play of a camera (node_agent.live_access.PlayTokens).
    play_token: Callable[[str], str] | None = None
    # Where the segment length in force is written for the collectors to follow live (None:
    # they keep the length they started with).
    segment_file: Path | None = None
    # ffprobes at once indexing the files a stopped agent left unindexed (at the lowest
    # priority, so more only help a machine with idle cores).
    backfill_workers: int = 2


class RecordingManager:
    """Recorders of this node and the housekeeping of what they wrote."""

    def __init__(
        self,
        settings: RecordingSettings,
        index: SegmentIndex,
        outbox: Outbox,
        assignment: CurrentAssignment,
        streams: StreamTracker,
    ) -> None:
        self.settings = settings
        self.index = index
        self.store = SegmentStore(
            index, index.tiers, outbox, settings.ffprobe, epoch_of=assignment.epoch_of
        )
        self.housekeeper = Housekeeper(self.store, settings.min_free_bytes, settings.warm_after_s)
        self._outbox = outbox
        self._assignment = assignment
        self._streams = streams
        self.recorders: dict[str, Recorder] = {}
        # Profiles a ladder rung already encodes (its `source` is set once ladders run).
        self.rungs = RungReuse()
        self.recovery = Recovery()
        self.backfill = Backfill(self.store, workers=settings.backfill_workers)
        # The stop of each camera's last recorder stopped: its successor waits for it to end.
        self._stopping: dict[str, asyncio.Task[None]] = {}
        self._ended: dict[str, float] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._disk_error = False
        self._last_size: dict[str, int] = {}
        self._lock = asyncio.Lock()
        # The cold tier (object storage), configured by the platform's settings.
        self.cold = ColdMover(self.store, outbox, self._lock)

    @property
    def hot(self) -> DirectoryTier:
        tier = self.store.tiers[HOT]
        assert isinstance(tier, DirectoryTier)
        return tier

    async def start(self) -> None:
        """Reconcile disk and index, then record, index what a crash left unindexed and keep
        house in the background."""
        await self._write_segment_file()
        # Cold first: a move interrupted after its index switch leaves a local copy that the
        # store's rescan would otherwise index a second time.
        await self.cold.recover()
        # Before any recorder starts, so that only files of stopped runs are listed; measuring
        # them waits for nobody (node_agent.recording.backfill).
        self.recovery, unindexed = await self.store.reconcile()
        self._tasks = [
            asyncio.create_task(self._backfill(unindexed), name="recording-backfill"),
            asyncio.create_task(self._loop(self.reconcile, self.settings.reconcile_interval_s)),
            asyncio.create_task(
                self._loop(self.housekeeping, self.settings.housekeeping_interval_s)
            ),
        ]

    async def stop(self) -> None:
        """Stop every recorder (each closes and indexes its last segment) and the loops."""
        await cancel_and_wait(self._tasks)
        self._tasks = []
        await asyncio.gather(
            *(r.stop("the node agent is stopping") for r in self.recorders.values()),
            return_exceptions=True,
        )
        self.recorders.clear()
        if self._stopping:
            await asyncio.gather(*self._stopping.values(), return_exceptions=True)

    async def apply_settings(
        self, segment_s: float, min_free_bytes: int, warm_after_s: float
    ) -> None:
        """The platform's settings changed: every recorder's next segments are `segment_s`
        long (no recorder of the `original` profile restarts), and the next housekeeping pass
        keeps `min_free_bytes` free and moves segments older than `warm_after_s`."""
        self.settings = dataclasses.replace(
            self.settings,
            segment_s=segment_s,
            min_free_bytes=min_free_bytes,
            warm_after_s=warm_after_s,
        )
        self.housekeeper.min_free_bytes = min_free_bytes
        self.housekeeper.warm_after_s = warm_after_s
        await self._write_segment_file()
        for recorder in self.recorders.values():
            recorder.set_segment_length(segment_s)

    async def _write_segment_file(self) -> None:
        path = self.settings.segment_file
        if path is not None:
            text = f"{self.settings.segment_s:g}\n".encode()
            await asyncio.to_thread(write_private, path, text)

    async def _backfill(self, unindexed: list[Unindexed]) -> None:
        done = await self.backfill.run(unindexed)
        self.recovery = dataclasses.replace(
            self.recovery, finalized=done.finalized, discarded=done.discarded
        )

    @staticmethod
    async def _loop(work: Callable[[], Awaitable[None]], interval_s: float) -> None:
        while True:
            try:
                await work()
            except Exception:
                log.exception("recording housekeeping failed")
            await asyncio.sleep(interval_s)

    # ----- which cameras record -----------------------------------------------------------

    def wanted(self) -> dict[str, RecorderSpec]:
        """Cameras that should be recording now, with what to record."""
        specs: dict[str, RecorderSpec] = {}
        now = time.monotonic()
        recording = [c for c in self._assignment.assignment.cameras if c.record]
        self.rungs.pin(c for c in recording if self._live(c.camera_id))
        for camera in recording:
            if not _SAFE_ID.match(camera.camera_id):
                continue
            publish = self._streams.by_camera(camera.camera_id)
            if publish is None or publish.end_reason:
                continue
            if not publish.media_flowing and now - publish.accepted_at < _START_AFTER_S:
                continue
            spec = self.rungs.spec(
                camera,
                RecorderSpec(
                    camera.camera_id,
                    # By camera id: the key must not be in ffmpeg's arguments (see on_play).
                    f"rtmp://{self.settings.rtmp_source}/live/{camera.camera_id}",
                    camera.record_profile,
                    fragments=self.settings.hls_root / publish.stream_key,
                    since=publish.started,
                ),
            )
            if spec is not None:
                specs[camera.camera_id] = spec
        return specs

    async def reconcile(self) -> None:
        """Start and stop recorders to match the assignment and the live streams."""
        wanted = self.wanted()
        now = time.monotonic()
        for camera_id, recorder in list(self.recorders.items()):
            spec = wanted.get(camera_id)
            if recorder.finished:
                del self.recorders[camera_id]
                self._ended[camera_id] = now
            elif spec != recorder.spec:
                del self.recorders[camera_id]
                self._ended[camera_id] = now
                self._stop_later(recorder, self._why_stopped(camera_id, spec))
        for camera_id, spec in wanted.items():
            # A recorder whose input just ended is not restarted in a tight loop.
            if camera_id in self.recorders or now - self._ended.get(camera_id, 0.0) < 1.0:
                continue
            # Nor before the last one has indexed its last file: the new one starts after it.
            stopping = self._stopping.get(camera_id)
            if stopping is not None and not stopping.done():
                continue
            self._stopping.pop(camera_id, None)
            recorder = Recorder(
                spec=spec,
                hot=self.hot,
                sink=self,
                ffmpeg=self.settings.ffmpeg,
                segment_s=self.settings.segment_s,
                log_path=self.settings.log_dir / f"recorder-{camera_id}.log",
                is_live=functools.partial(self._live, camera_id),
                play_token=self.settings.play_token,
                segment_file=self.settings.segment_file,
                resume_after=self.index.last_end(camera_id),
            )
            self.recorders[camera_id] = recorder
            recorder.start()

    def _live(self, camera_id: str) -> bool:
        publish = self._streams.by_camera(camera_id)
        return publish is not None and not publish.end_reason

    def _why_stopped(self, camera_id: str, spec: RecorderSpec | None) -> str:
        if spec is not None:
            return "the recording profile changed"
        camera = self._assignment.camera(camera_id)
        if camera is None or not camera.record:
            return "recording turned off"
        return "the stream ended"

    def _stop_later(self, recorder: Recorder, message: str) -> None:
        task = asyncio.create_task(recorder.stop(message))
        self._stopping[recorder.camera_id] = task

    # ----- RecorderSink ---------------------------------------------------------------------

    async def segment(self, file: SegmentFile) -> Segment | None:
        """A recorder finished a file: index and report it, then keep the camera in quota."""
        segment = await self.store.add(file)
        if segment is None:
            return None
        self._last_size[file.camera_id] = segment.size_bytes
        camera = self._assignment.camera(file.camera_id)
        if camera is not None and camera.retention_max_bytes > 0:
            # Room for what is on disk but not indexed yet (the file being written, any closed
            # one still being measured) and for two more segments: the one being written grows
            # to full size, and on a loaded machine the next one starts before this handler
            # runs again. Room for one and a half was outgrown by 0.4 of a segment in CI (a
            # 6 MB quota read 6.7 MB), so the camera's directory stays within its quota.
            pending = await asyncio.to_thread(self._unindexed_bytes, file.camera_id)
            await self.housekeeper.retain(
                file.camera_id,
                Limits.of(camera),
                reserve_bytes=pending + segment.size_bytes * 2,
            )
        return segment

    def _unindexed_bytes(self, camera_id: str) -> int:
        """Bytes of `camera_id`'s files in the hot tier that the index does not count yet."""
        total = 0
        for path in self.hot.path_for(camera_id).rglob("*"):
            with contextlib.suppress(OSError):
                if path.is_file():
                    total += path.stat().st_size
        return max(0, total - self.index.bytes_for(camera_id, HOT))

    async def state(
        self, camera_id: str, state: RecorderState, message: str, gap: Gap | None
    ) -> None:
        """Report a recorder's state change (a full disk under the spool must not stop it)."""
        try:
            await wire.recorder_changed(self._outbox, camera_id, state, message, gap)
        except (sqlite3.Error, OSError) as exc:
            log.error("cannot spool the recorder state of %s (%s): %s", camera_id, exc, message)

    async def crashed(self, camera_id: str, reason: str) -> None:
        """A recorder died; if the disk is the reason, make room before it restarts."""
        async with self._lock:
            floor = max(self.settings.min_free_bytes, 4 * max(self._last_size.values(), default=0))
            result = await self.housekeeper.free_space(HOT, floor)
        if result.deleted or result.exhausted:
            await self._disk_warning(result.deleted, result.freed_bytes, result.exhausted)

    # ----- housekeeping ---------------------------------------------------------------------

    async def housekeeping(self) -> None:
        """Retention per camera, the free-space floor per tier, tier moves, retried events."""
        await self.store.retry()
        for camera in self._assignment.assignment.cameras:
            await self.housekeeper.retain(camera.camera_id, Limits.of(camera))
        async with self._lock:
            deleted = freed = 0
            exhausted = False
            for tier in self.store.tiers:
                result = await self.housekeeper.free_space(tier)
                deleted += result.deleted
                freed += result.freed_bytes
                exhausted = exhausted or (result.exhausted and tier == HOT)
        if deleted or exhausted or self._disk_error:
            await self._disk_warning(deleted, freed, exhausted)
        # Under the lock: a deletion must not slip between a move's copy and its index update.
        async with self._lock:
            await self.housekeeper.move_old()
        # Uploads run outside the lock (it guards only each segment's switch to its object).
        await self.cold.move_old()

    async def _disk_warning(self, deleted: int, freed: int, exhausted: bool) -> None:
        """Tell the control plane, per recording camera, that the disk is (or was) short."""
        if exhausted:
            message = (
                f"disk full: less than {self.settings.min_free_bytes} bytes free and no "
                "segment left to delete"
            )
            state = RecorderState.ERROR
            if self._disk_error:
                return  # said already
        elif deleted:
            message = f"disk space low: deleted the {deleted} oldest segments ({freed} bytes)"
            state = RecorderState.RECORDING
        elif self._disk_error:
            message, state = "disk space recovered", RecorderState.RECORDING
        else:
            return
        self._disk_error = exhausted
        for camera_id in list(self.recorders):
            await self.state(camera_id, state, message, None)

    # ----- requests from the control plane --------------------------------------------------

    async def delete_requested(self, segment_ids: list[str]) -> int:
        """DeleteSegments: delete the files and rows of known ids (unknown ones are ignored);
        how many were deleted."""
        deleted = 0
        for segment_id in segment_ids:
            async with self._lock:
                segment = await asyncio.to_thread(self.index.get, segment_id)
                if segment is None:
                    log.info(
                        "asked to delete segment %s, which this node does not have", segment_id
                    )
                    continue
                deleted += await self.store.delete(segment, DELETED_BY_REQUEST)
        return deleted
