"""Ladders on demand: a camera's ladder ffmpeg starts on the first signed request for its
ladder and stops once nobody has asked for it for `idle_s` (a player polls its media playlist
every segment, so a watched ladder never idles), when the stream ends, or when the camera's
ladder changes. A camera nobody watches costs no transcoding, unless it is pinned: a camera
recording a profile equal to one of its rungs (node_agent.recording.manager) keeps its ladder
running, and its recorder records that rung's output (rung_output) instead of encoding again.

Invariants (tests/e2e/test_ladder.py):
- At most one ladder ffmpeg per camera; a changed ladder or stream key stops the old one first.
- A ladder that failed is not started again for `retry_s`, however often players ask.
- stop() ends every ladder's ffmpeg by its PID.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from pathlib import Path

from node_agent.assignment import CurrentAssignment
from node_agent.ladder.plan import SOURCE
from node_agent.ladder.process import LadderProcess, LadderSettings
from node_agent.streams import StreamTracker
from node_agent.tasks import cancel_and_wait

log = logging.getLogger(__name__)


def offers_ladder(ladder: tuple[str, ...]) -> bool:
    """Whether a ladder is more than the source alone (which nginx's own HLS already is)."""
    return any(r != SOURCE for r in ladder)


class LadderManager:
    """The running ladders of this node, started by demand."""

    def __init__(
        self,
        settings: LadderSettings,
        assignment: CurrentAssignment,
        streams: StreamTracker,
        idle_s: float = 30.0,
        retry_s: float = 5.0,
    ) -> None:
        self.settings = settings
        self._assignment = assignment
        self._streams = streams
        self.idle_s = idle_s
        self.retry_s = retry_s
        self.ladders: dict[str, LadderProcess] = {}
        # Cameras whose ladder runs whether or not anyone watches (a recorder takes a rung).
        self.pinned: frozenset[str] = frozenset()
        self._lock = asyncio.Lock()
        self._sweeper: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Sweep idle and stale ladders in the background."""
        self.settings.root.mkdir(parents=True, exist_ok=True)
        self.settings.root.chmod(0o755)
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="ladder-sweep")

    def _wanted(self, camera_id: str) -> tuple[str, tuple[str, ...]] | None:
        """(stream key, ladder) of a live camera whose ladder has a rung to make."""
        camera = self._assignment.camera(camera_id)
        live = self._streams.by_camera(camera_id)
        if camera is None or live is None or live.end_reason or not offers_ladder(camera.ladder):
            return None
        return live.stream_key, camera.ladder

    async def demand(self, camera_id: str, wait_s: float = 0.0) -> bool:
        """A player asked for the camera's ladder: run it if it should run; with `wait_s`,
        wait that long for its master playlist. True when the ladder is ready."""
        async with self._lock:
            process = await self._ensure(camera_id)
        if process is None:
            return False
        process.last_demand = time.monotonic()
        if wait_s > 0 and not process.ready.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    ready = asyncio.ensure_future(process.ready.wait())
                    ended = asyncio.ensure_future(process.ended.wait())
                    try:
                        await asyncio.wait({ready, ended}, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        ready.cancel()
                        ended.cancel()
            # Idle counts from the answer, not the question: a ladder slow to start (32 cold
            # at once on two cores) was stopped as unwatched 5 s after its viewer's wait ran
            # out, and started cold again by the viewer's next try (114 starts in 4 minutes).
            process.last_demand = time.monotonic()
        return process.ready.is_set()

    async def _ensure(self, camera_id: str) -> LadderProcess | None:
        wanted = self._wanted(camera_id)
        current = self.ladders.get(camera_id)
        if current is not None:
            same = wanted == (current.stream_key, current.ladder)
            if same and not current.ended.is_set():
                return current
            if same and time.monotonic() - current.ended_at < self.retry_s:
                return current  # it failed a moment ago: not again at once
            await current.stop()
            del self.ladders[camera_id]
        if wanted is None:
            return None
        process = LadderProcess(camera_id, wanted[0], wanted[1], self.settings)
        self.ladders[camera_id] = process
        process.start()
        return process

    def pin(self, camera_ids: Iterable[str]) -> None:
        """Keep exactly these cameras' ladders running (the next sweep starts them)."""
        self.pinned = frozenset(camera_ids)

    def rung_output(self, camera_id: str, rung: str) -> tuple[str, Path | None]:
        """Where the camera's `rung` is written: ("ready", its playlist), ("starting", None)
        while the ladder has not planned its rungs yet (a pinned one is started by the next
        sweep), or ("none", None) when it makes no such rung (skipped for this source, or the
        source could not be probed)."""
        process = self.ladders.get(camera_id)
        if process is None:
            return ("starting", None) if camera_id in self.pinned else ("none", None)
        if process.plan is None:
            return ("none", None) if process.ended.is_set() else ("starting", None)
        for i, made in enumerate(process.plan.rungs):
            if made.name == rung:
                # ffmpeg's `-var_stream_map` numbers the rungs' playlists in the plan's order.
                return "ready", process.out_dir / f"v{i}.m3u8"
        return "none", None

    def failure(self, camera_id: str) -> str:
        """Why the camera's ladder is not playing ("" when it is or was never asked for)."""
        process = self.ladders.get(camera_id)
        return process.failure if process is not None else ""

    async def sweep(self) -> None:
        """Stop ladders nobody asked for lately, whose stream ended or whose ladder changed."""
        async with self._lock:
            now = time.monotonic()
            for camera_id, process in list(self.ladders.items()):
                wanted = self._wanted(camera_id)
                idle = now - process.last_demand > self.idle_s and camera_id not in self.pinned
                if idle or wanted != (process.stream_key, process.ladder):
                    await process.stop()
                    del self.ladders[camera_id]
                    log.info(
                        "camera %s: ladder stopped (%s)",
                        camera_id,
                        "nobody watched it" if idle else "its stream or ladder changed",
                    )
            # A pinned ladder runs without a viewer (and comes back after a failure, no
            # sooner than retry_s).
            for camera_id in sorted(self.pinned):
                await self._ensure(camera_id)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                await self.sweep()
            except Exception:
                log.exception("sweeping the ladders failed")

    async def stop(self) -> None:
        """End every ladder's ffmpeg."""
        if self._sweeper is not None:
            await cancel_and_wait([self._sweeper])
            self._sweeper = None
        async with self._lock:
            await asyncio.gather(*(p.stop() for p in self.ladders.values()))
            self.ladders.clear()
